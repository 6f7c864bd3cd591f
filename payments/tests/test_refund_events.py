"""Refunds Stripe finishes later: pending until Stripe says succeeded or failed, in events shaped
like Stripe's own (refund.updated, charge.refund.updated, refund.failed), processed once each."""
from decimal import Decimal

import pytest
from django.core import mail

from notifications.models import OutboundEmail
from orders.admin.payment_state import refundable_payments
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund, WebhookEvent
from payments.services import handle_stripe_event, refund_payment, refundable_amount

from .stripe_fakes import post_event, stripe_event, stripe_object

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
INTENT = "pi_test_refundable"  # the stripe_paid fixture's PaymentIntent


def stripe_refund(payment: Payment, refund_id: str, *, cents: int, status: str, **changes) -> dict:
    """Stripe's example refund object for `payment`, as Stripe sends it for the refunds we create."""
    metadata = {"order_id": str(payment.order_id), "payment_id": str(payment.pk), "reason": ""}
    return stripe_object("refund", **{"id": refund_id, "amount": cents, "currency": "usd", "payment_intent": INTENT,
                                      "status": status, "metadata": metadata, **changes})


def failed(payment: Payment, refund_id: str, *, cents: int) -> dict:
    return stripe_refund(payment, refund_id, cents=cents, status="failed", failure_reason="expired_or_canceled_card",
                         failure_balance_transaction="txn_test_failure")


def refunded_emails(order: Order) -> int:
    return OutboundEmail.objects.filter(order=order, kind="order.refunded").count()


def refund_at_stripe(fake_stripe, payment: Payment, refund_id: str, *, cents: int, status: str, staff) -> Refund:
    """Refund from the back office, Stripe answering with a refund in `status`."""
    fake_stripe.forget("post", "/v1/refunds")
    fake_stripe.answer("post", "/v1/refunds", stripe_refund(payment, refund_id, cents=cents, status=status))
    return refund_payment(payment_id=payment.pk, amount=Decimal(cents) / 100, user=staff, reason="Returned")


def test_a_refund_stripe_reports_pending_is_recorded_pending_and_moves_no_order(stripe_paid, fake_stripe, staff):
    refund = refund_at_stripe(fake_stripe, stripe_paid, "re_test_pending", cents=8495, status="pending", staff=staff)

    order = Order.objects.get(pk=stripe_paid.order_id)
    assert (refund.status, refund.provider_reference) == (Refund.Status.PENDING, "re_test_pending")
    assert order.payment_status == P.PAID  # no money has come back yet
    event = order.events.filter(kind=OrderEvent.Kind.REFUND).get()
    assert "pending" in event.message and event.user == staff
    assert refunded_emails(order) == 0
    assert Order.objects.get(pk=order.pk).payment_status == "paid"
    # ... but it is on its way, so it cannot be refunded a second time meanwhile.
    assert refundable_amount(stripe_paid) == Decimal("0.00")
    assert refundable_payments(order) == []


@pytest.mark.parametrize("event_type", ["refund.updated", "charge.refund.updated"])
def test_a_pending_refund_that_succeeds_moves_the_order_once(client, stripe_paid, fake_stripe, staff, event_type):
    refund = refund_at_stripe(fake_stripe, stripe_paid, "re_test_later", cents=8495, status="pending", staff=staff)
    event = stripe_event(event_type, stripe_refund(stripe_paid, "re_test_later", cents=8495, status="succeeded"))

    response = post_event(client, event)
    replay = post_event(client, event)

    refund.refresh_from_db()
    order = Order.objects.get(pk=stripe_paid.order_id)
    assert response.json() == {"result": "refund re_test_later: succeeded"}
    assert replay.json() == {"result": "duplicate"}
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.payment_status == P.REFUNDED
    moved = order.events.get(to_status=P.REFUNDED)
    assert (moved.from_status, moved.actor, moved.data["amount"]) == (P.PAID, OrderEvent.Actor.WEBHOOK, "84.95")
    assert refunded_emails(order) == 1
    assert WebhookEvent.objects.get(event_id=event["id"]).result == "refund re_test_later: succeeded"


def test_a_partial_pending_refund_that_succeeds_makes_the_order_partially_refunded(stripe_paid, fake_stripe, staff):
    refund_at_stripe(fake_stripe, stripe_paid, "re_test_part", cents=2000, status="pending", staff=staff)

    handle_stripe_event(event=stripe_event(
        "refund.updated", stripe_refund(stripe_paid, "re_test_part", cents=2000, status="succeeded")))

    assert Order.objects.get(pk=stripe_paid.order_id).payment_status == P.PARTIALLY_REFUNDED


def test_a_failed_refund_is_recorded_staff_are_alerted_and_the_money_can_be_refunded_again(
    client, stripe_paid, fake_stripe, staff
):
    refund = refund_at_stripe(fake_stripe, stripe_paid, "re_test_fails", cents=8495, status="pending", staff=staff)
    event = stripe_event("refund.failed", failed(stripe_paid, "re_test_fails", cents=8495))

    assert post_event(client, event).json() == {"result": "refund re_test_fails: failed"}
    assert post_event(client, event).json() == {"result": "duplicate"}

    refund.refresh_from_db()
    order = Order.objects.get(pk=stripe_paid.order_id)
    assert (refund.status, refund.failure_reason) == (Refund.Status.FAILED, "expired_or_canceled_card")
    alert = order.events.get(kind=OrderEvent.Kind.ALERT)
    assert "re_test_fails" in alert.message and "expired_or_canceled_card" in alert.message
    assert alert.actor == OrderEvent.Actor.WEBHOOK
    assert order.payment_status == P.PAID and refunded_emails(order) == 0
    assert Order.objects.get(pk=order.pk).payment_status == "paid"
    # Nothing was given back: the whole payment is refundable again, from the back office too.
    assert refundable_amount(stripe_paid) == Decimal("84.95")
    assert [p.refundable for p in refundable_payments(order)] == [Decimal("84.95")]


