"""Cache invalidation only: a committed change bumps the versions of what shows it.

What each change bumps is decided in catalog/invalidation.py; writers that bypass these signals
(`QuerySet.update()`, bulk writes) call it themselves.
"""
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from . import invalidation, models
from .cache import bump_catalog_version_on_commit

# Shown on many pages at once (menus, breadcrumbs, facet names, brand names on cards, the stock
# per location): a change bumps the structure version, which every page depends on.
STRUCTURE = (
    models.Category,
    models.Brand,
    models.Option,
    models.OptionValue,
    models.Attribute,
    models.AttributeValue,
    models.Location,
)


def _structure_changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loading fixtures
        return
    bump_catalog_version_on_commit()


for model in STRUCTURE:
    post_save.connect(_structure_changed, sender=model, dispatch_uid=f"catalog-version-save-{model.__name__}")
    post_delete.connect(_structure_changed, sender=model, dispatch_uid=f"catalog-version-delete-{model.__name__}")


def _product_id_and_category(instance) -> tuple[int, int | None]:
    """The product a variant, image or stock row belongs to, and its category if already loaded."""
    if isinstance(instance, models.StockLevel):
        variant = instance._state.fields_cache.get("variant")
        if variant is None:
            variant = models.Variant.objects.filter(pk=instance.variant_id).only("product_id").first()
            if variant is None:
                return 0, None
        instance = variant
    product = instance._state.fields_cache.get("product")
    return instance.product_id, (product.category_id if product is not None else None)


@receiver(pre_save, sender=models.Product, dispatch_uid="catalog-version-product-before")
def _product_before_save(sender, instance, raw=False, **kwargs) -> None:
    # A product moved to another category leaves the listings of the old one: note it.
    if raw or instance.pk is None:
        return
    instance._category_before_save = (
        models.Product.objects.filter(pk=instance.pk).values_list("category_id", flat=True).first()
    )


@receiver(post_save, sender=models.Product, dispatch_uid="catalog-version-save-Product")
@receiver(post_delete, sender=models.Product, dispatch_uid="catalog-version-delete-Product")
def _product_changed(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    categories = {instance.category_id, getattr(instance, "_category_before_save", None)} - {None}
    invalidation.products_changed([instance.pk], members=True, assortment=True, categories=categories)


@receiver(post_save, sender=models.Variant, dispatch_uid="catalog-version-save-Variant")
@receiver(post_delete, sender=models.Variant, dispatch_uid="catalog-version-delete-Variant")
@receiver(post_save, sender=models.ProductImage, dispatch_uid="catalog-version-save-ProductImage")
@receiver(post_delete, sender=models.ProductImage, dispatch_uid="catalog-version-delete-ProductImage")
def _variant_or_image_changed(sender, instance, raw=False, **kwargs) -> None:
    # Price, compare-at price, active or not, a picture: the page, the card and where listings
    # sort and filter it.
    if raw:
        return
    product_id, category_id = _product_id_and_category(instance)
    invalidation.products_changed([product_id], categories=None if category_id is None else {category_id})


@receiver(post_save, sender=models.StockLevel, dispatch_uid="catalog-version-save-StockLevel")
@receiver(post_delete, sender=models.StockLevel, dispatch_uid="catalog-version-delete-StockLevel")
def _stock_level_changed(sender, instance, raw=False, **kwargs) -> None:
    # A row saved one by one (the admin, an import): whether the product sold out is not known
    # here, so its card and listings are bumped too. The stock services bump exactly.
    if raw:
        return
    product_id, category_id = _product_id_and_category(instance)
    if product_id:
        invalidation.products_changed([product_id], categories=None if category_id is None else {category_id})


@receiver(m2m_changed, sender=models.Variant.option_values.through, dispatch_uid="catalog-version-variant-options")
def _variant_options_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if reverse:  # an option value's variants changed (rare): whose products is not at hand
        bump_catalog_version_on_commit()
        return
    product_id, category_id = _product_id_and_category(instance)
    invalidation.products_changed([product_id], categories=None if category_id is None else {category_id})


@receiver(m2m_changed, sender=models.Product.attribute_values.through, dispatch_uid="catalog-version-attributes")
def _attributes_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if reverse:
        bump_catalog_version_on_commit()
        return
    invalidation.products_changed([instance.pk], card=False, categories={instance.category_id})
