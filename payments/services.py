"""Writes for payments: start one, settle it, refund it, and process the provider's events.

Lock order, everywhere: the payment row first, then the order row (taken by `orders.services`).
The order's status moves only through `orders.services.confirm_payment` / `record_refund`; this
module keeps the ledger (payments and refunds) and tells the order what the money did.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

import analytics
from orders.models import PAID_STATUSES, Order, OrderEvent
from orders.services import PaymentOutcome, alert_staff, confirm_payment, record_refund, record_refund_failure
from orders.status import can_transition
from shop.money import format_money, quantize

from .exceptions import OrderNotPayable, ProviderUnavailable, RefundNotAllowed
from .links import remember_payment, status_url
from .models import Payment, Provider, Refund, WebhookEvent
from .providers import get_provider
from .providers.demo import DemoProvider
from .providers.stripe import expandable_id, from_minor_units, list_refunds, refund_status

logger = logging.getLogger(__name__)

S = Payment.Status
O = Order.Status
# Orders that kept their payment: refunds of these move the order to (partially) refunded.
KEPT = PAID_STATUSES


class RetryLater(Exception):
    """An event that depends on one not yet received (a refund before its payment's completion).

    Nothing is stored; the webhook answers 503 and Stripe delivers the event again later.
    """


# --- Starting a payment -------------------------------------------------------------------------


def open_payment(*, order: Order) -> Payment | None:
    """The first payment of an order created in the caller's transaction (checkout calls it
    through `place_order(on_placed=...)`); None when there is nothing to pay.

    Precondition: `order` was inserted in the current transaction, so no other request can see it
    and it has no earlier attempt: no row lock and no look at earlier payments are needed (they
    are when paying an existing order: `start_payment`). One query. Pass the result to
    `start_payment(payment=...)` after commit.
    """
    if order.status != O.PENDING_PAYMENT or order.total <= 0:
        return None
    return _new_payment(order, get_provider())


def _new_payment(order: Order, provider) -> Payment:
    # The demo's "session" is ours to name: naming it here saves its start() an UPDATE.
    session_id = DemoProvider.new_session_id() if provider.name == Provider.DEMO else ""
    return Payment.objects.create(
        order=order, provider=provider.name, amount=order.total, currency=order.currency,
        provider_session_id=session_id,
    )


def start_payment(*, order: Order, request: HttpRequest, payment: Payment | None = None) -> HttpResponse:
    """Send the shopper to pay `order` with the store's provider; return that redirect.

    Picks or creates the Payment in a short transaction holding the order's row lock, so a
    double click or a second tab gets the same payment (and at Stripe the same Checkout page,
    by its idempotency key) instead of a second charge. The provider is called after that
    transaction: no lock is held while it talks to the network. The payment is remembered in
    the browser session, which is what lets this shopper open its pages. While a delayed payment
    (a bank debit) is processing, the shopper is sent to its status page instead of paying
    twice. For an htmx request the redirect is an `HX-Redirect` (the payment page may be on
    another site).

    `payment` is one `open_payment` made in the transaction that created `order` (checkout): it
    is used as it is, without that transaction and its lock.

    Raises OrderNotPayable when the order is not pending payment, its reservation has run out
    (its stock is about to be released), it has nothing to pay, or a payment of it already took
    money that staff must settle first (a different amount), and ProviderUnavailable when
    the provider cannot be reached (nothing charged; the shopper can try again).
    """
    provider = get_provider(payment.provider if payment is not None else None)
    processing = None
    if payment is None:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if locked.status != O.PENDING_PAYMENT or locked.total <= 0:
                raise OrderNotPayable(number=locked.number, reason=_not_payable_reason(locked.status))
            if locked.reservation_expires_at is not None and locked.reservation_expires_at <= timezone.now():
                raise OrderNotPayable(number=locked.number, reason="expired")
            processing, reusable, holds_money = _earlier_attempts(locked, provider.name)
            if holds_money:
                # A payment already took money the order did not keep (a different amount): staff
                # settle it first (payments.selectors.holds_unkept_money); never a second charge.
                raise OrderNotPayable(number=locked.number, reason="review")
            payment = processing or reusable or _new_payment(locked, provider)
    elif payment.order_id != order.pk:
        raise ValueError(f"Payment {payment.pk} is not order {order.number}'s.")
    remember_payment(request, payment)
    if processing is not None:
        response = HttpResponseRedirect(status_url(payment))
    else:
        try:
            response = provider.start(payment, request)
        except ProviderUnavailable as error:
            # Stripe replays a stored error for the same idempotency key for a day, so the next
            # try must be a new payment (a new key), not this one again.
            # A provider's session that exists may still be paid, so only one never opened goes
            # (the demo names its session itself before start(), so its id proves nothing).
            Payment.objects.filter(Q(provider_session_id="") | Q(provider=Provider.DEMO), pk=payment.pk).update(
                status=S.CANCELLED, failure_message=Payment.NOT_OPENED,
                updated_at=timezone.now(),
            )
            payment.status, payment.failure_message = S.CANCELLED, Payment.NOT_OPENED
            error.payment = payment
            raise
    if getattr(request, "htmx", False) and response.has_header("Location"):
        return HttpResponseClientRedirect(response["Location"])
    return response


def _not_payable_reason(status: str) -> str:
    if status in (O.PAID, O.PARTIALLY_FULFILLED, O.FULFILLED, O.COMPLETED):
        return "paid"
    return {O.CANCELLED: "cancelled", O.EXPIRED: "expired"}.get(status, "")


def _earlier_attempts(order: Order, provider: str) -> tuple[Payment | None, Payment | None, bool]:
    """The order's payment still processing (a bank debit on its way: paying again could take the
    money twice), its latest attempt with `provider` that can still be paid (page open), and
    whether one of its payments already succeeded (the order, still pending, did not keep it)."""
    attempts = Payment.objects.filter(
        order=order, status__in=(S.PROCESSING, S.PENDING, S.FAILED, S.SUCCEEDED)).order_by("-pk")
    processing = reusable = None
    holds_money = False
    now = timezone.now()
    for attempt in attempts:
        attempt.order = order
        if attempt.status == S.SUCCEEDED:
            holds_money = True
        elif attempt.status == S.PROCESSING:
            processing = processing or attempt
        elif reusable is None and attempt.provider == provider and attempt.amount == order.total \
                and attempt.currency == order.currency and not (attempt.expires_at and attempt.expires_at <= now):
            reusable = attempt
    return processing, reusable, holds_money


# --- The demo card ------------------------------------------------------------------------------


def pay_with_demo_card(*, payment_id: int, card_number: str, user: AbstractBaseUser | None = None) -> Payment:
    """Charge a demo test card for a demo payment (no money moves) and settle the result.

    One transaction holding the payment's row lock: a double submit charges once (a payment that
    already succeeded is returned unchanged). A success is settled like a provider's
    confirmation (`orders.services.confirm_payment`; the "payment received" email is enqueued
    after commit). A decline marks the payment failed with the reason; the order stays pending
    and the same payment may be tried again. Raises OrderNotPayable, charging nothing, when the
    order no longer waits for payment.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id)
        if payment.provider != Provider.DEMO:
            raise ValueError(f"Payment {payment.pk} is not a demo payment.")
        if payment.status == S.SUCCEEDED:
            return payment
        if payment.status == S.CANCELLED or payment.order.status != O.PENDING_PAYMENT:
            raise OrderNotPayable(number=payment.order.number)
        charge = DemoProvider().charge(payment=payment, card_number=card_number)
        if not charge.succeeded:
            payment.status = S.FAILED
            payment.failure_message = charge.message
            payment.save(update_fields=["status", "failure_message", "updated_at"])
            _record_decline(payment, reason=charge.message, code="card_declined", actor=OrderEvent.Actor.CUSTOMER,
                            user=user)
            return payment
        actor = OrderEvent.Actor.CUSTOMER
        _settle_success(payment=payment, amount=payment.amount, reference=charge.reference, actor=actor, user=user)
    return payment


