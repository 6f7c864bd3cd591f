"""Sale labels and prices on product cards (category, search, home, related products), from the
engine checkout prices with, on pages the shared cache serves to everyone.

The shared page cache must stay warm: a promotion starting or ending on schedule changes only the
pages that show its products (their entries are kept only until that moment, and beat bumps those
products' cards and listings), and no cached page shows a label past its end.
"""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog import versions
from catalog.tests import factories as f
from catalog.tests.test_query_budgets import BUDGET
from customers.models import Segment
from promotions import offers
from promotions.labels import bump_due_labels
from promotions.models import Promotion

from .factories import CodeFactory, PromotionFactory

pytestmark = pytest.mark.django_db


def cards(response) -> dict[str, str]:
    """Each product card's HTML by the product's title."""
    html = response.content.decode()
    found = re.findall(r'<article class="product-card[^"]*">.*?</article>', html, re.S)
    return {re.search(r'<h3 class="product-card-title">(.*?)</h3>', card).group(1): card for card in found}


def price_of(card: str) -> tuple[str, str]:
    """(the price shown, the struck-through one or "")."""
    current = re.search(r'<span class="price-current">(.*?)</span>', card).group(1)
    was = re.search(r'<s class="price-was"><span class="visually-hidden">was</span>(.*?)</s>', card)
    return current, was.group(1) if was else ""


