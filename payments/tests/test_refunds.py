"""Refunds from the back office: through the provider, never more than was paid."""
from decimal import Decimal

import pytest

from orders.models import Order, OrderEvent
from orders.services import cancel_order
from payments.exceptions import ProviderUnavailable, RefundNotAllowed
from payments.models import Payment, Refund
from payments.services import handle_stripe_event, refund_payment, start_payment

from .helpers import shopper_request
from .stripe_fakes import new_id, stripe_event, stripe_object

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


def _refund_answer(cents: int, refund_id: str) -> dict:
    return stripe_object("refund", id=refund_id, amount=cents, currency="usd", payment_intent="pi_test_refundable",
                         status="succeeded")


def test_a_partial_then_a_full_refund_through_stripe(stripe_paid, fake_stripe, staff):
    fake_stripe.answer("post", "/v1/refunds", _refund_answer(2000, "re_test_first"))
    fake_stripe.answer("post", "/v1/refunds", _refund_answer(6495, "re_test_second"))
    order = stripe_paid.order

    first = refund_payment(payment_id=stripe_paid.pk, amount=Decimal("20.00"), user=staff, reason="Scratched")
    order.refresh_from_db()
    assert order.payment_status == P.PARTIALLY_REFUNDED

    second = refund_payment(payment_id=stripe_paid.pk, amount=Decimal("64.95"), user=staff)
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED

    sent = fake_stripe.requests_to("post", "/v1/refunds")
    assert [(r.params["payment_intent"], r.params["amount"]) for r in sent] == [
        ("pi_test_refundable", "2000"), ("pi_test_refundable", "6495")]
    assert [r.headers["Idempotency-Key"] for r in sent] == [
        f"payment-{stripe_paid.pk}-refund-1-20.00", f"payment-{stripe_paid.pk}-refund-2-64.95"]
    assert (first.provider_reference, first.status, first.created_by, first.reason) == (
        "re_test_first", "succeeded", staff, "Scratched")
    assert second.provider_reference == "re_test_second"
    events = order.events.filter(to_status__in=[P.PARTIALLY_REFUNDED, P.REFUNDED])
    assert list(events.values_list("actor", flat=True)) == [OrderEvent.Actor.STAFF] * 2


def test_the_webhook_for_our_own_refund_records_nothing_twice(stripe_paid, fake_stripe, staff):
    fake_stripe.answer("post", "/v1/refunds", _refund_answer(2000, "re_test_ours"))
    refund_payment(payment_id=stripe_paid.pk, amount=Decimal("20.00"), user=staff)
    charge = stripe_object("charge", id="ch_test_1", amount=8495, amount_refunded=2000,
                           payment_intent="pi_test_refundable",
                           refunds={"object": "list", "data": [_refund_answer(2000, "re_test_ours")], "has_more": False,
                                    "url": "/v1/charges/ch_test_1/refunds"})

    result = handle_stripe_event(event=stripe_event("charge.refunded", charge))

    assert result == "refunds already recorded"
    assert Refund.objects.count() == 1
    stripe_paid.order.refresh_from_db()
    assert stripe_paid.order.payment_status == P.PARTIALLY_REFUNDED


@pytest.mark.parametrize("amount", [Decimal("84.96"), Decimal("0"), Decimal("-5.00")])
def test_a_refund_over_what_was_paid_or_not_positive_is_refused(stripe_paid, fake_stripe, staff, amount):
    with pytest.raises(RefundNotAllowed):
        refund_payment(payment_id=stripe_paid.pk, amount=amount, user=staff)

    assert not Refund.objects.exists()
    assert fake_stripe.requests_to("post", "/v1/refunds") == []
    stripe_paid.order.refresh_from_db()
    assert stripe_paid.order.payment_status == P.PAID


