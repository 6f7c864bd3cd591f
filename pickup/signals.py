"""Cache invalidation only: the product pages and checkout show the shops' hours and address.

Shop details are cached under the catalog's structure version (selectors.shop_directory), which a
change to a Location already bumps; a change to hours or instructions bumps it too.
"""
from django.db.models.signals import post_delete, post_save

from catalog.cache import bump_catalog_version_on_commit

from .models import OpeningHours, PickupShop


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    bump_catalog_version_on_commit()


for model in (PickupShop, OpeningHours):
    post_save.connect(_changed, sender=model, dispatch_uid=f"pickup-version-save-{model.__name__}")
    post_delete.connect(_changed, sender=model, dispatch_uid=f"pickup-version-delete-{model.__name__}")
