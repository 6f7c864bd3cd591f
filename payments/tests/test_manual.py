"""Manual payments: money staff received by hand, recorded so it can be refunded like any other."""
from decimal import Decimal

import pytest
from django.core import mail

from orders.models import Order, OrderEvent
from orders.services import PaymentOutcome
from payments.models import Payment, Provider, Refund
from payments.providers import get_provider
from payments.services import handle_stripe_event, record_manual_payment, refund_payment, start_payment

from .helpers import shopper_request
from .stripe_fakes import stripe_event, stripe_object

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


def test_a_manual_payment_refunds_with_no_provider_call_and_says_it_is_paid_back_by_hand(
    order, fake_stripe, staff
):
    outcome, payment = record_manual_payment(order_id=order.pk, user=staff)

    refund = refund_payment(payment_id=payment.pk, amount=Decimal("20.00"), user=staff, reason="Scratched")

    assert outcome is PaymentOutcome.PAID
    assert (payment.provider, payment.amount, payment.created_by) == (Provider.MANUAL, Decimal("84.95"), staff)
    assert fake_stripe.sent == []  # Stripe is configured, and still nothing reaches it
    assert refund.status == Refund.Status.SUCCEEDED and refund.provider_reference.startswith("manual_re_")
    assert refund.reason.startswith("Scratched ") and "by hand" in refund.reason
    order.refresh_from_db()
    assert order.payment_status == P.PARTIALLY_REFUNDED


def test_the_manual_provider_never_takes_a_shoppers_payment(order):
    with pytest.raises(TypeError):
        get_provider(Provider.MANUAL).start(Payment(order=order), shopper_request())


def test_a_card_payment_left_to_staff_emails_them(order, fake_stripe, staff, settings,
                                                  django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    start_payment(order=order, request=shopper_request())
    card = Payment.objects.get(order=order)
    record_manual_payment(order_id=order.pk, user=staff)
    session = stripe_object("checkout.session", id=card.provider_session_id, payment_status="paid",
                            status="complete", amount_total=8495, currency="usd", payment_intent="pi_test_late")

    with django_capture_on_commit_callbacks(execute=True):
        handle_stripe_event(event=stripe_event("checkout.session.completed", session))

    [email] = [message for message in mail.outbox if message.to == ["money@shop.example"]]
    assert email.subject.endswith(f"Payment for an order already paid otherwise (order {order.number})")
    assert "pi_test_late" in email.body and "refund it if it is not needed" in email.body


def test_a_card_payment_after_staff_marked_the_order_paid_is_left_to_staff(order, fake_stripe, staff):
    start_payment(order=order, request=shopper_request())
    card = Payment.objects.get(order=order)
    record_manual_payment(order_id=order.pk, user=staff)
    session = stripe_object("checkout.session", id=card.provider_session_id, payment_status="paid",
                            status="complete", amount_total=8495, currency="usd", payment_intent="pi_test_late")

    result = handle_stripe_event(event=stripe_event("checkout.session.completed", session))

    # Staff's word is not money the store saw arrive: they judge whether this one is surplus.
    assert result == "order already paid otherwise: staff alerted"
    assert fake_stripe.requests_to("post", "/v1/refunds") == []
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).exists()
