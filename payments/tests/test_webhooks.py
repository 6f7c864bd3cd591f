"""Stripe's webhook: verified, processed exactly once, harmless when replayed or out of order."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from stripe import WebhookSignature

from catalog.models import StockLevel
from notifications.models import OutboundEmail
from conftest import html_tags
from orders.links import signed_confirmation_url
from orders.models import Order, OrderEvent
from orders.services import cancel_order, confirm_payment, expire_unpaid_orders
from payments import services
from payments.links import payment_token
from payments.models import Payment, Refund, WebhookEvent
from payments.services import start_payment

from .helpers import place, shopper_request, start_in_browser
from .stripe_fakes import new_id, post_event, sign, stripe_event, stripe_object

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
INTENT = "pi_test_paid_0001"


def staff_emails(order: Order) -> list[str]:
    """The subjects of the staff alerts emailed about `order`, one per ALERT in its history."""
    alerts = order.events.filter(kind=OrderEvent.Kind.ALERT).count()
    rows = OutboundEmail.objects.filter(order=order, kind="staff_alert", status="sent")
    assert rows.count() == alerts, "every alert in the history is emailed to staff, once"
    return [message.subject for message in mail.outbox if message.to == ["money@shop.example"]]


@pytest.fixture
def payment(fake_stripe, order) -> Payment:
    """The order sent to Stripe Checkout: a pending payment with its session id."""
    start_payment(order=order, request=shopper_request())
    return Payment.objects.get(order=order)


def completed(payment: Payment, *, cents: int | None = None, payment_status: str = "paid",
              intent: str = INTENT, event_id: str | None = None) -> dict:
    """checkout.session.completed for `payment`, from Stripe's example session."""
    amount = round(payment.order.total * 100) if cents is None else cents
    session = stripe_object(
        "checkout.session", id=payment.provider_session_id, status="complete", payment_status=payment_status,
        amount_total=amount, amount_subtotal=amount, currency="usd", payment_intent=intent,
        client_reference_id=payment.order.number,
        metadata={"order_id": str(payment.order_id), "order_number": payment.order.number,
                  "payment_id": str(payment.pk)},
    )
    return stripe_event("checkout.session.completed", session, event_id=event_id)


def payment_failed(payment: Payment, *, intent: str = INTENT) -> dict:
    pi = stripe_object(
        "payment_intent", id=intent, status="requires_payment_method", amount=round(payment.amount * 100),
        currency="usd", metadata={"order_id": str(payment.order_id), "payment_id": str(payment.pk)},
        last_payment_error={"type": "card_error", "code": "card_declined", "message": "Your card was declined."},
    )
    return stripe_event("payment_intent.payment_failed", pi)


def refund_object(*, cents: int, refund_id: str | None = None, charge: str = "ch_test_1") -> dict:
    return stripe_object("refund", id=refund_id or new_id("re"), amount=cents, charge=charge,
                         payment_intent=INTENT, currency="usd", status="succeeded")


def charge_refunded(*, charge_cents: int, refunds: list[dict], embed: bool = True) -> dict:
    refunded = sum(r["amount"] for r in refunds)
    charge = stripe_object(
        "charge", id="ch_test_1", amount=charge_cents, amount_captured=charge_cents, amount_refunded=refunded,
        captured=True, refunded=refunded == charge_cents, payment_intent=INTENT, currency="usd",
        refunds={"object": "list", "data": refunds if embed else [], "has_more": False,
                 "url": "/v1/charges/ch_test_1/refunds"},
    )
    return stripe_event("charge.refunded", charge)


def _state(order: Order) -> tuple:
    order.refresh_from_db()
    return (order.payment_status, order.fulfilment_status, order.events.count(), Payment.objects.filter(order=order).count(),
            Refund.objects.count())


