"""Segment membership (built-in, rules, manual) and figures, on a hand-built set of customers."""
import importlib
import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.tests.factories import CategoryFactory, VariantFactory
from customers.models import Customer, RFMSegment, Segment
from customers.selectors.segments import segment_customers, segment_figures
from customers.services.stats import refresh_customer_stats
from customers.tests.factories import CustomerFactory, TagFactory
from orders.models import Order
from orders.tests.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


def _order(customer, *, total: str, days_ago: int, variant=None, payment_status=P.PAID,
           fulfilment_status=FS.COMPLETED) -> Order:
    order = OrderFactory(customer=customer, email=customer.email, payment_status=payment_status,
                         fulfilment_status=fulfilment_status, subtotal=Decimal(total), total=Decimal(total))
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    if variant is not None:
        OrderLineFactory(order=order, variant=variant, quantity=1, unit_price=Decimal(total),
                         line_total=Decimal(total))
    return order


@pytest.fixture
def shop():
    """Clothing > Jackets > Rain jackets (hidden from the shop); Outdoor > Tents.

    amy: account, consents, tagged vip; two orders (300.00), the last 5 days ago, a rain jacket.
    bob: guest; one order (40.00) 100 days ago, a tent.
    cal: guest, consents; five orders (600.00), the last 200 days ago, from Clothing itself.
    dee: account; never paid (a cancelled jacket order).
    eli: erased, consents, tagged vip, a big recent buyer of jackets: in no segment, ever.
    """
    clothing = CategoryFactory(name="Clothing")
    jackets = CategoryFactory(name="Jackets", parent=clothing)
    rain = CategoryFactory(name="Rain jackets", parent=jackets, is_active=False)
    outdoor = CategoryFactory(name="Outdoor")
    tents = CategoryFactory(name="Tents", parent=outdoor)
    rain_jacket = VariantFactory(product__category=rain)
    jacket = VariantFactory(product__category=jackets)
    tent = VariantFactory(product__category=tents)
    shirt = VariantFactory(product__category=clothing)
    vip = TagFactory(name="vip")

    amy = CustomerFactory(email="amy@example.com", user=_account(), accepts_marketing=True)
    amy.tags.add(vip)
    _order(amy, total="100.00", days_ago=40)
    _order(amy, total="200.00", days_ago=5, variant=rain_jacket)
    bob = CustomerFactory(email="bob@example.com")
    _order(bob, total="40.00", days_ago=100, variant=tent)
    cal = CustomerFactory(email="cal@example.com", accepts_marketing=True)
    for days in (400, 350, 300, 250):
        _order(cal, total="100.00", days_ago=days)
    _order(cal, total="200.00", days_ago=200, variant=shirt)
    dee = CustomerFactory(email="dee@example.com", user=_account())
    _order(dee, total="80.00", days_ago=3, variant=jacket, fulfilment_status=FS.CANCELLED)
    eli = CustomerFactory(email="eli@example.com", accepts_marketing=True, erased_at=timezone.now(),
                          rfm_segment=RFMSegment.CHAMPIONS)
    eli.tags.add(vip)
    for _ in range(3):
        _order(eli, total="500.00", days_ago=2, variant=jacket)
    refresh_customer_stats()
    Customer.objects.filter(pk=amy.pk).update(rfm_segment=RFMSegment.CHAMPIONS)
    Customer.objects.filter(pk=bob.pk).update(rfm_segment=RFMSegment.LOST)
    return {"clothing": clothing, "jackets": jackets, "outdoor": outdoor, "vip": vip,
            "amy": amy, "bob": bob, "cal": cal, "dee": dee, "eli": eli}


_numbers = itertools.count()


def _account():
    # No password: hashing one (Argon2) would cost more than the rest of the fixture.
    number = next(_numbers)
    return get_user_model().objects.create(username=f"account{number}", email=f"account{number}@example.com")


def _names(segment: Segment) -> set[str]:
    return {email.split("@")[0] for email in segment_customers(segment).values_list("email", flat=True)}


def _rules(**rules) -> Segment:
    return Segment.objects.create(name=f"rules {next(_numbers)}", kind=Segment.Kind.RULES, **rules)


