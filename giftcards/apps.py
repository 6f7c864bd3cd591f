from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GiftCardsConfig(AppConfig):
    name = "giftcards"
    verbose_name = _("Gift cards")

    def ready(self) -> None:
        from django.core.cache import cache
        from django.db.models.signals import post_delete, post_save

        from .models import GiftCardProduct
        from .selectors import PRODUCT_IDS_CACHE_KEY

        def forget_product_ids(instance, **kwargs) -> None:  # cache invalidation only
            from catalog.invalidation import products_changed

            cache.delete(PRODUCT_IDS_CACHE_KEY)
            # Its product page says "in stock" for a gift card whatever its stock (giftcards/digital.py).
            products_changed([instance.product_id], card=False, listings=False)

        post_save.connect(forget_product_ids, sender=GiftCardProduct, weak=False,
                          dispatch_uid="giftcards.forget_product_ids.save")
        post_delete.connect(forget_product_ids, sender=GiftCardProduct, weak=False,
                            dispatch_uid="giftcards.forget_product_ids.delete")