def test_a_valid_completed_event_marks_the_order_paid_once(client, payment):
    response = post_event(client, completed(payment))

    assert (response.status_code, response.json()) == (200, {"result": "paid"})
    payment.refresh_from_db()
    order = payment.order
    order.refresh_from_db()
    assert order.payment_status == P.PAID and order.paid_at is not None
    assert (payment.status, payment.provider_payment_id, payment.amount) == ("succeeded", INTENT, Decimal("84.95"))
    assert order.events.filter(to_status=P.PAID, actor=OrderEvent.Actor.WEBHOOK).count() == 1
    stored = WebhookEvent.objects.get()
    assert (stored.type, stored.result) == ("checkout.session.completed", "paid")
    assert stored.processed_at is not None


def test_the_same_event_replayed_three_times_changes_nothing_more(client, payment):
    event = completed(payment)
    post_event(client, event)
    before = _state(payment.order)

    answers = [post_event(client, event) for _ in range(3)]

    assert [(a.status_code, a.json()["result"]) for a in answers] == [(200, "duplicate")] * 3
    assert _state(payment.order) == before
    assert WebhookEvent.objects.count() == 1
    assert payment.order.events.filter(to_status=P.PAID).count() == 1


def test_a_second_event_about_the_same_payment_changes_nothing_more(client, payment):
    post_event(client, completed(payment))
    before = _state(payment.order)

    response = post_event(client, completed(payment))  # a new event id, the same session

    assert response.json()["result"] == "ignored: payment already succeeded"
    assert _state(payment.order) == before


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="missing"),
        pytest.param("t=1700000000,v1=deadbeef", id="forged"),
        pytest.param("wrong-secret", id="wrong-secret"),
        pytest.param("stale", id="too-old"),
    ],
)
def test_a_bad_signature_gets_400_and_changes_nothing(client, payment, signature):
    payload = json.dumps(completed(payment))
    if signature == "wrong-secret":
        signature = sign(payload, "whsec_someone_else")
    elif signature == "stale":  # a replay of a captured request, long after
        signature = WebhookSignature.generate_signature_header(payload, settings.STRIPE_WEBHOOK_SECRET,
                                                               timestamp=1_000_000_000)
    before = _state(payment.order)

    response = post_event(client, payload, signature=signature)

    assert response.status_code == 400
    assert _state(payment.order) == before
    assert not WebhookEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_a_body_altered_after_signing_gets_400(client, payment):
    payload = json.dumps(completed(payment))
    header = sign(payload)

    response = post_event(client, payload.replace('"paid"', '"paid" '), signature=header)

    assert response.status_code == 400
    assert payment.order.is_awaiting_payment
    assert not WebhookEvent.objects.exists()


def test_a_signed_body_that_is_not_json_gets_400(client, payment):
    response = post_event(client, "{not json", signature=sign("{not json"))

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_no_webhook_secret_configured_refuses_every_event(client, payment, settings):
    payload = json.dumps(completed(payment))
    header = sign(payload)
    settings.STRIPE_WEBHOOK_SECRET = ""

    assert post_event(client, payload, signature=header).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_the_webhook_takes_only_post(client):
    assert client.get("/payments/stripe/webhook/").status_code == 405


def test_payment_failed_then_completed_ends_paid(client, payment):
    first = post_event(client, payment_failed(payment))
    payment.refresh_from_db()
    assert (first.json()["result"], payment.status) == ("payment failed", "failed")
    assert payment.failure_message == "Your card was declined."
    assert payment.order.is_awaiting_payment

    post_event(client, completed(payment))

    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert (payment.status, payment.order.payment_status) == ("succeeded", P.PAID)
    assert payment.failure_message == ""


def test_a_late_payment_failed_after_completed_leaves_it_paid(client, payment):
    post_event(client, completed(payment))

    response = post_event(client, payment_failed(payment))

    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert response.json()["result"] == "ignored: payment already succeeded"
    assert (payment.status, payment.order.payment_status) == ("succeeded", P.PAID)


def test_an_expired_session_cancels_the_payment_and_the_order_keeps_its_reservation(client, payment, jacket):
    session = stripe_object("checkout.session", id=payment.provider_session_id, status="expired",
                            payment_status="unpaid", metadata={"payment_id": str(payment.pk)})

    response = post_event(client, stripe_event("checkout.session.expired", session))

    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert response.json()["result"] == "payment cancelled"
    assert (payment.status, payment.order.payment_status) == ("cancelled", P.UNPAID)
    assert StockLevel.objects.get(variant=jacket).reserved == 1


