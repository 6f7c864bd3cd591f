"""A demo store product whose stock staff moved to one shop, for the online availability tests
(catalog, checkout): the demo data as `demo_catalog` seeds it, changed only as staff change it."""
from __future__ import annotations

from dataclasses import dataclass

from catalog.models import Location, Product, StockLevel, Variant
from catalog.selectors import category_tree
from catalog.services import StockChange, set_stock_levels


@dataclass
class ShopOnly:
    product: Product
    variant: Variant  # the one variant with units: `units` at `shop`, none anywhere else
    shop: Location
    units: int

    @property
    def url(self) -> str:
        """The product page with `variant` chosen, as the picker links it."""
        choice = "&".join(f"{value.option.slug}={value.slug}" for value in self.variant.option_values.all())
        return f"{self.product.get_absolute_url()}?{choice}" if choice else self.product.get_absolute_url()

    @property
    def category_url(self) -> str:
        return category_tree().by_id[self.product.category_id].get_absolute_url()


def stocked_only_at(shop_code: str, *, units: int = 4) -> ShopOnly:
    """The first published demo product with nothing reserved, after staff set every one of its
    stock rows to 0 but one variant's at the shop `shop_code` (`units`), through the service the
    stock grid saves with (`set_stock_levels`: ledger written, listings kept right)."""
    shop = Location.objects.get(code=shop_code)
    reserved = StockLevel.objects.filter(reserved__gt=0).values("variant__product_id")
    product = (Product.objects.published().exclude(pk__in=reserved).filter(variants__stock_levels__location=shop)
               .order_by("pk").first())
    assert product is not None, "no demo product is stocked at that shop with nothing reserved"
    variant = Variant.objects.filter(product=product, is_active=True).order_by("position", "pk").first()
    rows = StockLevel.objects.filter(variant__product=product)
    changes = [StockChange(variant_id=row.variant_id, location_id=row.location_id, on_hand=0) for row in rows]
    changes = [change for change in changes if (change.variant_id, change.location_id) != (variant.pk, shop.pk)]
    changes.append(StockChange(variant_id=variant.pk, location_id=shop.pk, on_hand=units))
    set_stock_levels(changes=changes)
    return ShopOnly(product=product, variant=variant, shop=shop, units=units)
