"""Cache invalidation only: staff changing a promotion or its conditions forgets the cached offers."""
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from . import offers
from .models import Code, Promotion


@receiver(post_save, sender=Promotion)
@receiver(post_delete, sender=Promotion)
@receiver(post_save, sender=Code)
@receiver(post_delete, sender=Code)
def forget_offers(sender, **kwargs) -> None:
    if sender is Code and kwargs.get("update_fields") == frozenset({"uses"}):
        return
    _forget()


def _forget(*args, **kwargs) -> None:
    # Now (this transaction's own next read) and after commit (a read in between by another
    # request may have cached the old rows again).
    offers.forget()
    transaction.on_commit(offers.forget)


for through in (Promotion.products.through, Promotion.variants.through, Promotion.categories.through,
                Promotion.brands.through, Promotion.attribute_values.through):
    m2m_changed.connect(_forget, sender=through, weak=False, dispatch_uid=f"promotions-forget-{through.__name__}")
