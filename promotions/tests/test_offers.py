"""promotions.offers: the live snapshot (read from precompiled SQL) is what the ORM reads."""
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from catalog.tests import factories as f
from promotions import offers
from promotions.models import Promotion

from .factories import PromotionFactory

pytestmark = pytest.mark.django_db


def test_the_live_snapshot_is_the_active_promotions_not_ended_with_their_lists():
    # given promotions ended, ending later, never ending, not started, inactive, each with lists
    now = timezone.now().replace(microsecond=0)
    product, variant = f.ProductFactory(), f.VariantFactory()
    category, brand, value = f.CategoryFactory(), f.BrandFactory(), f.AttributeValueFactory()
    ended = PromotionFactory(name="Ended", ends_at=now - timedelta(seconds=1))
    ending = PromotionFactory(name="Ending", ends_at=now + timedelta(microseconds=500_000), priority=5,
                              value=Decimal("12.50"))
    endless = PromotionFactory(name="Endless", reward=Promotion.Reward.BUY_X_GET_Y, buy_quantity=2, get_quantity=1)
    later = PromotionFactory(name="Later", starts_at=now + timedelta(days=1), countries="fr, de")
    PromotionFactory(name="Off", is_active=False)
    ended.products.add(product)
    ending.products.add(product)
    ending.variants.add(variant)
    endless.categories.add(category)
    endless.brands.add(brand)
    later.attribute_values.add(value)
    reference = Promotion.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), is_active=True)

    with time_machine.travel(now, tick=False):
        # when
        cache.clear()
        snapshot = offers.live()
    # then: the same offers, in the same order, as reading them through the ORM
    assert [offer.name for offer in snapshot.offers] == ["Ending", "Endless", "Later"]
    assert snapshot == offers.read(reference)
    by_name = {offer.name: offer for offer in snapshot.offers}
    assert by_name["Ending"].product_ids == {product.pk} and by_name["Ending"].variant_ids == {variant.pk}
    assert by_name["Ending"].value == Decimal("12.50") and by_name["Ending"].ends_at == ending.ends_at
    assert by_name["Endless"].category_ids == {category.pk} and by_name["Endless"].brand_ids == {brand.pk}
    assert by_name["Later"].attribute_value_ids == {value.pk} and by_name["Later"].countries == {"FR", "DE"}

    # and half a second on, the one ending then is gone (`ends_at` is the first moment it no longer applies)
    with time_machine.travel(now + timedelta(microseconds=500_000), tick=False):
        cache.clear()
        assert [offer.name for offer in offers.live().offers] == ["Endless", "Later"]
