"""Sale labels on product pages: shown from the engine's offers, and a promotion starting on
schedule bumps the pages of exactly the products it is about."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from catalog import versions
from catalog.tests import factories as f
from promotions.labels import bump_due_labels
from promotions.models import Promotion

from .factories import PromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(db):
    shirts = f.CategoryFactory(name="Shirts", slug="shirts")
    mugs = f.CategoryFactory(name="Mugs", slug="mugs")
    location = f.LocationFactory(code="warehouse")
    shirt = f.ProductFactory(title="Oxford shirt", slug="oxford", category=shirts, status="active")
    mug = f.ProductFactory(title="Mug", slug="mug", category=mugs, status="active")
    for product in (shirt, mug):
        f.StockLevelFactory(variant=f.VariantFactory(product=product, price=Decimal("20.00")), location=location,
                            on_hand=5)
    return shirt, mug


def test_the_product_page_shows_public_promotions_only(client, products):
    shirt, mug = products
    sale = PromotionFactory(name="Shirt days", value=Decimal("15"), combines_with_product=True)
    sale.categories.add(shirt.category)
    PromotionFactory(name="Members", signed_in_only=True, value=Decimal(30)).products.add(shirt)
    PromotionFactory(name="3 for 2", reward=Promotion.Reward.BUY_X_GET_Y, buy_quantity=2, get_quantity=1,
                     value=Decimal(100), combines_with_product=True).products.add(shirt)
    page = client.get("/p/oxford/").content.decode()
    assert "15% off</span> Shirt days" in page and "Buy 2, get 1 free</span> 3 for 2" in page
    assert "Members" not in page
    assert "Shirt days" not in client.get("/p/mug/").content.decode()


def test_a_promotion_starting_on_schedule_bumps_only_its_products_pages(client, products,
                                                                      django_capture_on_commit_callbacks):
    shirt, mug = products
    starts = timezone.now() + timedelta(minutes=5)
    sale = PromotionFactory(name="Shirt days", value=Decimal("15"), starts_at=starts)
    sale.categories.add(shirt.category)
    assert "Shirt days" not in client.get("/p/oxford/").content.decode()
    cache.set("promotions:labels:checked", starts - timedelta(minutes=1), None)
    before = cache.get_many([versions.product_key(shirt.pk), versions.product_key(mug.pk)])

    with django_capture_on_commit_callbacks(execute=True):
        assert bump_due_labels(now=starts + timedelta(seconds=30)) == 1
        assert bump_due_labels(now=starts + timedelta(seconds=90)) == 0  # a second run finds nothing new

    after = cache.get_many([versions.product_key(shirt.pk), versions.product_key(mug.pk)])
    assert after[versions.product_key(shirt.pk)] != before.get(versions.product_key(shirt.pk))
    assert after.get(versions.product_key(mug.pk)) == before.get(versions.product_key(mug.pk))