# --- Money in -----------------------------------------------------------------------------------


def _settle_success(
    *, payment: Payment, amount: Decimal, reference: str, actor: str, user: AbstractBaseUser | None = None
) -> str:
    """Record that the provider took `amount` and tell the order; return what happened.

    Precondition: inside a transaction holding the payment's row lock; the payment has not
    succeeded before. Money the order cannot keep is refunded at once through the provider: a
    late payment whose stock is gone or whose order was cancelled (confirm_payment says
    NEEDS_REFUND and alerts staff), or a second payment for an order another payment already paid.
    """
    payment.status = S.SUCCEEDED
    payment.amount = amount
    payment.succeeded_at = timezone.now()
    payment.failure_message = ""
    payment.provider_payment_id = reference or payment.provider_payment_id
    payment.save(update_fields=["status", "amount", "succeeded_at", "failure_message", "provider_payment_id",
                                "updated_at"])
    outcome = confirm_payment(order_id=payment.order_id, amount=amount, actor=actor, reference=reference, user=user)
    if outcome is PaymentOutcome.PAID:
        analytics.record_on_commit(None, "order_paid", order_id=payment.order_id, amount=str(amount))
        return "paid"
    if outcome is PaymentOutcome.AMOUNT_MISMATCH:
        return "amount mismatch: not marked paid, staff alerted"
    if outcome is PaymentOutcome.NEEDS_REFUND:
        refund = _refund_locked(payment=payment, amount=amount, user=None, actor=actor,
                                reason="Automatic: the order could not keep this payment.")
        return f"refunded automatically ({refund.provider_reference})"
    # ALREADY_PAID: the order moved on without this payment.
    # A manual payment is staff's word, not money the store saw arrive: left to them (below).
    paid_by_another = Payment.objects.filter(order_id=payment.order_id, status=S.SUCCEEDED).exclude(
        pk=payment.pk).exclude(provider=Provider.MANUAL)
    if paid_by_another.exists():
        refund = _refund_locked(payment=payment, amount=amount, user=None, actor=actor,
                                reason="Automatic: the order was already paid by another payment.")
        alert_staff(order_id=payment.order_id, actor=actor, subject="Second payment refunded automatically",
                    message=f"A second payment {reference} of {format_money(amount, payment.currency)} arrived for an "
                            f"order already paid; refunded automatically ({refund.provider_reference}).")
        return f"second payment refunded automatically ({refund.provider_reference})"
    # Paid some other way (marked paid by staff, a manual payment): whether this money is surplus is
    # theirs to judge.
    alert_staff(order_id=payment.order_id, actor=actor, subject="Payment for an order already paid otherwise",
                message=f"Payment {reference} of {format_money(amount, payment.currency)} arrived for an order that "
                        f"was already paid otherwise; check it and refund it if it is not needed.")
    return "order already paid otherwise: staff alerted"


