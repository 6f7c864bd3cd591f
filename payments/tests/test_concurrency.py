"""Payments under concurrency on PostgreSQL: one payment's refunds, one event's deliveries.

Real threads, each with its own database connection, started together by a barrier.
"""
from decimal import Decimal

import pytest

from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from payments.exceptions import RefundNotAllowed
from payments.models import Payment, Refund, WebhookEvent
from payments.services import (
    handle_stripe_event,
    pay_with_demo_card,
    refund_payment,
    start_payment,
)

from .helpers import place, shopper_request
from .stripe_fakes import stripe_event, stripe_object

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
JOIN_SECONDS = 60


@pytest.fixture
def paid_order() -> Order:
    variant = f.VariantFactory(price=Decimal("80.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=5)
    order = place(variant)
    start_payment(order=order, request=shopper_request())
    payment = Payment.objects.get(order=order)
    pay_with_demo_card(payment_id=payment.pk, card_number="4242424242424242")
    return order


def test_concurrent_refunds_never_exceed_the_payment(paid_order):
    payment = Payment.objects.get(order=paid_order)  # $84.95

    results = run_together(
        lambda i: refund_payment(payment_id=payment.pk, amount=Decimal("30.00"), user=None, reason=f"#{i}"), 6
    )

    refunds = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, RefundNotAllowed)]
    assert (len(refunds), len(refused)) == (2, 4), results
    assert sum(Refund.objects.values_list("amount", flat=True)) == Decimal("60.00")
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PARTIALLY_REFUNDED


def test_one_event_delivered_many_times_at_once_is_processed_once(paid_order, settings):
    # A refund made in Stripe's dashboard, its charge.refunded sent several times in parallel.
    payment = Payment.objects.get(order=paid_order)
    Payment.objects.filter(pk=payment.pk).update(provider="stripe", provider_payment_id="pi_test_parallel")
    refund = stripe_object("refund", id="re_test_parallel", amount=1000, currency="usd", status="succeeded")
    charge = stripe_object("charge", id="ch_test_parallel", amount=8495, amount_refunded=1000,
                           payment_intent="pi_test_parallel",
                           refunds={"object": "list", "data": [refund], "has_more": False, "url": "/v1/refunds"})
    event = stripe_event("charge.refunded", charge, event_id="evt_test_parallel")

    results = run_together(lambda i: handle_stripe_event(event=event), 8)

    assert sorted(results) == ["duplicate"] * 7 + ["refunds recorded: re_test_parallel"], results
    assert WebhookEvent.objects.count() == 1
    assert Refund.objects.get().amount == Decimal("10.00")
    paid_order.refresh_from_db()
    assert paid_order.events.filter(to_status=Order.Status.PARTIALLY_REFUNDED).count() == 1