@pytest.fixture
def clock_cache(settings):
    """A cache whose entries expire by the test's clock (time_machine); Redis expires by its own."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "promotions-card-labels"}}
    cache.clear()


@pytest.fixture
def jackets_sale(storefront_catalog):
    """15% off the jackets category (Storm Shell in rain below it, Harbour Parka in it), for everyone."""
    sale = PromotionFactory(name="Jacket days", value=Decimal("15"))
    sale.categories.add(storefront_catalog.jackets)
    return sale


def test_cards_show_the_label_and_the_price_checkout_charges_on_every_kind_of_page(client, storefront_catalog,
                                                                                  jackets_sale):
    drizzle = f.ProductFactory(title="Drizzle Jacket", slug="drizzle", category=storefront_catalog.rain)
    f.StockLevelFactory(variant=f.VariantFactory(product=drizzle, price=Decimal("50.00")),
                        location=storefront_catalog.warehouse, on_hand=4)
    pages = {
        "category": client.get("/c/clothing/"),
        "search": client.get("/search/?q=shell"),
        "home": client.get("/"),
        "related": client.get("/p/drizzle/"),  # "more from this category"
    }
    for name, response in pages.items():
        shell = cards(response).get("Storm Shell")
        assert shell is not None, name
        assert '<span class="badge badge-sale badge-promotion">15% off</span>' in shell, name
        # 120.00 and 130.00 less 15%: from 102.00, the shelf price struck through
        assert price_of(shell) == ("$102.00", "$120.00"), name
        assert 'class="price-from"' in shell, name
    listing = cards(pages["category"])
    # The parka was 250, is 200 on the shelf, and 170 after the promotion: the higher "was" stays.
    assert price_of(listing["Harbour Parka"]) == ("$170.00", "$250.00")
    # Not in the category: no label, the shelf price.
    assert "badge-promotion" not in listing["Trail Tee"] and price_of(listing["Trail Tee"]) == ("$20.00", "")


@pytest.mark.parametrize("combine", [False, True])
def test_the_card_shows_what_checkout_gives_when_promotions_do_not_combine(client, storefront_catalog, combine):
    # A 15% sale and a later 3-for-2 on the shell: together only if each combines with product discounts.
    PromotionFactory(name="Jacket days", value=Decimal("15"), combines_with_product=combine).categories.add(
        storefront_catalog.jackets)
    PromotionFactory(name="Shell 3 for 2", reward=Promotion.Reward.BUY_X_GET_Y, buy_quantity=2, get_quantity=1,
                     value=Decimal(100), priority=200, combines_with_product=combine).products.add(
        storefront_catalog.shell)
    shell = cards(client.get("/c/clothing/jackets/"))["Storm Shell"]
    assert "15% off" in shell
    assert ("Buy 2, get 1 free" in shell) is combine  # checkout refuses the 3-for-2 when they do not combine
    assert price_of(shell)[0] == "$102.00"  # one unit: the 3-for-2 needs three


def test_a_code_only_promotion_shows_no_automatic_label(client, storefront_catalog):
    code = CodeFactory(code="JACKETS50", promotion__value=Decimal("50"))
    code.promotion.categories.add(storefront_catalog.jackets)
    shell = cards(client.get("/c/clothing/"))["Storm Shell"]
    assert "badge-promotion" not in shell and "50% off" not in shell
    assert price_of(shell) == ("$120.00", "")


@pytest.mark.parametrize("condition", [
    {"signed_in_only": True},
    {"first_order_only": True},
    {"countries": "FR"},
    {"min_subtotal": Decimal("10")},
    "segment",
])
def test_a_promotion_for_some_shoppers_only_never_enters_the_shared_page(client, django_user_model,
                                                                          storefront_catalog, condition):
    if condition == "segment":
        condition = {"segment": Segment.objects.create(name="Has an account", kind=Segment.Kind.RULES, has_account=True)}
    PromotionFactory(name="Members", value=Decimal("30"), **condition).categories.add(storefront_catalog.jackets)
    # given a signed-in customer (who may be in the segment, ordering for the first time) renders the page first
    user = django_user_model.objects.create_user(username="ada", email="ada@example.com", password="x")
    client.force_login(user)
    first = client.get("/c/clothing/")
    assert first["X-Cache"] == "miss"
    # then neither they nor an anonymous visitor served from the cache see it as if it applied to everyone
    client.logout()
    again = client.get("/c/clothing/")
    assert again["X-Cache"] == "hit"
    for response in (first, again):
        shell = cards(response)["Storm Shell"]
        assert "30% off" not in shell and price_of(shell) == ("$120.00", "")


def test_a_promotion_starting_on_schedule_changes_only_its_pages_without_waiting_for_beat(client, clock_cache,
                                                                                           storefront_catalog):
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=5)
    PromotionFactory(name="Gear week", value=Decimal("20"), starts_at=start).categories.add(storefront_catalog.gear)
    with time_machine.travel(start - timedelta(minutes=4), tick=False):
        gear = client.get("/c/gear/")
        shirts = client.get("/c/clothing/shirts/")
        assert "badge-promotion" not in cards(gear)["Camp Lamp"]
    with time_machine.travel(start - timedelta(seconds=1), tick=False):
        assert client.get("/c/gear/")["X-Cache"] == "hit"  # warm until the start
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        gear = client.get("/c/gear/")
        assert gear["X-Cache"] == "miss"
        lamp = cards(gear)["Camp Lamp"]
        assert "20% off" in lamp and price_of(lamp) == ("$28.00", "$35.00")
        # a page not showing its products stays warm
        assert shirts["X-Cache"] == "miss" and client.get("/c/clothing/shirts/")["X-Cache"] == "hit"


def test_a_label_is_never_served_after_its_promotion_ended(client, clock_cache, storefront_catalog):
    end = timezone.now().replace(microsecond=0) + timedelta(minutes=5)
    PromotionFactory(name="Gear week", value=Decimal("20"), ends_at=end).categories.add(storefront_catalog.gear)
    with time_machine.travel(end - timedelta(minutes=4), tick=False):
        assert "20% off" in cards(client.get("/c/gear/"))["Camp Lamp"]
        assert "20% off" in cards(client.get("/"))["Camp Lamp"]
        client.get("/c/clothing/shirts/")
    with time_machine.travel(end - timedelta(seconds=1), tick=False):
        assert client.get("/c/gear/")["X-Cache"] == "hit"
    with time_machine.travel(end, tick=False):  # ended: `ends_at` is the first moment it no longer applies
        for url in ("/c/gear/", "/"):
            response = client.get(url)
            assert response["X-Cache"] == "miss", url
            lamp = cards(response)["Camp Lamp"]
            assert "20% off" not in lamp and price_of(lamp) == ("$35.00", ""), url
        assert client.get("/c/clothing/shirts/")["X-Cache"] == "hit"


def test_beat_bumps_the_cards_and_listings_of_exactly_the_products_a_promotion_starting_covers(
        storefront_catalog, django_capture_on_commit_callbacks):
    start = timezone.now() + timedelta(minutes=5)
    PromotionFactory(name="Gear week", value=Decimal("20"), starts_at=start).categories.add(storefront_catalog.gear)
    lamp, tee = storefront_catalog.lamp, storefront_catalog.tee
    watched = [versions.card_key(lamp.pk), versions.listing_key(lamp.category_id), versions.product_key(lamp.pk),
               versions.card_key(tee.pk), versions.listing_key(tee.category_id),
               versions.listing_key(tee.category.parent_id), versions.VERSION_KEY]
    versions.bump(watched)
    before = cache.get_many(watched)
    cache.set("promotions:labels:checked", start - timedelta(minutes=1), None)

    with django_capture_on_commit_callbacks(execute=True):
        assert bump_due_labels(now=start + timedelta(seconds=30)) == 1

    after = cache.get_many(watched)
    changed = {key for key in watched if after[key] != before[key]}
    assert changed == {versions.card_key(lamp.pk), versions.listing_key(lamp.category_id),
                       versions.product_key(lamp.pk)}


def test_staff_moving_a_promotion_to_other_products_moves_the_labels(admin_app, storefront_catalog,
                                                                    django_capture_on_commit_callbacks):
    sale = PromotionFactory(name="Lamp days", value=Decimal("10"))
    sale.products.add(storefront_catalog.lamp)
    assert "10% off" in cards(admin_app.get("/c/gear/"))["Camp Lamp"]
    assert "10% off" not in cards(admin_app.get("/c/clothing/shirts/"))["Trail Tee"]
    assert admin_app.get("/c/clothing/shirts/").headers["X-Cache"] == "hit"

    # when staff swap the lamp for the tee on the promotion's page, as a browser submits it
    form = admin_app.get(f"/admin/promotions/promotion/{sale.pk}/change/").forms["promotion_form"]
    form["products"].force_value([str(storefront_catalog.tee.pk)])
    with django_capture_on_commit_callbacks(execute=True):
        assert form.submit("_save").status_code == 302

    # then both listings render again, the label moved
    gear, shirts = admin_app.get("/c/gear/"), admin_app.get("/c/clothing/shirts/")
    assert (gear.headers["X-Cache"], shirts.headers["X-Cache"]) == ("miss", "miss")
    assert "10% off" not in cards(gear)["Camp Lamp"]
    assert "10% off" in cards(shirts)["Trail Tee"] and price_of(cards(shirts)["Trail Tee"]) == ("$18.00", "$20.00")


def _cold_count(client, url: str) -> int:
    cache.clear()
    offers.live()  # the live promotions are shared by every page: cached, as on any busy store
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200 and response["X-Cache"] == "miss", url
    return len(captured)


@pytest.mark.parametrize("variant_level", [False, True])
def test_pages_keep_their_query_budget_with_five_promotions_live(client, storefront_catalog, variant_level):
    catalog = storefront_catalog
    PromotionFactory(name="Jackets", value=Decimal("15")).categories.add(catalog.jackets)
    PromotionFactory(name="Summit", reward=Promotion.Reward.FIXED_LINES, value=Decimal("5")).brands.add(catalog.summit)
    PromotionFactory(name="3 for 2", reward=Promotion.Reward.BUY_X_GET_Y, buy_quantity=2, get_quantity=1,
                     value=Decimal(100)).products.add(catalog.tee)
    PromotionFactory(name="Members", signed_in_only=True, value=Decimal(30))
    CodeFactory(code="ALL10")
    if variant_level:  # needs each card's variants: one query more for all the cards of a page
        PromotionFactory(name="Red shell", value=Decimal("5"), exclude_sale_items=True).variants.add(
            catalog.shell_red_s)
    for url, budget in (("/", "home"), ("/c/clothing/", "category"), ("/search/?q=shell", "search")):
        # the page's budget (one query more than before cards had labels: the live promotions, cached here)
        assert _cold_count(client, url) <= BUDGET[budget] - 1 + variant_level, url


def test_a_public_promotion_used_up_by_an_order_leaves_the_cards_at_once(client, storefront_catalog,
                                                                         django_capture_on_commit_callbacks):
    import uuid

    from orders.services import PlacementLine, place_order
    from orders.tests.test_admin import ADDRESS, DELIVERY
    from promotions.selectors import Shopper
    from promotions.services import discounter_for

    PromotionFactory(name="First lamp", value=Decimal("20"), usage_limit=1).products.add(storefront_catalog.lamp)
    assert "20% off" in cards(client.get("/c/gear/"))["Camp Lamp"]
    lamp = storefront_catalog.lamp.variants.get()

    # when an order takes its only use
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(lines=[PlacementLine(lamp.pk, 1)], email="ada@example.com", customer_name="Ada",
                            idempotency_key=uuid.uuid4().hex, shipping=DELIVERY, shipping_address=ADDRESS,
                            discounter=discounter_for(shopper=Shopper(email="ada@example.com"), code="",
                                                      shipping=DELIVERY.price))
    assert order.discount_total == Decimal("7.00")

    # then the listing renders again without it (checkout would not give it any more)
    response = client.get("/c/gear/")
    assert response["X-Cache"] == "miss"
    assert "20% off" not in cards(response)["Camp Lamp"] and price_of(cards(response)["Camp Lamp"]) == ("$35.00", "")
