"""Cache invalidation only: any committed change to what the storefront shows bumps the version."""
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from . import models
from .cache import bump_catalog_version_on_commit

WATCHED = (
    models.Category,
    models.Brand,
    models.Option,
    models.OptionValue,
    models.Attribute,
    models.AttributeValue,
    models.Product,
    models.Variant,
    models.ProductImage,
    models.Location,
    models.StockLevel,
)


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loading fixtures
        return
    bump_catalog_version_on_commit()


for model in WATCHED:
    post_save.connect(_changed, sender=model, dispatch_uid=f"catalog-version-save-{model.__name__}")
    post_delete.connect(_changed, sender=model, dispatch_uid=f"catalog-version-delete-{model.__name__}")


@receiver(m2m_changed, sender=models.Variant.option_values.through, dispatch_uid="catalog-version-variant-options")
@receiver(m2m_changed, sender=models.Product.attribute_values.through, dispatch_uid="catalog-version-attributes")
def _m2m_changed(sender, **kwargs) -> None:
    bump_catalog_version_on_commit()