def _order_event(order_id: int, kind: str, actor: str, message: str, user: AbstractBaseUser | None = None) -> None:
    OrderEvent.objects.create(order_id=order_id, kind=kind, actor=actor, message=message,
                              user=user if user is not None and user.is_authenticated else None)


def record_manual_payment(*, order_id: int, user: AbstractBaseUser) -> tuple[PaymentOutcome, Payment | None]:
    """Record money staff received outside the store (a bank transfer, cash) for the order's total.

    One transaction holding the order's row lock: `orders.services.confirm_payment` moves the
    order to paid (a late one only if its stock can be reserved again; the "payment received"
    email is enqueued after commit), and only then is the Payment written: provider "manual",
    the order's total, succeeded, `created_by` the staff member. So a second click, or an order
    that cannot be marked paid, writes no payment. The payment is refundable like any other
    (`refund_payment`; the manual provider records the refund and staff pay it back by hand).
    Returns confirm_payment's outcome and the payment (None unless PAID).
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.STAFF,
                                  reference="manual", user=user)
        if outcome is not PaymentOutcome.PAID or order.total <= 0:
            return outcome, None  # nothing to record (a free order has nothing to refund either)
        payment = Payment.objects.create(
            order=order, provider=Provider.MANUAL, status=S.SUCCEEDED, amount=order.total, currency=order.currency,
            succeeded_at=timezone.now(), created_by=user if user.is_authenticated else None,
        )
    return outcome, payment


# --- Money out ----------------------------------------------------------------------------------


def refund_payment(*, payment_id: int, amount: Decimal, user: AbstractBaseUser | None, reason: str = "") -> Refund:
    """Give `amount` of a succeeded payment back through its provider, and tell the order.

    One transaction holding the payment's row lock, then the order's: concurrent refunds of a
    payment queue, and `amount` is checked under that lock against what is left (paid minus
    refunded), so refunds never exceed the payment. The provider is called inside the
    transaction with an idempotency key (a retried refund is not refunded twice); if it fails,
    nothing is recorded and ProviderUnavailable is raised. Raises RefundNotAllowed, calling no
    provider, for a non-positive amount, a payment that did not succeed, or more than is left.
    A refund the provider finished moves the order through `orders.services.record_refund`,
    which enqueues the "refunded" email after commit; one it reports pending (Stripe) is recorded
    pending and moves the order when Stripe's refund events say it succeeded. A manual payment's
    refund calls nobody: it is recorded, and its reason says staff pay it back by hand.
    """
    actor = OrderEvent.Actor.STAFF if user is not None else OrderEvent.Actor.SYSTEM
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        return _refund_locked(payment=payment, amount=Decimal(amount), user=user, actor=actor, reason=reason)


def refundable_amount(payment: Payment) -> Decimal:
    """What is left to refund of `payment`: what it took minus its refunds that did not fail."""
    if payment.status != S.SUCCEEDED:
        return Decimal("0")
    refunded = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(total=Sum("amount"))["total"]
    return payment.amount - (refunded or Decimal("0"))


def _refund_locked(*, payment: Payment, amount: Decimal, user: AbstractBaseUser | None, actor: str,
                   reason: str) -> Refund:
    """Precondition: inside a transaction holding the payment's row lock."""
    amount = quantize(amount, payment.currency)
    left = refundable_amount(payment)
    if amount <= 0 or amount > left:
        raise RefundNotAllowed(requested=amount, refundable=left, currency=payment.currency)
    # The key names the refund's place and amount: a retry of the same refund after a lost answer
    # gets the provider's first result, never a second refund.
    number = payment.refunds.count() + 1
    refund = Refund.objects.create(
        payment=payment, amount=amount, status=Refund.Status.PENDING, reason=reason,
        idempotency_key=f"payment-{payment.pk}-refund-{number}-{amount}",
        created_by=user if user is not None and user.is_authenticated else None,
    )
    result = get_provider(payment.provider).refund(refund)
    refund.provider_reference = result.reference
    refund.status = Refund.Status.SUCCEEDED if result.succeeded else Refund.Status.PENDING
    refund.reason = " ".join(filter(None, [reason.strip(), result.note]))
    refund.save(update_fields=["provider_reference", "status", "reason"])
    if refund.status == Refund.Status.SUCCEEDED:
        _tell_order(payment=payment, refund=refund, actor=actor, user=user)
    else:
        _pending_event(payment=payment, refund=refund, actor=actor, user=user)
    return refund


