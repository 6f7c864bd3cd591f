"""A new order's first payment, opened in the transaction that places it (checkout's path)."""
from decimal import Decimal

import pytest

from catalog.tests import factories as f
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.links import demo_url
from payments.models import Payment, Provider
from payments.services import open_payment, start_payment

from .helpers import shopper_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant():
    variant = f.VariantFactory(price=Decimal("12.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=5)
    return variant


def place_opening(variant, *, key="checkout-1", price="4.95"):
    opened = []
    order = place_order(lines=[PlacementLine(variant.pk, 1)], email="ada@example.com", idempotency_key=key,
                        shipping=ShippingChoice(name="Standard", price=Decimal(price)),
                        on_placed=lambda new: opened.append(open_payment(order=new)))
    return order, (opened[0] if opened else None)


def test_the_payment_opened_with_the_order_is_used_without_a_query(variant, django_assert_num_queries):
    order, payment = place_opening(variant)
    assert (payment.order_id, payment.provider, payment.amount, payment.status) == (
        order.pk, Provider.DEMO, Decimal("16.95"), Payment.Status.PENDING)
    assert payment.provider_session_id.startswith("demo_cs_")
    request = shopper_request()

    with django_assert_num_queries(0):
        response = start_payment(order=order, request=request, payment=payment)

    assert response["Location"] == demo_url(payment)
    assert request.session["payments.started"] == [payment.pk]


def test_a_second_tab_paying_the_same_order_gets_the_opened_payment(variant):
    order, payment = place_opening(variant)

    start_payment(order=order, request=shopper_request())

    assert list(Payment.objects.values_list("pk", flat=True)) == [payment.pk]


def test_a_replayed_checkout_opens_no_second_payment(variant):
    order, payment = place_opening(variant)
    again, none = place_opening(variant)

    assert (again.pk, none) == (order.pk, None)
    assert Payment.objects.count() == 1


def test_nothing_to_pay_opens_nothing_and_another_orders_payment_is_refused(variant):
    order, payment = place_opening(variant)
    other, other_payment = place_opening(variant, key="checkout-2")

    with pytest.raises(ValueError):
        start_payment(order=order, request=shopper_request(), payment=other_payment)
    order.total = Decimal("0.00")
    assert open_payment(order=order) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_checkout_makes_one_order_and_one_payment():
    # The winner opens the payment inside its placement transaction; the twins wait on the order's
    # unique key, get the winner's order, and start_payment (with its lock) finds that payment.
    from conftest import run_together

    variant = f.VariantFactory(price=Decimal("12.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=1)

    def submit(i):
        order, payment = place_opening(variant, key="one-form")
        start_payment(order=order, request=shopper_request(), payment=payment)
        return order.pk, payment is not None

    results = run_together(submit, 5)

    assert all(isinstance(r, tuple) for r in results), results
    assert len({order_id for order_id, _opened in results}) == 1
    assert sum(opened for _order_id, opened in results) == 1
    assert Payment.objects.count() == 1