def test_the_status_page_polls_until_the_webhook_confirms_and_works_without_javascript(client, fake_stripe, order):
    start_in_browser(client, order)
    payment = Payment.objects.get(order=order)
    url = reverse("payments:status", args=[payment_token(payment)])

    page = client.get(url)  # Stripe's success_url: the shopper is back before the webhook

    [box] = html_tags(page.content, "section", id="payment-status")
    assert box["data-state"] == "processing"
    assert box["data-hx-get"] == f"{url}?shown=processing" and box["data-hx-trigger"] == "every 3s"
    assert html_tags(page.content, "a", id="payment-refresh", href=url)  # the no-JS way
    # the poller hears "nothing new" until the webhook arrives, then goes on to the order
    assert client.get(url, {"shown": "processing"}, headers={"HX-Request": "true"}).status_code == 204
    post_event(client, completed(payment))
    done = client.get(url, {"shown": "processing"}, headers={"HX-Request": "true"})
    assert done["HX-Redirect"] == signed_confirmation_url(order)
    assert client.get(url)["Location"] == signed_confirmation_url(order)


def test_a_delayed_payment_method_is_processing_until_stripe_confirms(client, payment):
    post_event(client, completed(payment, payment_status="unpaid"))
    payment.refresh_from_db()
    assert (payment.status, payment.order.payment_status) == ("processing", P.UNPAID)

    session = completed(payment)["data"]["object"]
    post_event(client, stripe_event("checkout.session.async_payment_succeeded", session))

    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert (payment.status, payment.order.payment_status) == ("succeeded", P.PAID)


def test_a_different_amount_is_not_marked_paid_and_staff_are_alerted(client, payment):
    response = post_event(client, completed(payment, cents=100))

    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert response.json()["result"].startswith("amount mismatch")
    assert payment.order.is_awaiting_payment
    assert payment.status == "succeeded" and payment.amount == Decimal("1.00")  # money did arrive
    assert payment.order.events.filter(kind=OrderEvent.Kind.ALERT).exists()


def test_a_payment_in_another_currency_is_not_marked_paid(client, payment):
    event = completed(payment)
    event["data"]["object"]["currency"] = "eur"

    response = post_event(client, event)

    payment.order.refresh_from_db()
    assert response.json()["result"].startswith("currency mismatch")
    assert payment.order.is_awaiting_payment
    assert payment.order.events.filter(kind=OrderEvent.Kind.ALERT).exists()


def test_unknown_event_types_are_recorded_and_ignored(client, payment):
    event = stripe_event("customer.created", stripe_object("charge"))  # any object

    response = post_event(client, event)

    assert (response.status_code, response.json()["result"]) == (200, "ignored")
    assert WebhookEvent.objects.get().type == "customer.created"
    assert payment.order.is_awaiting_payment


def test_a_session_the_store_did_not_create_is_ignored(client, payment):
    session = stripe_object("checkout.session", id="cs_test_somebody_else", payment_status="paid", metadata={})

    response = post_event(client, stripe_event("checkout.session.completed", session))

    assert response.json()["result"] == "ignored: no payment for session cs_test_somebody_else"


def test_charge_refunded_records_the_refund_and_moves_the_order(client, payment):
    post_event(client, completed(payment))
    first = refund_object(cents=1000, refund_id="re_test_partial")

    response = post_event(client, charge_refunded(charge_cents=8495, refunds=[first]))

    payment.order.refresh_from_db()
    refund = Refund.objects.get()
    assert response.json()["result"] == "refunds recorded: re_test_partial"
    assert (refund.payment, refund.amount, refund.status) == (payment, Decimal("10.00"), "succeeded")
    assert payment.order.payment_status == P.PARTIALLY_REFUNDED

    # Stripe sends the charge again when the rest is refunded: the known refund is not counted twice.
    rest = refund_object(cents=7495, refund_id="re_test_rest")
    post_event(client, charge_refunded(charge_cents=8495, refunds=[rest, first]))

    payment.order.refresh_from_db()
    assert sorted(Refund.objects.values_list("provider_reference", "amount")) == [
        ("re_test_partial", Decimal("10.00")), ("re_test_rest", Decimal("74.95"))]
    assert payment.order.payment_status == P.REFUNDED