def _tell_order(*, payment: Payment, refund: Refund, actor: str, user: AbstractBaseUser | None) -> None:
    """Move the order after `refund` succeeded, counting only money the order kept.

    Precondition: inside a transaction holding the payment's row lock; takes the order's;
    `refund` has succeeded (pending refunds move no order: the money has not been returned yet).
    `record_refund` compares what was refunded with the order total, so a refund of surplus money
    (a second payment for the same order) is left out of that sum and moves nothing. Money an
    expired or cancelled order never kept, once all of it is returned, makes the order refunded
    (so its status says where the money went). Any other refund is written in the order's history
    without a status change.
    """
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    message = f"Refunded {format_money(refund.amount, payment.currency)} of payment {payment.provider_payment_id}" \
              f" ({refund.provider_reference})" + (f": {refund.reason}" if refund.reason else "")
    so_far, fully = _refund_progress(order)
    target = None
    if order.status in KEPT:
        amount = min(refund.amount, so_far)
        if so_far > 0:
            target = O.REFUNDED if fully else O.PARTIALLY_REFUNDED
    elif order.status in (O.EXPIRED, O.CANCELLED) and fully:
        amount, so_far, target = refund.amount, order.total, O.REFUNDED
    if target is not None and can_transition(order.status, target):
        record_refund(order_id=order.pk, amount=amount, refunded_so_far=so_far, actor=actor,
                      reference=refund.provider_reference, user=user)
    else:
        _order_event(order.pk, OrderEvent.Kind.REFUND, actor, message, user)


def _sum(queryset, field: str) -> Decimal:
    return queryset.aggregate(total=Sum(field))["total"] or Decimal("0")


def _returned(order: Order) -> Decimal:
    """Money actually given back for `order`: its succeeded refunds (pending ones are on their way)."""
    return _sum(Refund.objects.filter(payment__order=order, status=Refund.Status.SUCCEEDED), "amount")


# --- Stripe events ------------------------------------------------------------------------------


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
    if payment.status == S.SUCCEEDED:
        return "ignored: payment already succeeded"
    payment.raw = {**payment.raw, "checkout_session": session}
    payment.save(update_fields=["raw", "updated_at"])
    currency = (session.get("currency") or "").upper()
    amount = from_minor_units(session["amount_total"], currency or payment.currency)
    if currency and currency != payment.currency:
        payment.status = S.SUCCEEDED
        payment.succeeded_at = timezone.now()
        payment.provider_payment_id = intent or payment.provider_payment_id
        payment.save(update_fields=["status", "succeeded_at", "provider_payment_id", "updated_at"])
        alert_staff(order_id=payment.order_id, actor=OrderEvent.Actor.WEBHOOK, subject="Payment in another currency",
                    message=f"Payment {intent} was made in {currency}, not {payment.currency}; not marked paid.")
        return "currency mismatch: not marked paid, staff alerted"
    return _settle_success(payment=payment, amount=amount, reference=intent, actor=OrderEvent.Actor.WEBHOOK)


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
    _record_decline(payment, reason=message, code=code, actor=OrderEvent.Actor.WEBHOOK)
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