@pytest.mark.parametrize(("rules", "expected"), [
    ({}, {"amy", "bob", "cal", "dee"}),
    ({"min_total_spent": Decimal("300.00")}, {"amy", "cal"}),
    ({"max_total_spent": Decimal("100.00")}, {"bob", "dee"}),
    ({"min_orders": 2}, {"amy", "cal"}),
    ({"no_order_for_days": 30}, {"bob", "cal", "dee"}),  # dee never paid: included
    ({"no_order_for_days": 150}, {"cal", "dee"}),
    ({"ordered_within_days": 30}, {"amy"}),
    ({"ordered_within_days": 120}, {"amy", "bob"}),
    ({"has_marketing_consent": True}, {"amy", "cal"}),
    ({"has_marketing_consent": False}, {"bob", "dee"}),
    ({"has_account": True}, {"amy", "dee"}),
    ({"has_account": False}, {"bob", "cal"}),
    # combinations: every rule that is set must hold
    ({"min_total_spent": Decimal("100.00"), "no_order_for_days": 90}, {"cal"}),
    ({"has_marketing_consent": True, "ordered_within_days": 30, "min_orders": 2}, {"amy"}),
    ({"has_account": True, "has_marketing_consent": False}, {"dee"}),
    ({"min_total_spent": Decimal("50.00"), "max_total_spent": Decimal("350.00")}, {"amy"}),
])
def test_rule(shop, rules, expected):
    assert _names(_rules(**rules)) == expected


def test_bought_from_a_category_includes_its_subcategories_hidden_ones_too(shop):
    # amy's rain jacket is two levels below Clothing, in a hidden category; cal bought from Clothing itself.
    assert _names(_rules(bought_from_category=shop["clothing"])) == {"amy", "cal"}
    assert _names(_rules(bought_from_category=shop["jackets"])) == {"amy"}  # dee's order was cancelled
    assert _names(_rules(bought_from_category=shop["outdoor"])) == {"bob"}
    assert _names(_rules(bought_from_category=shop["clothing"], has_account=False)) == {"cal"}


def test_tag_rule(shop):
    assert _names(_rules(tag=shop["vip"])) == {"amy"}


@pytest.fixture
def built_in_segments():
    """The segments migration 0003 makes (a transactional test elsewhere may have flushed them)."""
    importlib.import_module("customers.migrations.0004_segments").create_segments(global_apps, None)


def test_built_in_segments_follow_the_stored_rfm_segment(shop, built_in_segments):
    champions = Segment.objects.get(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.CHAMPIONS)
    lost = Segment.objects.get(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.LOST)
    assert _names(champions) == {"amy"}  # eli is a champion too, but erased
    assert _names(lost) == {"bob"}


def test_the_migration_creates_the_five_built_in_segments_once(built_in_segments):
    importlib.import_module("customers.migrations.0004_segments").create_segments(global_apps, None)

    assert set(Segment.objects.filter(kind=Segment.Kind.RFM).values_list("rfm_segment", flat=True)) == {
        "champions", "loyal", "new", "at_risk", "lost"}


def test_a_manual_list_holds_its_members_but_never_an_erased_one(shop):
    segment = Segment.objects.create(name="Press", kind=Segment.Kind.MANUAL)
    segment.members.add(shop["amy"], shop["dee"], shop["eli"])
    Segment.objects.create(name="Other list", kind=Segment.Kind.MANUAL).members.add(shop["bob"])

    assert _names(segment) == {"amy", "dee"}


def test_figures_give_size_revenue_and_share_of_everyone_s_lifetime_value(shop, built_in_segments):
    big = _rules(min_total_spent=Decimal("300.00"))
    none = _rules(min_orders=50)
    champions = Segment.objects.get(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.CHAMPIONS)

    figures = segment_figures([big, none, champions])

    # Every customer's lifetime value: amy 300 + bob 40 + cal 600 + eli (erased) 1500 = 2440.
    assert figures[big.pk].size == 2
    assert figures[big.pk].revenue == Decimal("900.00")
    assert figures[big.pk].revenue_share == Decimal("0.3689")
    assert (figures[none.pk].size, figures[none.pk].revenue, figures[none.pk].revenue_share) == (0, 0, 0)
    assert figures[champions.pk].size == 1 and figures[champions.pk].revenue == Decimal("300.00")


def test_figures_cost_the_same_queries_for_three_segments_as_for_ten(shop, django_assert_num_queries):
    def make(n):
        segments = []
        for i in range(n):
            kind = i % 3
            if kind == 0:
                segments.append(_rules(min_orders=i, bought_from_category=shop["clothing"]))
            elif kind == 1:
                manual = Segment.objects.create(name=f"list {next(_numbers)}", kind=Segment.Kind.MANUAL)
                manual.members.add(shop["bob"])
                segments.append(manual)
            else:
                segments.append(_rules(tag=shop["vip"], min_total_spent=Decimal(i)))
        return segments

    three, ten = make(3), make(10)
    # One read of the category table (a segment has a category rule) and one aggregate query.
    with django_assert_num_queries(2):
        small = segment_figures(three)
    with django_assert_num_queries(2):
        large = segment_figures(ten)
    assert len(small) == 3 and len(large) == 10
    assert large[ten[1].pk].size == 1
