"""Promotions in the CRM: on the customer's timeline ("used code X" / "promotion Y applied") and as
a segment rule ("used promotion Y" / "used code X")."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from customers.models import Segment
from customers.selectors.crm import customer_timeline
from customers.selectors.segments import segment_customers, segment_figures
from customers.tests.factories import CustomerFactory, paid_order_for
from orders.models import Order
from promotions.models import Promotion, Redemption

from .factories import CodeFactory, PromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def used():
    """Ada used code TAKE5 and got the automatic sale; Bob got only the sale; Cy used TAKE5 on an
    order that expired unpaid (given back); Di used TAKE5 on an order refunded in full."""
    sale = PromotionFactory(name="Winter sale")
    code = CodeFactory(code="TAKE5", promotion=PromotionFactory(name="Five off", trigger=Promotion.Trigger.CODE))
    people = {name: CustomerFactory(email=f"{name}@example.com") for name in ("ada", "bob", "cy", "di")}

    def redeem(order, promotion, *, code=None, amount="5.00", **fields):
        return Redemption.objects.create(promotion=promotion, code=code, order=order, customer=order.customer,
                                         email=order.email, amount=Decimal(amount), **fields)

    ada = paid_order_for(people["ada"])
    redeem(ada, code.promotion, code=code)
    redeem(ada, sale, amount="3.20")
    redeem(paid_order_for(people["bob"]), sale)
    expired, refunded = paid_order_for(people["cy"]), paid_order_for(people["di"])
    Order.objects.filter(pk=expired.pk).update(payment_status=Order.PaymentStatus.UNPAID, paid_at=None,
                                               fulfilment_status=Order.FulfilmentStatus.EXPIRED)
    Order.objects.filter(pk=refunded.pk).update(payment_status=Order.PaymentStatus.REFUNDED)
    redeem(expired, code.promotion, code=code, released_at=timezone.now())
    redeem(refunded, code.promotion, code=code)
    return sale, code, people, ada


def test_the_timeline_says_which_code_and_promotion_each_order_used(used, django_assert_num_queries):
    sale, code, people, order = used

    with django_assert_num_queries(6):
        timeline = customer_timeline(customer=people["ada"])

    promotions = sorted((entry.title, entry.detail) for entry in timeline if entry.kind == "promotion")
    assert promotions == [(f"{order.number}: promotion Winter sale applied", "$3.20 off"),
                          (f"{order.number}: used code TAKE5 (Five off)", "$5.00 off")]
    assert all(entry.url.endswith(f"/orders/order/{order.pk}/change/") for entry in timeline if entry.kind == "promotion")
    [given_back] = [e for e in customer_timeline(customer=people["cy"]) if e.kind == "promotion"]
    assert given_back.detail == "$5.00 off · given back: the order was not paid"


def test_a_segment_of_who_used_a_promotion_or_a_code_counts_paid_orders_only(used):
    sale, code, people, _ = used
    by_promotion = Segment.objects.create(name="Sale buyers", kind=Segment.Kind.RULES, used_promotion=sale)
    by_code = Segment.objects.create(name="TAKE5", kind=Segment.Kind.RULES, used_code="TAKE5")
    both = Segment.objects.create(name="Both", kind=Segment.Kind.RULES, used_promotion=sale, used_code="TAKE5")

    emails = lambda segment: {c.email for c in segment_customers(segment)}  # noqa: E731
    assert emails(by_promotion) == {"ada@example.com", "bob@example.com"}
    assert emails(by_code) == {"ada@example.com"}  # not the expired order's, not the refunded one's
    assert emails(both) == {"ada@example.com"}
    figures = segment_figures([by_promotion, by_code, both])
    assert [figures[s.pk].size for s in (by_promotion, by_code, both)] == [2, 1, 1]


def test_staff_type_the_code_as_they_like_and_an_unknown_code_is_refused(client, used):
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", None))
    sale = used[0]
    segment = Segment.objects.create(name="Code users")
    change = reverse("admin:customers_segment_change", args=[segment.pk])
    assert 'name="used_promotion"' in client.get(change).content.decode()
    form = {"name": "Code users", "description": "", "min_total_spent": "", "max_total_spent": "", "min_orders": "",
            "bought_from_category": "", "no_order_for_days": "", "ordered_within_days": "",
            "has_marketing_consent": "unknown", "has_account": "unknown", "tag": "",
            "used_promotion": sale.pk, "used_code": " take-5 "}

    assert client.post(change, form).status_code == 302
    segment.refresh_from_db()
    assert (segment.used_promotion, segment.used_code) == (sale, "TAKE5")

    page = client.post(change, {**form, "used_code": "TAKE6"})
    assert "There is no code “TAKE6”" in page.content.decode()
    segment.refresh_from_db()
    assert segment.used_code == "TAKE5"