def test_charge_refunded_without_its_refunds_fetches_them_from_stripe(client, payment, fake_stripe):
    post_event(client, completed(payment))
    refund = refund_object(cents=8495, refund_id="re_test_listed")
    fake_stripe.answer("get", "/v1/refunds", {"object": "list", "data": [refund], "has_more": False,
                                               "url": "/v1/refunds"})

    post_event(client, charge_refunded(charge_cents=8495, refunds=[refund], embed=False))

    [listed] = fake_stripe.requests_to("get", "/v1/refunds")
    assert listed.params["charge"] == "ch_test_1"
    assert Refund.objects.get().provider_reference == "re_test_listed"
    payment.order.refresh_from_db()
    assert payment.order.payment_status == P.REFUNDED


def test_a_refund_event_before_its_payment_is_confirmed_is_deferred(client, payment):
    # The payment's completion has not arrived yet: Stripe is asked to send the refund again later.
    Payment.objects.filter(pk=payment.pk).update(provider_payment_id=INTENT)

    response = post_event(client, charge_refunded(charge_cents=8495, refunds=[refund_object(cents=8495)]))

    assert response.status_code == 503
    assert not WebhookEvent.objects.exists() and not Refund.objects.exists()


def test_a_late_payment_whose_stock_is_gone_is_refunded_automatically(client, payment, jacket, fake_stripe):
    # given: the reservation ran out, and someone else bought every unit
    order = payment.order
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_unpaid_orders() == 1
    place(jacket, 5, key="someone-else")
    fake_stripe.answer("post", "/v1/refunds", refund_object(cents=8495, refund_id="re_test_auto"))

    # when: the shopper's payment arrives after all
    response = post_event(client, completed(payment))

    # then: the money goes back at once, and staff are told
    order.refresh_from_db()
    assert response.json()["result"] == "refunded automatically (re_test_auto)"
    [sent] = fake_stripe.requests_to("post", "/v1/refunds")
    assert (sent.params["payment_intent"], sent.params["amount"]) == (INTENT, "8495")
    assert sent.headers["Idempotency-Key"] == f"payment-{payment.pk}-refund-1-84.95"
    refund = Refund.objects.get()
    assert (refund.amount, refund.provider_reference, refund.status) == (Decimal("84.95"), "re_test_auto", "succeeded")
    assert order.payment_status == P.REFUNDED
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).exists()
    assert StockLevel.objects.get(variant=jacket).reserved == 5  # the other buyer keeps theirs


def test_a_late_payment_refunded_automatically_emails_staff_once(
    client, payment, jacket, fake_stripe, django_capture_on_commit_callbacks, settings
):
    settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    order = payment.order
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    expire_unpaid_orders()
    place(jacket, 5, key="someone-else")
    fake_stripe.answer("post", "/v1/refunds", refund_object(cents=8495, refund_id="re_test_auto"))
    event = completed(payment)

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, event)
        post_event(client, event)  # Stripe delivers it again

    [subject] = staff_emails(order)
    # Sent after the refund committed: the email says where the money went.
    assert subject.endswith(f"Late payment, stock gone (order {order.number})")
    [email] = [message for message in mail.outbox if message.subject == subject]
    assert "the stock is gone" in email.body and "status now: Refunded" in email.body


def test_a_late_payment_is_kept_when_the_stock_is_still_there(client, payment, fake_stripe):
    order = payment.order
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    expire_unpaid_orders()

    response = post_event(client, completed(payment))

    order.refresh_from_db()
    assert response.json()["result"] == "paid"
    assert order.payment_status == P.PAID
    assert fake_stripe.requests_to("post", "/v1/refunds") == []


