"""Payments under concurrency on PostgreSQL: one payment's refunds, one event's deliveries.

Real threads, each with its own database connection, started together by a barrier.
"""
import threading
import time
from decimal import Decimal

import pytest

from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from payments.exceptions import RefundNotAllowed
from payments.models import Payment, Refund, WebhookEvent
from payments.providers import stripe as stripe_provider
from payments.services import (
    handle_stripe_event,
    pay_with_demo_card,
    refund_payment,
    start_payment,
)

from .helpers import place, shopper_request
from .stripe_fakes import FakeStripeHTTP, stripe_event, stripe_object

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
    assert paid_order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED


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
    assert paid_order.events.filter(to_status=Order.PaymentStatus.PARTIALLY_REFUNDED).count() == 1


def test_a_refund_event_that_overtakes_its_refund_waits_for_it_and_applies_once(paid_order, monkeypatch, settings):
    # Stripe answers our refund call "pending" and sends refund.updated "succeeded" so quickly that
    # the event arrives while refund_payment's transaction (holding the payment's lock) is still open.
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    payment = Payment.objects.get(order=paid_order)
    Payment.objects.filter(pk=payment.pk).update(provider="stripe", provider_payment_id="pi_test_race")
    refund = stripe_object("refund", id="re_test_race", amount=8495, currency="usd", payment_intent="pi_test_race",
                           status="pending", metadata={"payment_id": str(payment.pk)})
    calling_stripe = threading.Event()

    class SlowStripe(FakeStripeHTTP):
        def request(self, method, url, headers, post_data=None, *, _usage=None):
            calling_stripe.set()
            time.sleep(1)  # the event is delivered meanwhile
            return super().request(method, url, headers, post_data, _usage=_usage)

    fake = SlowStripe()
    fake.answer("post", "/v1/refunds", refund)
    monkeypatch.setattr(stripe_provider, "http_client", fake)
    event = stripe_event("refund.updated", {**refund, "status": "succeeded"})

    def work(i: int):
        if i == 0:
            return refund_payment(payment_id=payment.pk, amount=Decimal("84.95"), user=None)
        assert calling_stripe.wait(JOIN_SECONDS)
        return handle_stripe_event(event=event)

    made, handled = run_together(work, 2)

    assert isinstance(made, Refund), made
    assert handled == "refund re_test_race: succeeded", handled
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    paid_order.refresh_from_db()
    assert paid_order.payment_status == Order.PaymentStatus.REFUNDED
    assert paid_order.events.filter(to_status=Order.PaymentStatus.REFUNDED).count() == 1


def test_two_workers_sending_awaiting_refunds_at_once_ask_for_each_refund_once(paid_order, monkeypatch):
    # Six refunds recorded pending (a split cancellation, say), then the job started twice at the
    # same moment (two Celery workers, or a run that overlaps the next). The first provider call
    # waits until the other worker is asking for another refund: both are in the middle at once.
    from django.db import connection, transaction

    from payments.providers.demo import DemoProvider
    from payments.services import open_refund, send_awaiting_refunds

    payment = Payment.objects.get(order=paid_order)  # $84.95
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        refunds = [open_refund(payment=locked, amount=Decimal("10.00"), user=None, reason=f"#{i}") for i in range(6)]
    asked, guard, overlapping = [], threading.Lock(), threading.Event()
    real = DemoProvider.refund

    def slow_refund(self, refund):
        with guard:
            asked.append((refund.pk, threading.get_ident(), connection.in_atomic_block))
            first = len(asked) == 1
            if len({thread for _pk, thread, _atomic in asked}) == 2:
                overlapping.set()
        if first:  # hold this refund's call until the other worker asks for another one
            assert overlapping.wait(JOIN_SECONDS)
        return real(self, refund)

    monkeypatch.setattr(DemoProvider, "refund", slow_refund)

    results = run_together(lambda i: send_awaiting_refunds(), 2)

    assert sum(results) == 6 and overlapping.is_set(), results
    assert sorted(pk for pk, _thread, _atomic in asked) == sorted(r.pk for r in refunds)  # each once
    assert not any(atomic for _pk, _thread, atomic in asked)  # never inside a transaction
    assert set(Refund.objects.values_list("status", flat=True)) == {Refund.Status.SUCCEEDED}
    assert not Refund.objects.filter(sending_since__isnull=False).exists()
    paid_order.refresh_from_db()
    assert paid_order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