def _record_decline(payment: Payment, *, reason: str, code: str, actor: str,
                    user: AbstractBaseUser | None = None) -> None:
    """Write a declined attempt in the order's history: the provider's reason and code, no card data.

    The shopper's order page shows it ("Payment declined" and the reason: orders.selectors).
    Precondition: inside the transaction that marked `payment` failed.
    """
    reason = (reason or "").strip()[:500]
    amount = format_money(payment.amount, payment.currency)
    OrderEvent.objects.create(
        order_id=payment.order_id, kind=OrderEvent.Kind.PAYMENT, actor=actor,
        user=user if user is not None and user.is_authenticated else None,
        message=f"Payment of {amount} declined by {payment.get_provider_display()}"
                + (f": {reason}" if reason else "") + (f" ({code})" if code else ""),
        data={"outcome": "declined", "payment": payment.pk, "reason": reason, "code": code},
    )


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
            _pending_event(payment=payment, refund=refund, actor=actor, user=None)
            return f"recorded {item['id']}: pending"
    if status == refund.status or status not in Refund.NEXT[refund.status]:
        return f"refund {item['id']}: already {refund.status}"
    was = refund.status
    refund.status = status
    refund.failure_reason = (item.get("failure_reason") or "")[:255] if status == Refund.Status.FAILED else ""
    refund.save(update_fields=["status", "failure_reason"])
    if status == Refund.Status.SUCCEEDED:
        _tell_order(payment=payment, refund=refund, actor=actor, user=None)
    else:
        _refund_failed(payment=payment, refund=refund, counted=was == Refund.Status.SUCCEEDED)
    return f"{'recorded' if created else 'refund'} {item['id']}: {status}"


def _pending_event(*, payment: Payment, refund: Refund, actor: str, user: AbstractBaseUser | None) -> None:
    _order_event(payment.order_id, OrderEvent.Kind.REFUND, actor,
                 f"Refund of {format_money(refund.amount, payment.currency)} of payment "
                 f"{payment.provider_payment_id} ({refund.provider_reference}) is pending at the provider; the "
                 f"order moves when it succeeds" + (f": {refund.reason}" if refund.reason else "."), user)


def _refund_failed(*, payment: Payment, refund: Refund, counted: bool) -> None:
    """Alert staff that `refund` gave nothing back; if the order counted it, move the order back.

    Precondition: inside a transaction holding the payment's row lock; `refund` is saved failed.
    """
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    why = f" ({refund.failure_reason})" if refund.failure_reason else ""
    logger.warning("Refund %s of payment %s failed%s.", refund.provider_reference, payment.pk, why)
    alert_staff(order_id=order.pk, actor=OrderEvent.Actor.WEBHOOK, subject="Refund failed",
                message=f"Refund {refund.provider_reference} of {format_money(refund.amount, payment.currency)} FAILED "
                        f"at the provider{why}: the customer did not get this money back (the provider returned it to "
                        f"the store's balance). Refund it again from the order's page, or pay it back another way.")
    if counted:
        so_far, fully = _refund_progress(order)
        record_refund_failure(order_id=order.pk, amount=refund.amount, refunded_so_far=so_far,
                              fully_refunded=fully, actor=OrderEvent.Actor.WEBHOOK,
                              reference=refund.provider_reference)


def _refund_progress(order: Order) -> tuple[Decimal, bool]:
    """How much of the order's own money has been given back (surplus payments left out), and
    whether that is all of it; for an order that never kept its money (expired, cancelled), what
    was given back and whether that is everything it took. Counts succeeded refunds only. The one
    count both a refund that succeeded (`_tell_order`) and one that failed (`_refund_failed`) use."""
    taken = _sum(Payment.objects.filter(order=order, status=S.SUCCEEDED), "amount")
    given_back = _returned(order)
    if order.status in KEPT:
        so_far = given_back - max(taken - order.total, Decimal("0"))
        return so_far, so_far >= order.total
    return given_back, taken > 0 and given_back >= taken


_STRIPE_HANDLERS: dict[str, Callable[[dict], str]] = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_async_payment_succeeded,
    "checkout.session.async_payment_failed": _on_async_payment_failed,
    "checkout.session.expired": _on_session_expired,
    "payment_intent.payment_failed": _on_intent_failed,
    "charge.refunded": _on_charge_refunded,
    "charge.refund.updated": _on_refund_event,
    "refund.created": _on_refund_event,
    "refund.updated": _on_refund_event,
    "refund.failed": _on_refund_event,
}
