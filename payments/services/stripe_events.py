"""Stripe's webhook events: each verified event processed once, in one transaction.

Handlers find our payment for the Stripe object, lock it, then settle, fail or refund it through
the provider-neutral flow (`flow.settle_success`, `refunds`), which moves the order.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import OrderEvent
from orders.services import alert_staff
from shop.money import format_money

from ..models import Payment, Provider, Refund, WebhookEvent
from ..providers.stripe import expandable_id, from_minor_units, list_refunds, refund_status
from .flow import record_decline, settle_success
from .refunds import record_pending_refund, refund_failed, refundable_amount, tell_order

logger = logging.getLogger(__name__)

S = Payment.Status


class RetryLater(Exception):
    """An event that depends on one not yet received (a refund before its payment's completion).

    Nothing is stored; the webhook answers 503 and Stripe delivers the event again later.
    """



def handle_stripe_event(*, event) -> str:
    """Process one verified Stripe event exactly once; return what was done (also stored).

    `event` is a `stripe.Event` (from `stripe.Webhook.construct_event`) or its dict. One
    transaction: the WebhookEvent row, unique by event id, is inserted first, then the work. A
    replay (or a concurrent second delivery, which waits on the unique index) finds the row and
    returns "duplicate" having changed nothing; an exception rolls both back, so Stripe's retry
    processes the event again. Handlers lock the payment row, then the order (orders.services),
    and may call Stripe's Refunds API inside the transaction (automatic refunds). Unknown event
    types are recorded and ignored. Raises RetryLater for an event that must wait for another.
    """
    data = event.to_dict(for_json=True) if hasattr(event, "to_dict") else dict(event)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    provider=Provider.STRIPE, event_id=data["id"], type=data["type"], payload=data
                )
        except IntegrityError:
            return "duplicate"
        handler = _STRIPE_HANDLERS.get(data["type"])
        result = handler(data["data"]["object"]) if handler else "ignored"
        record.result = result[:255]
        record.processed_at = timezone.now()
        record.save(update_fields=["result", "processed_at"])
    logger.info("Stripe event %s (%s): %s", data["id"], data["type"], result)
    return result


def _locked_stripe_payment(*, session_id: str = "", intent_id: str = "", metadata: dict | None = None) -> Payment | None:
    """Our payment for a Stripe object, locked: by its session or PaymentIntent id, else the
    payment id we put in its metadata."""
    payments = Payment.objects.select_for_update().filter(provider=Provider.STRIPE)
    payment = None
    if session_id:
        payment = payments.filter(provider_session_id=session_id).first()
    if payment is None and intent_id:
        payment = payments.filter(provider_payment_id=intent_id).first()
    payment_id = str((metadata or {}).get("payment_id") or "")
    if payment is None and payment_id.isdigit():
        payment = payments.filter(pk=int(payment_id)).first()
    return payment


def _on_session_completed(session: dict) -> str:
    payment = _locked_stripe_payment(session_id=session["id"], metadata=session.get("metadata"))
    if payment is None:
        return f"ignored: no payment for session {session['id']}"
    intent = expandable_id(session.get("payment_intent"))
    if session.get("payment_status") == "paid":
        return _on_session_paid(payment, session, intent)
    # A delayed method (a bank debit): the money follows in checkout.session.async_payment_succeeded.
    if payment.status in (S.PENDING, S.FAILED):
        payment.status = S.PROCESSING
        payment.provider_payment_id = intent or payment.provider_payment_id
        payment.save(update_fields=["status", "provider_payment_id", "updated_at"])
        return "processing"
    return f"ignored: payment already {payment.status}"


def _on_session_paid(payment: Payment, session: dict, intent: str) -> str:
    return _on_money_taken(payment, raw={"checkout_session": session}, currency=session.get("currency") or "",
                           minor_amount=session["amount_total"], intent=intent)


def _on_intent_succeeded(intent: dict) -> str:
    """payment_intent.succeeded: the money is taken. Stripe sends it beside
    checkout.session.completed, in any order; whichever comes first settles the payment and the
    other finds it succeeded. It alone is enough when the session's event is lost or late."""
    payment = _locked_stripe_payment(intent_id=intent["id"], metadata=intent.get("metadata"))
    if payment is None:
        return f"ignored: no payment for {intent['id']}"
    received = intent.get("amount_received") or intent["amount"]
    return _on_money_taken(payment, raw={"payment_intent": intent}, currency=intent.get("currency") or "",
                           minor_amount=received, intent=intent["id"])


def _on_money_taken(payment: Payment, *, raw: dict, currency: str, minor_amount: int, intent: str) -> str:
    if payment.status == S.SUCCEEDED:
        return "ignored: payment already succeeded"
    payment.raw = {**payment.raw, **raw}
    payment.save(update_fields=["raw", "updated_at"])
    currency = currency.upper()
    amount = from_minor_units(minor_amount, currency or payment.currency)
    if currency and currency != payment.currency:
        payment.status = S.SUCCEEDED
        payment.succeeded_at = timezone.now()
        payment.provider_payment_id = intent or payment.provider_payment_id
        payment.save(update_fields=["status", "succeeded_at", "provider_payment_id", "updated_at"])
        alert_staff(order_id=payment.order_id, actor=OrderEvent.Actor.WEBHOOK, subject="Payment in another currency",
                    message=f"Payment {intent} was made in {currency}, not {payment.currency}; not marked paid.")
        return "currency mismatch: not marked paid, staff alerted"
    return settle_success(payment=payment, amount=amount, reference=intent, actor=OrderEvent.Actor.WEBHOOK)


def _on_async_payment_succeeded(session: dict) -> str:
    payment = _locked_stripe_payment(session_id=session["id"], metadata=session.get("metadata"))
    if payment is None:
        return f"ignored: no payment for session {session['id']}"
    return _on_session_paid(payment, session, expandable_id(session.get("payment_intent")))


def _on_session_expired(session: dict) -> str:
    payment = _locked_stripe_payment(session_id=session["id"], metadata=session.get("metadata"))
    if payment is None:
        return f"ignored: no payment for session {session['id']}"
    if payment.status not in (S.PENDING, S.FAILED):
        return f"ignored: payment already {payment.status}"
    # The order keeps its reservation until its own expiry task runs; the shopper may start again.
    payment.status = S.CANCELLED
    payment.save(update_fields=["status", "updated_at"])
    return "payment cancelled"


def _mark_failed(payment: Payment, *, intent: str, message: str, code: str = "") -> str:
    if payment.status not in (S.PENDING, S.PROCESSING, S.FAILED):
        # A late failure after the payment succeeded (or its page closed) changes nothing.
        return f"ignored: payment already {payment.status}"
    payment.status = S.FAILED
    payment.failure_message = message
    payment.provider_payment_id = payment.provider_payment_id or intent
    payment.save(update_fields=["status", "failure_message", "provider_payment_id", "updated_at"])
    record_decline(payment, reason=message, code=code, actor=OrderEvent.Actor.WEBHOOK)
    return "payment failed"


def _on_intent_failed(intent: dict) -> str:
    payment = _locked_stripe_payment(intent_id=intent["id"], metadata=intent.get("metadata"))
    if payment is None:
        return f"ignored: no payment for {intent['id']}"
    # Only Stripe's words and codes are kept: the error's payment_method (card brand, last
    # digits, fingerprint) stays out of the payment row and the order's history.
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code") or ""
    return _mark_failed(payment, intent=intent["id"], message=error.get("message") or "", code=str(code))


def _on_async_payment_failed(session: dict) -> str:
    payment = _locked_stripe_payment(session_id=session["id"], metadata=session.get("metadata"))
    if payment is None:
        return f"ignored: no payment for session {session['id']}"
    return _mark_failed(payment, intent=expandable_id(session.get("payment_intent")),
                        message=_DELAYED_FAILED, code="async_payment_failed")


# What the shopper and staff read when a delayed method (a bank debit) failed: Stripe's event says no more.
_DELAYED_FAILED = "Your bank did not complete the payment. No money was taken."


def _on_charge_refunded(charge: dict) -> str:
    """Record refunds made at Stripe (the dashboard, or ours whose answer was lost), once each,
    and bring the ones already recorded up to the status the charge shows."""
    intent = expandable_id(charge.get("payment_intent"))
    payment = _locked_stripe_payment(intent_id=intent, metadata=charge.get("metadata")) if intent else None
    if payment is None:
        return f"ignored: no payment for charge {charge['id']}"
    if payment.status != S.SUCCEEDED:
        raise RetryLater(f"charge {charge['id']} refunded before its payment {payment.pk} was confirmed")
    embedded = (charge.get("refunds") or {}).get("data") or []
    stripe_refunds = embedded
    if sum(r["amount"] for r in embedded if r.get("status") in ("succeeded", "pending")) < charge["amount_refunded"]:
        stripe_refunds = list_refunds(charge["id"])  # the event carried only some (or none) of them
    recorded = []
    for item in sorted(stripe_refunds, key=lambda r: (r.get("created") or 0, r["id"])):
        if refund_status(item) == Refund.Status.FAILED and not Refund.objects.filter(
            provider_reference=item["id"]
        ).exists():
            continue  # never recorded and nothing given back; its refund.failed event records it
        if _sync_refund(payment, item).startswith("recorded"):
            recorded.append(item["id"])
    return f"refunds recorded: {', '.join(recorded)}" if recorded else "refunds already recorded"


def _on_refund_event(stripe_refund: dict) -> str:
    """refund.created, refund.updated, refund.failed, charge.refund.updated: one refund's status.

    The payment is found through the refund we recorded, else the refund's PaymentIntent or the
    payment id in its metadata (our refunds carry it), and locked before the refund is read, so
    this waits for a `refund_payment` still talking to Stripe about the same payment.
    """
    refunds = Refund.objects.filter(provider_reference=stripe_refund["id"], payment__provider=Provider.STRIPE)
    payment_id = refunds.values_list("payment_id", flat=True).first()
    if payment_id is not None:
        payment = Payment.objects.select_for_update().get(pk=payment_id)
    else:
        payment = _locked_stripe_payment(intent_id=expandable_id(stripe_refund.get("payment_intent")),
                                         metadata=stripe_refund.get("metadata"))
    if payment is None:
        return f"ignored: no payment for refund {stripe_refund['id']}"
    if payment.status != S.SUCCEEDED and not refunds.exists():
        raise RetryLater(f"refund {stripe_refund['id']} before its payment {payment.pk} was confirmed")
    return _sync_refund(payment, stripe_refund)


def _ours_without_answer(payment: Payment, item: dict) -> Refund | None:
    """The refund we recorded and sent whose answer never came (`Refund.awaiting_provider`), named
    by the refund id our call put in the metadata: it takes Stripe's id, so it is not recorded twice.
    Precondition: the payment's row lock (the refund is only written under it)."""
    refund_id = str((item.get("metadata") or {}).get("refund_id") or "")
    if not refund_id.isdigit():
        return None
    refund = Refund.objects.filter(pk=int(refund_id), payment=payment, status=Refund.Status.PENDING,
                                   provider_reference="").first()
    if refund is not None:
        refund.provider_reference, refund.failure_reason = item["id"], ""
        refund.save(update_fields=["provider_reference", "failure_reason"])
    return refund


def _sync_refund(payment: Payment, item: dict) -> str:
    """Record the Stripe refund `item` of `payment`, or move our record to the status Stripe
    reports: pending -> succeeded (the order moves now) | failed (staff alerted), and
    succeeded -> failed (the order moves back). Older news (a pending after a succeeded, anything
    after failed) changes nothing, so events may arrive in any order and any number of times.

    Precondition: inside a transaction holding the payment's row lock; the payment succeeded.
    Returns "recorded ..." when it wrote a new Refund.
    """
    actor = OrderEvent.Actor.WEBHOOK
    status = refund_status(item)
    refund = Refund.objects.filter(provider_reference=item["id"]).first()
    if refund is None:
        refund = _ours_without_answer(payment, item)
    created = refund is None
    if created:
        amount = from_minor_units(item["amount"], item.get("currency") or payment.currency)
        if status != Refund.Status.FAILED and amount > refundable_amount(payment):
            alert_staff(order_id=payment.order_id, actor=actor, subject="Refund at Stripe larger than the payment",
                        message=f"Stripe refund {item['id']} of {format_money(amount, payment.currency)} is more than "
                                f"is left of payment {payment.provider_payment_id}; not recorded.")
            return f"not recorded: refund {item['id']} is more than is left"
        refund = Refund.objects.create(payment=payment, amount=amount, provider_reference=item["id"],
                                       status=Refund.Status.PENDING, reason="Refunded at Stripe.")
        if status == Refund.Status.PENDING:
            record_pending_refund(payment=payment, refund=refund, actor=actor, user=None)
            return f"recorded {item['id']}: pending"
    if status == refund.status or status not in Refund.NEXT[refund.status]:
        return f"refund {item['id']}: already {refund.status}"
    was = refund.status
    refund.status = status
    refund.failure_reason = (item.get("failure_reason") or "")[:255] if status == Refund.Status.FAILED else ""
    refund.save(update_fields=["status", "failure_reason"])
    if status == Refund.Status.SUCCEEDED:
        tell_order(payment=payment, refund=refund, actor=actor, user=None)
    else:
        refund_failed(payment=payment, refund=refund, counted=was == Refund.Status.SUCCEEDED)
    return f"{'recorded' if created else 'refund'} {item['id']}: {status}"



_STRIPE_HANDLERS: dict[str, Callable[[dict], str]] = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_async_payment_succeeded,
    "checkout.session.async_payment_failed": _on_async_payment_failed,
    "checkout.session.expired": _on_session_expired,
    "payment_intent.succeeded": _on_intent_succeeded,
    "payment_intent.payment_failed": _on_intent_failed,
    "charge.refunded": _on_charge_refunded,
    "charge.refund.updated": _on_refund_event,
    "refund.created": _on_refund_event,
    "refund.updated": _on_refund_event,
    "refund.failed": _on_refund_event,
}