def test_refunds_add_up_to_at_most_the_payment(demo_paid, staff):
    refund_payment(payment_id=demo_paid.pk, amount=Decimal("80.00"), user=staff)

    with pytest.raises(RefundNotAllowed) as refused:
        refund_payment(payment_id=demo_paid.pk, amount=Decimal("5.00"), user=staff)

    assert refused.value.refundable == Decimal("4.95")
    assert "$4.95" in str(refused.value)
    assert Refund.objects.count() == 1


def test_a_payment_that_did_not_succeed_cannot_be_refunded(order, staff):
    start_payment(order=order, request=shopper_request())
    payment = Payment.objects.get(order=order)

    with pytest.raises(RefundNotAllowed):
        refund_payment(payment_id=payment.pk, amount=Decimal("1.00"), user=staff)


def test_stripe_refusing_a_refund_records_nothing(stripe_paid, fake_stripe, staff):
    fake_stripe.answer("post", "/v1/refunds", {"error": {"type": "invalid_request_error",
                                                          "message": "Charge has been disputed."}}, status=400)

    with pytest.raises(ProviderUnavailable):
        refund_payment(payment_id=stripe_paid.pk, amount=Decimal("10.00"), user=staff)

    assert not Refund.objects.exists()
    stripe_paid.order.refresh_from_db()
    assert stripe_paid.order.payment_status == P.PAID


def test_a_demo_refund_succeeds_at_once(demo_paid, staff):
    refund = refund_payment(payment_id=demo_paid.pk, amount=demo_paid.amount, user=staff, reason="Returned")

    demo_paid.order.refresh_from_db()
    assert refund.status == "succeeded" and refund.provider_reference.startswith("demo_re_")
    assert demo_paid.order.payment_status == P.REFUNDED


def test_a_demo_payment_refunds_through_the_demo_provider_after_stripe_is_configured(demo_paid, fake_stripe, staff):
    refund = refund_payment(payment_id=demo_paid.pk, amount=Decimal("10.00"), user=staff)

    assert refund.provider_reference.startswith("demo_re_")
    assert fake_stripe.sent == []


def test_refunding_a_second_payment_does_not_move_the_order(demo_paid, staff):
    # A second payment taken for the same order (e.g. marked succeeded by support) is surplus money.
    extra = Payment.objects.create(order=demo_paid.order, provider="demo", amount=Decimal("84.95"), currency="USD",
                                   status="succeeded", provider_payment_id=new_id("demo_pi"))

    refund_payment(payment_id=extra.pk, amount=Decimal("84.95"), user=staff)

    demo_paid.order.refresh_from_db()
    assert demo_paid.order.payment_status == P.PAID
    assert demo_paid.order.events.filter(kind=OrderEvent.Kind.REFUND).exists()


def test_a_cancelled_order_becomes_refunded_only_once_all_its_money_is_back(order, staff):
    # A payment that arrived for the order after it was cancelled, kept by staff for now.
    cancel_order(order_id=order.pk, actor=OrderEvent.Actor.CUSTOMER)
    late = Payment.objects.create(order=order, provider="demo", amount=Decimal("84.95"), currency="USD",
                                  status="succeeded", provider_payment_id=new_id("demo_pi"))

    refund_payment(payment_id=late.pk, amount=Decimal("20.00"), user=staff)
    order.refresh_from_db()
    # Still cancelled, and not partially refunded: it never kept this money; the refund is in its history.
    assert (order.payment_status, order.fulfilment_status) == (P.UNPAID, FS.CANCELLED)
    assert order.events.filter(kind=OrderEvent.Kind.REFUND).exists()

    refund_payment(payment_id=late.pk, amount=Decimal("64.95"), user=staff)
    order.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (P.REFUNDED, FS.CANCELLED)
    moved = order.events.get(to_status=P.REFUNDED)
    assert (moved.state, moved.from_status, moved.actor, moved.user) == (
        OrderEvent.State.PAYMENT, P.UNPAID, OrderEvent.Actor.STAFF, staff)