def test_a_failed_refund_emails_staff_once(client, stripe_paid, fake_stripe, staff, settings,
                                         django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    refund_at_stripe(fake_stripe, stripe_paid, "re_test_mail", cents=8495, status="pending", staff=staff)
    event = stripe_event("refund.failed", failed(stripe_paid, "re_test_mail", cents=8495))

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, event)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, event).json() == {"result": "duplicate"}

    order = Order.objects.get(pk=stripe_paid.order_id)
    alert = order.events.get(kind=OrderEvent.Kind.ALERT)
    [email] = [message for message in mail.outbox if message.to == ["money@shop.example"]]
    assert email.subject == f"{settings.STORE_NAME} alert: Refund failed (order {order.number})"
    assert alert.message in email.body and "expired_or_canceled_card" in email.body
    assert "/admin/orders/order/" in email.body
    [outbox] = OutboundEmail.objects.filter(kind="staff_alert")
    assert (outbox.order, outbox.status) == (order, "sent")


def test_news_older_than_a_failure_changes_nothing(stripe_paid, fake_stripe, staff):
    refund = refund_at_stripe(fake_stripe, stripe_paid, "re_test_late", cents=8495, status="pending", staff=staff)
    handle_stripe_event(event=stripe_event("refund.failed", failed(stripe_paid, "re_test_late", cents=8495)))

    # Stripe does not promise the order of events: a "succeeded" sent before the failure arrives late.
    result = handle_stripe_event(event=stripe_event(
        "refund.updated", stripe_refund(stripe_paid, "re_test_late", cents=8495, status="succeeded")))

    refund.refresh_from_db()
    assert result == "refund re_test_late: already failed"
    assert refund.status == Refund.Status.FAILED
    assert Order.objects.get(pk=stripe_paid.order_id).payment_status == P.PAID


def test_a_refund_that_fails_after_it_succeeded_takes_the_order_back(stripe_paid, fake_stripe, staff):
    refund_at_stripe(fake_stripe, stripe_paid, "re_test_first", cents=2000, status="succeeded", staff=staff)
    refund_at_stripe(fake_stripe, stripe_paid, "re_test_rest", cents=6495, status="succeeded", staff=staff)
    order = Order.objects.get(pk=stripe_paid.order_id)
    assert order.payment_status == P.REFUNDED

    handle_stripe_event(event=stripe_event("refund.failed", failed(stripe_paid, "re_test_rest", cents=6495)))
    order.refresh_from_db()
    assert order.payment_status == P.PARTIALLY_REFUNDED  # the first $20.00 did go back

    handle_stripe_event(event=stripe_event("refund.failed", failed(stripe_paid, "re_test_first", cents=2000)))
    order.refresh_from_db()
    assert order.payment_status == P.PAID  # what it was before any refund
    back = order.events.filter(kind=OrderEvent.Kind.STATUS).order_by("-pk")[:2]
    assert [(e.from_status, e.to_status, e.actor) for e in back] == [
        (P.PARTIALLY_REFUNDED, P.PAID, OrderEvent.Actor.WEBHOOK),
        (P.REFUNDED, P.PARTIALLY_REFUNDED, OrderEvent.Actor.WEBHOOK),
    ]
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).count() == 2
    assert OutboundEmail.objects.filter(order=order, kind="staff_alert").count() == 2  # one email per failure
    assert refundable_amount(stripe_paid) == Decimal("84.95")


def test_a_refund_made_at_stripe_is_recorded_with_the_status_stripe_reports(stripe_paid):
    pending = stripe_refund(stripe_paid, "re_test_dashboard", cents=1000, status="pending", metadata={})

    first = handle_stripe_event(event=stripe_event("refund.updated", pending))
    later = handle_stripe_event(event=stripe_event("refund.updated", {**pending, "status": "succeeded"}))

    refund = Refund.objects.get(provider_reference="re_test_dashboard")
    assert (first, later) == ("recorded re_test_dashboard: pending", "refund re_test_dashboard: succeeded")
    assert (refund.payment, refund.amount, refund.status) == (stripe_paid, Decimal("10.00"), Refund.Status.SUCCEEDED)
    assert Order.objects.get(pk=stripe_paid.order_id).payment_status == P.PARTIALLY_REFUNDED


def test_charge_refunded_records_a_pending_refund_as_pending(stripe_paid):
    item = stripe_refund(stripe_paid, "re_test_on_charge", cents=8495, status="pending", charge="ch_test_9")
    charge = stripe_object("charge", id="ch_test_9", amount=8495, amount_captured=8495, amount_refunded=8495,
                           captured=True, refunded=True, payment_intent=INTENT, currency="usd",
                           refunds={"object": "list", "data": [item], "has_more": False,
                                    "url": "/v1/charges/ch_test_9/refunds"})

    handle_stripe_event(event=stripe_event("charge.refunded", charge))

    assert Refund.objects.get(provider_reference="re_test_on_charge").status == Refund.Status.PENDING
    assert Order.objects.get(pk=stripe_paid.order_id).payment_status == P.PAID