def test_a_payment_for_a_cancelled_order_is_refunded_and_the_order_says_so(client, payment, fake_stripe):
    cancel_order(order_id=payment.order_id, actor=OrderEvent.Actor.CUSTOMER)
    fake_stripe.answer("post", "/v1/refunds", refund_object(cents=8495, refund_id="re_test_cancelled"))

    response = post_event(client, completed(payment))

    order = payment.order
    order.refresh_from_db()
    assert response.json()["result"] == "refunded automatically (re_test_cancelled)"
    assert order.payment_status == P.REFUNDED  # not "cancelled" with the money's fate only in the history
    moved = order.events.get(to_status=P.REFUNDED)
    assert (moved.from_status, moved.actor, moved.data["amount"]) == (P.UNPAID, OrderEvent.Actor.WEBHOOK, "84.95")
    assert order.fulfilment_status == FS.CANCELLED
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).exists()


def test_a_cancelled_orders_money_pending_at_stripe_leaves_it_cancelled_until_it_is_back(
    client, payment, fake_stripe
):
    cancel_order(order_id=payment.order_id, actor=OrderEvent.Actor.CUSTOMER)
    pending = {**refund_object(cents=8495, refund_id="re_test_slow"), "status": "pending"}
    fake_stripe.answer("post", "/v1/refunds", pending)
    post_event(client, completed(payment))
    order = payment.order
    order.refresh_from_db()
    assert order.fulfilment_status == FS.CANCELLED

    post_event(client, stripe_event("refund.updated", {**pending, "status": "succeeded"}))

    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED


def test_a_second_payment_for_a_paid_order_is_refunded_and_the_order_stays_paid(client, payment, fake_stripe):
    # given: two tabs, two Checkout Sessions, the first one paid
    post_event(client, completed(payment))
    second = Payment.objects.create(order=payment.order, provider="stripe", amount=payment.amount, currency="USD",
                                    provider_session_id="cs_test_second_tab")
    fake_stripe.answer("post", "/v1/refunds", refund_object(cents=8495, refund_id="re_test_second"))

    # when: the second is paid too
    response = post_event(client, completed(second, intent="pi_test_second"))

    # then
    payment.order.refresh_from_db()
    assert response.json()["result"] == "second payment refunded automatically (re_test_second)"
    assert payment.order.payment_status == P.PAID
    assert Refund.objects.get().payment == second
    assert payment.order.events.filter(kind=OrderEvent.Kind.ALERT).exists()


def test_second_payments_and_wrong_currencies_email_staff(client, payment, fake_stripe, settings,
                                                         django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    post_event(client, completed(payment))
    second = Payment.objects.create(order=payment.order, provider="stripe", amount=payment.amount, currency="USD",
                                    provider_session_id="cs_test_second_tab")
    fake_stripe.answer("post", "/v1/refunds", refund_object(cents=8495, refund_id="re_test_second"))
    third = Payment.objects.create(order=payment.order, provider="stripe", amount=payment.amount, currency="USD",
                                   provider_session_id="cs_test_third_tab")
    eur = completed(third, intent="pi_test_eur")
    eur["data"]["object"]["currency"] = "eur"

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, completed(second, intent="pi_test_second"))
        post_event(client, eur)

    subjects = staff_emails(payment.order)
    assert sorted(subject.split(": ", 1)[1] for subject in subjects) == [
        f"Payment in another currency (order {payment.order.number})",
        f"Second payment refunded automatically (order {payment.order.number})",
    ]


def test_a_crash_while_processing_leaves_the_event_to_be_retried(client, payment, monkeypatch):
    event = completed(payment)

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.flow, "confirm_payment", crash)
    with pytest.raises(RuntimeError):
        post_event(client, event)
    assert not WebhookEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "pending"

    monkeypatch.setattr(services.flow, "confirm_payment", confirm_payment)
    response = post_event(client, event)  # Stripe's retry

    payment.order.refresh_from_db()
    assert response.json()["result"] == "paid"
    assert payment.order.payment_status == P.PAID
