"""factory_boy factories for the catalog. Build real rows; fake nothing but the network."""
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from catalog import models


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = models.Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    parent = None


class BrandFactory(DjangoModelFactory):
    class Meta:
        model = models.Brand
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class OptionFactory(DjangoModelFactory):
    class Meta:
        model = models.Option
        django_get_or_create = ("slug",)

    name = factory.LazyAttribute(lambda o: o.slug.capitalize())
    slug = factory.Sequence(lambda n: f"option-{n}")


class OptionValueFactory(DjangoModelFactory):
    class Meta:
        model = models.OptionValue
        django_get_or_create = ("option", "slug")

    option = factory.SubFactory(OptionFactory)
    value = factory.LazyAttribute(lambda o: o.slug.upper())
    slug = factory.Sequence(lambda n: f"value-{n}")


class AttributeFactory(DjangoModelFactory):
    class Meta:
        model = models.Attribute
        django_get_or_create = ("slug",)

    name = factory.LazyAttribute(lambda o: o.slug.capitalize())
    slug = factory.Sequence(lambda n: f"attribute-{n}")


class AttributeValueFactory(DjangoModelFactory):
    class Meta:
        model = models.AttributeValue
        django_get_or_create = ("attribute", "slug")

    attribute = factory.SubFactory(AttributeFactory)
    value = factory.LazyAttribute(lambda o: o.slug.capitalize())
    slug = factory.Sequence(lambda n: f"attr-value-{n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = models.Product

    title = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    category = factory.SubFactory(CategoryFactory)
    brand = factory.SubFactory(BrandFactory)
    description = "<p>A good product.</p>"
    status = models.Product.Status.ACTIVE


class VariantFactory(DjangoModelFactory):
    class Meta:
        model = models.Variant
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("25.00")

    @factory.post_generation
    def option_values(self, create, extracted, **kwargs):
        if create and extracted:
            self.option_values.add(*extracted)


class LocationFactory(DjangoModelFactory):
    class Meta:
        model = models.Location
        django_get_or_create = ("code",)

    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())
    code = factory.Sequence(lambda n: f"location-{n}")
    kind = models.Location.Kind.WAREHOUSE


class StockLevelFactory(DjangoModelFactory):
    class Meta:
        model = models.StockLevel
        skip_postgeneration_save = True

    variant = factory.SubFactory(VariantFactory)
    location = factory.SubFactory(LocationFactory)
    on_hand = 10
    reserved = 0

    @factory.post_generation
    def opening_balance(level, create, extracted, **kwargs):
        # Stock made for a test starts in the ledger as real stock does (inventory 0001), so the
        # ledger check holds after tests that then move it through the services.
        if create and level.on_hand:
            from inventory.models import Reason, StockMovement

            StockMovement.objects.create(variant_id=level.variant_id, location_id=level.location_id,
                                         quantity=level.on_hand, reason=Reason.OPENING)


def product_with_stock(*, price: Decimal = Decimal("25.00"), on_hand: int = 10, **product_fields) -> models.Product:
    """An active product with one variant holding `on_hand` units in a warehouse."""
    product = ProductFactory(**product_fields)
    variant = VariantFactory(product=product, price=price)
    StockLevelFactory(variant=variant, location=LocationFactory(code="warehouse"), on_hand=on_hand)
    return product
