"""Who the shopper is, as the conditions and per-customer limits see it (promotions.selectors)."""
from decimal import Decimal

import pytest

from catalog.tests import factories as f
from customers.models import Segment
from customers.tests.factories import CustomerFactory, UserFactory
from orders.models import Order
from orders.tests.factories import OrderFactory
from promotions.models import Promotion, Redemption
from promotions.selectors import Shopper, price_lines

from .factories import CodeFactory, PromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirt(db):
    return f.VariantFactory(product=f.ProductFactory(status="active"), price=Decimal("40.00"))


def problem(shirt, shopper, code):
    return price_lines(items=[(shirt, 1)], shopper=shopper, code=code).code.problem


def test_first_order_only_counts_earlier_paid_orders_by_account_or_email(shirt):
    CodeFactory(code="FIRST", promotion=PromotionFactory(trigger=Promotion.Trigger.CODE, first_order_only=True))
    guest = Shopper(email="Ann@Example.com")
    assert problem(shirt, guest, "first") == ""
    OrderFactory(email="ann@example.com", payment_status=Order.PaymentStatus.UNPAID)
    assert problem(shirt, guest, "first") == ""  # an unpaid order is no first order
    OrderFactory(email="ann@example.com", payment_status=Order.PaymentStatus.PAID)
    assert problem(shirt, guest, "first") == "The code FIRST is for a first order only."


def test_signed_in_only_and_segment_members_only(shirt):
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.RULES, min_orders=3)
    CodeFactory(code="VIP", promotion=PromotionFactory(trigger=Promotion.Trigger.CODE, segment=vip))
    CodeFactory(code="MEMBERS", promotion=PromotionFactory(trigger=Promotion.Trigger.CODE, signed_in_only=True))
    user = UserFactory(email="vip@example.com")
    customer = CustomerFactory(email="vip@example.com", user=user, order_count=1)
    assert problem(shirt, Shopper(email="x@example.com"), "members").startswith("The code MEMBERS is for signed-in")
    assert problem(shirt, Shopper(user=user), "members") == ""
    assert problem(shirt, Shopper(user=user), "vip") == "The code VIP is not available for your account."
    customer.order_count = 3
    customer.save()
    assert problem(shirt, Shopper(user=user), "vip") == ""


def test_a_customer_who_used_their_share_is_told_so_by_account_and_by_email(shirt):
    promotion = PromotionFactory(trigger=Promotion.Trigger.CODE, per_customer_limit=1)
    CodeFactory(code="ONCEEACH", promotion=promotion)
    user = UserFactory(email="bea@example.com")
    order = OrderFactory(email="bea@example.com")
    Redemption.objects.create(promotion=promotion, order=order, email="bea@example.com", amount=Decimal("4.00"))
    assert problem(shirt, Shopper(user=user), "onceeach") == "You have already used the code ONCEEACH."
    assert problem(shirt, Shopper(email="BEA@example.com"), "onceeach") == "You have already used the code ONCEEACH."
    assert problem(shirt, Shopper(email="someone@example.com"), "onceeach") == ""
    Redemption.objects.update(released_at=order.created_at)  # the order expired: the use came back
    assert problem(shirt, Shopper(user=user), "onceeach") == ""


def test_shipping_country_is_checked_once_known(shirt):
    CodeFactory(code="FRANCE", promotion=PromotionFactory(trigger=Promotion.Trigger.CODE, countries="fr, be"))
    assert "checked at checkout" in problem(shirt, Shopper(), "france")
    assert problem(shirt, Shopper(country="US"), "france") == "The code FRANCE applies only to deliveries to BE, FR."
    assert problem(shirt, Shopper(country="fr"), "france") == ""
