"""Stripe's payment arriving after the order expired and gave its gift card money back.

An order of $75 is paid $30 by a gift card at placement and $45 through Stripe Checkout. The
shopper is slow: the reservation runs out, the order expires, the card gets its $30 back. Then
Stripe's `payment_intent.succeeded` arrives for the $45. The order must never be marked paid for
$45: the card is held again when it still has the $30, else staff get the amount-mismatch alert
with the shortfall, and the money waits for them ("Needs attention").

Stripe is the real client over a fake HTTP layer (payments/tests/stripe_fakes.py); the events are
Stripe's own example objects (payments/tests/fixtures/stripe_objects.json, MIT) posted to the
webhook with a signature computed for real with the webhook secret.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from checkout.tests.conftest import address, fill_cart
from giftcards import selectors
from giftcards.models import GiftCard
from orders.models import Allocation, Order, OrderEvent
from orders.services import expire_unpaid_orders
from payments.models import Payment, WebhookEvent
from payments.providers import stripe as stripe_provider
from payments.selectors import orders_needing_attention
from payments.tests.helpers import checkout_session_response
from payments.tests.stripe_fakes import FakeStripeHTTP, post_event, stripe_event, stripe_object

pytestmark = pytest.mark.django_db
P, F = Order.PaymentStatus, Order.FulfilmentStatus


@pytest.fixture
def fake_stripe(monkeypatch, settings) -> FakeStripeHTTP:
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    fake = FakeStripeHTTP()
    monkeypatch.setattr(stripe_provider, "http_client", fake)
    fake.answer("post", "/v1/checkout/sessions", checkout_session_response())
    return fake


@pytest.fixture
def expired_order(client, storefront_catalog, checkout_rules, issue, fake_stripe):
    """Two $35 lamps and $5 shipping: $30 from a gift card, $45 left to Stripe; then expired."""
    card, code = issue("30.00")
    fill_cart(client, ("LAMP-1", 2))
    assert client.post("/checkout/", address(delivery=f"method:{checkout_rules.standard.pk}")).status_code == 302
    assert client.post("/gift-cards/apply/", {"code": code}).status_code == 302
    review = client.get("/checkout/review/").content.decode()
    key = review.split('name="idempotency_key" value="')[1].split('"')[0]
    placed = client.post("/checkout/place/", {"idempotency_key": key})
    assert placed.status_code == 302 and placed["Location"].startswith("https://checkout.stripe.com/")
    order = Order.objects.get()
    stripe_payment = Payment.objects.get(order=order, provider="stripe")
    assert (order.total, stripe_payment.amount) == (Decimal("75.00"), Decimal("45.00"))

    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_unpaid_orders() == 1
    order.refresh_from_db()
    card.refresh_from_db()
    assert (order.fulfilment_status, card.balance) == (F.EXPIRED, Decimal("30.00"))
    assert not Allocation.objects.filter(line__order=order, quantity_released=0).exists()
    return order, card, stripe_payment


def intent_succeeded(payment: Payment, *, received: int = 4500) -> dict:
    """Stripe's example PaymentIntent, succeeded for our payment (its metadata as we set it)."""
    intent = stripe_object(
        "payment_intent", id="pi_test_late", amount=received, amount_received=received, currency="usd",
        status="succeeded", metadata={"order_id": str(payment.order_id), "order_number": payment.order.number,
                                      "payment_id": str(payment.pk)},
    )
    return stripe_event("payment_intent.succeeded", intent)


def test_a_late_payment_holds_the_gift_card_again_when_it_still_has_the_money(client, expired_order):
    order, card, stripe_payment = expired_order

    response = post_event(client, intent_succeeded(stripe_payment))

    assert (response.status_code, response.json()["result"]) == (200, "paid")
    order.refresh_from_db()
    card.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (P.PAID, F.UNFULFILLED)
    assert card.balance == Decimal("0.00")
    held = Payment.objects.get(order=order, provider="gift_card", status="succeeded")
    assert held.amount == Decimal("30.00")
    assert sum(p.amount for p in Payment.objects.filter(order=order, status="succeeded")) == order.total
    assert order.events.filter(kind="payment", message__contains="held again on gift card").exists()
    assert Allocation.objects.filter(line__order=order, quantity_released=0).exists()  # stock reserved again
    assert not selectors.ledger_mismatches().exists()
    assert order not in orders_needing_attention()

    # Stripe's checkout.session.completed for the same money, afterwards: nothing more happens
    session = stripe_object("checkout.session", id=stripe_payment.provider_session_id, payment_status="paid",
                            status="complete", amount_total=4500, currency="usd", payment_intent="pi_test_late")
    late = post_event(client, stripe_event("checkout.session.completed", session))
    assert late.json()["result"] == "ignored: payment already succeeded"
    card.refresh_from_db()
    assert card.balance == Decimal("0.00") and Payment.objects.filter(order=order, provider="gift_card",
                                                                       status="succeeded").count() == 1


def test_a_late_payment_the_gift_card_no_longer_covers_is_an_amount_mismatch_for_staff(client, expired_order,
                                                                                    django_capture_on_commit_callbacks):
    from giftcards.services import debit, lock_cards
    from orders.tests.factories import OrderFactory

    order, card, stripe_payment = expired_order
    [locked] = lock_cards([card.pk])
    debit(card=locked, amount=Decimal("20.00"), order=OrderFactory(), payment=None, user=None)  # spent meanwhile

    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, intent_succeeded(stripe_payment))

    assert response.json()["result"] == "amount mismatch: not marked paid, staff alerted"
    order.refresh_from_db()
    card.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (P.UNPAID, F.EXPIRED)
    assert card.balance == Decimal("10.00")  # untouched
    [alert] = order.events.filter(kind=OrderEvent.Kind.ALERT)
    assert "does not match the order total $75.00" in alert.message
    assert f"gift card {card.display_code} gave back $30.00 and now has $10.00" in alert.message
    assert "Short by $30.00" in alert.message and alert.data == {"amount_mismatch": "30.00"}
    stripe_payment.refresh_from_db()
    assert stripe_payment.status == "succeeded" and stripe_payment.amount == Decimal("45.00")
    assert order in orders_needing_attention()  # the money waits for staff
    from django.core import mail

    assert any("does not match" in m.subject or "Short by $30.00" in m.body for m in mail.outbox)
    assert not selectors.ledger_mismatches().exists()

    # the same event delivered again changes nothing
    assert post_event(client, intent_succeeded(stripe_payment) | {"id": WebhookEvent.objects.get(
        type="payment_intent.succeeded").event_id}).json()["result"] == "duplicate"
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).count() == 1


def test_a_deactivated_card_is_not_held_again(client, expired_order, staff):
    from giftcards.services import deactivate_gift_card

    order, card, stripe_payment = expired_order
    deactivate_gift_card(card_id=card.pk, user=staff, reason="Reported stolen")

    post_event(client, intent_succeeded(stripe_payment))

    order.refresh_from_db()
    assert order.payment_status == P.UNPAID
    [alert] = order.events.filter(kind=OrderEvent.Kind.ALERT)
    assert "deactivated" in alert.message
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("30.00")


def test_an_unsigned_or_forged_late_event_changes_nothing(client, expired_order):
    order, card, stripe_payment = expired_order
    event = intent_succeeded(stripe_payment)

    assert post_event(client, event, signature="").status_code == 400
    forged = post_event(client, event, signature="t=1,v1=" + "0" * 64)

    assert forged.status_code == 400
    order.refresh_from_db()
    assert order.payment_status == P.UNPAID and not WebhookEvent.objects.exists()
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("30.00")
