"""Emails the store sends, through the outbox (`OutboundEmail`): each is sent exactly once.

Callers use the `enqueue_*` functions inside the transaction that calls for the email; the tasks
call the `send_*` functions, which may run any number of times and send once. Templates live in
`templates/emails/` (an HTML and a plain-text body and a subject per email).
"""
from __future__ import annotations

import datetime
import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext

from analytics import utm
from catalog.models import StockLevel
from orders.models import Order, OrderEvent, Shipment
from shop.money import format_money

from . import delivery, links
from .delivery import NothingToSend, ensure_registered, register
from .models import OutboundEmail

logger = logging.getLogger(__name__)

ORDER_EMAIL_KINDS = ("confirmation", "payment_received", "shipped", "cancelled", "refunded", "receipt",
                     # Click and collect (pickup/) and orders staff took (stafforders/).
                     "ready_for_pickup", "pickup_reminder", "pickup_code", "payment_link")
LOW_STOCK = "low_stock"
STAFF_ALERT = "staff_alert"
# Used when EMAIL_TIMEOUT is unset or 0: without a timeout a mail server that accepts the
# connection and then says nothing would hold the sender forever.
SMTP_TIMEOUT_SECONDS = 10
# Due emails one run of the retry loop sends at most (the next run, a minute later, goes on).
SEND_DUE_LIMIT = 200


# --- Enqueueing (called by other apps' services, inside their transaction) ----------------------

def order_email_key(*, order_id: int, kind: str, shipment_id: int | None = None, refund_id: int | None = None) -> str:
    """The outbox key of an order email: one confirmation per order, one email per shipment or refund.

    Raises ValueError for an unknown kind, or a shipped email without its shipment.
    """
    if kind not in ORDER_EMAIL_KINDS:
        raise ValueError(f"Unknown order email kind {kind!r}; expected one of {', '.join(ORDER_EMAIL_KINDS)}.")
    if kind == "shipped":
        if shipment_id is None:
            raise ValueError("A shipped email needs the shipment_id.")
        return f"order:{order_id}:shipped:{shipment_id}"
    if kind == "refunded" and refund_id is not None:
        return f"order:{order_id}:refunded:{refund_id}"
    return f"order:{order_id}:{kind}"


def enqueue_order_email(
    *,
    order_id: int,
    kind: str,
    shipment_id: int | None = None,
    refund_id: int | None = None,
    amount: Decimal | str | None = None,
    order_is_new: bool = False,
    occurrence: int | str | None = None,
) -> None:
    """Send the order email `kind` once the caller's transaction commits.

    Call it inside the transaction that makes the change (placing, paying, shipping, cancelling,
    refunding). It writes the outbox row in that transaction (two queries), so the email is
    recorded if and only if the change is, and registers `send_order_email_task`
    on commit. Calling it twice for the same email (same key, see `order_email_key`) sends one.
    For "refunded", pass `refund_id` when there is one (a replayed refund then emails once) and
    `amount`, shown in the order's currency; without `refund_id` every call sends an email.
    The task leaves the request: a web process's background thread runs or publishes it after
    the response (shop/background.py). A broker that is down is logged, not raised: the row stays
    pending and the retry loop (`send_due_emails`) sends it after FIRST_ATTEMPT_GRACE.

    `occurrence` names one of several emails of a kind an order may get (a new pick-up code: the
    history entry that records it), so each is its own email and a retried task still sends it once.

    `order_is_new`: the order was created in the caller's transaction, so no outbox row can name it
    yet (ids are never reused) and nobody can be sending one: the row is inserted without looking
    first (one query instead of two).

    Raises ValueError for an unknown kind or a shipped email without its shipment_id.
    """
    key = order_email_key(order_id=order_id, kind=kind, shipment_id=shipment_id, refund_id=refund_id)
    if kind == "refunded" and refund_id is None:
        # Nothing names this refund, so this call is its own email (a second partial refund is
        # a second email); the task gets the key so its retries still send it once.
        key = f"{key}:{uuid.uuid4().hex}"
    elif occurrence is not None:
        key = f"{key}:{occurrence}"
    params = _order_params(shipment_id=shipment_id, refund_id=refund_id, amount=amount)
    if order_is_new:
        register(key=key, kind=f"order.{kind}", order_id=order_id, params=params)
    else:
        ensure_registered(key=key, kind=f"order.{kind}", order_id=order_id, params=params)
    task_kwargs = {"order_id": order_id, "kind": kind, "key": key, **params}
    # Imported here: the tasks module imports this one.
    from .tasks import send_order_email_task

    transaction.on_commit(lambda: send_order_email_task.delay(**task_kwargs), robust=True)


def enqueue_low_stock_alert(*, stock_level_ids: list[int]) -> None:
    """Alert staff, once the caller's transaction commits, about stock levels that ran low.

    Call it from the write that takes a level from above `settings.STORE_LOW_STOCK_THRESHOLD`
    available units to at or below it (the crossing, not every later sale), inside that write's
    transaction. Each call is one alert with its own outbox row; the task lists the levels that
    are still low when it runs and sends nothing if none are.
    """
    ids = sorted(set(stock_level_ids))
    if not ids:
        return
    key = f"{LOW_STOCK}:{uuid.uuid4().hex}"
    register(key=key, kind=LOW_STOCK, params={"stock_level_ids": ids})
    from .tasks import send_low_stock_alert_task

    transaction.on_commit(lambda: send_low_stock_alert_task.delay(key=key, stock_level_ids=ids), robust=True)


def enqueue_staff_alert(*, key: str, subject: str, order_id: int | None, message: str) -> None:
    """Email staff `subject` and `message` once the caller's transaction commits; once per `key`.

    For something staff must act on (a refund that failed, a payment the order could not keep).
    Call it inside the transaction that found the problem: the outbox row is written in it (two
    queries), so the alert is sent if and only if that transaction commits, and
    `send_staff_alert_task` is registered on commit. `key` names the alert (e.g. the id of the
    history entry that records it); calling again with the same key sends nothing more. With
    `order_id`, the email names the order and links to it in the back office. Recipients are
    chosen when it is sent, as for low-stock alerts (`staff_alert_recipients`).
    """
    outbox_key = staff_alert_key(key)
    params = {"subject": subject, "message": message}
    ensure_registered(key=outbox_key, kind=STAFF_ALERT, order_id=order_id, params=params)
    task_kwargs = {"key": outbox_key, "order_id": order_id, **params}
    from .tasks import send_staff_alert_task

    transaction.on_commit(lambda: send_staff_alert_task.delay(**task_kwargs), robust=True)


def staff_alert_key(key: str) -> str:
    """The outbox key of the staff alert the caller named `key` (its own namespace, so a caller's
    key can never be mistaken for an order email's)."""
    return f"{STAFF_ALERT}:{key}"


def _order_params(*, shipment_id: int | None, refund_id: int | None, amount: Decimal | str | None) -> dict:
    params: dict = {}
    if shipment_id is not None:
        params["shipment_id"] = shipment_id
    if refund_id is not None:
        params["refund_id"] = refund_id
    if amount is not None:
        params["amount"] = str(Decimal(amount))  # JSON for the task and the row; Decimal again when shown
    return params


# --- Sending (called by the tasks; idempotent) ---------------------------------------------------

def send_order_email(
    *,
    order_id: int,
    kind: str,
    shipment_id: int | None = None,
    refund_id: int | None = None,
    amount: str | None = None,
    key: str | None = None,
    due_by: datetime.datetime | None = None,
) -> bool:
    """Send the order email `kind` unless it has been sent; return True if it was sent now.

    `key` is the outbox key `enqueue_order_email` chose; without it, `order_email_key`'s.
    `due_by`: the retry loop's time (only a row due by then is sent), see `delivery.deliver`.

    Idempotent, also under concurrency: the outbox row (created here if it was not enqueued) is
    claimed under its row lock first (`delivery.deliver`), so a duplicate or retried task finds
    it claimed or sent and sends nothing. No lock is held while the mail server is talked to.
    Records `OrderEvent(kind="email", actor="task")` with the send. Never locks or changes the
    order itself.

    On failure the row records the attempt, the error and when it is tried again, and the
    exception propagates (SMTPException, OSError: the mail server's). Raises Order.DoesNotExist
    if the order is gone, ValueError for a bad kind.
    """
    key = key or order_email_key(order_id=order_id, kind=kind, shipment_id=shipment_id, refund_id=refund_id)
    order = Order.objects.select_related("pickup_location").get(pk=order_id)
    params = _order_params(shipment_id=shipment_id, refund_id=refund_id, amount=amount)
    ensure_registered(key=key, kind=f"order.{kind}", order_id=order_id, params=params)

    def build() -> EmailMultiAlternatives:
        context = order_email_context(order=order, kind=kind, shipment_id=shipment_id, amount=amount)
        return _render_message(template=f"emails/order_{kind}", context=context, to=[order.email], key=key)

    def record(message: EmailMultiAlternatives) -> None:
        OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.EMAIL, actor=OrderEvent.Actor.TASK,
            message=gettext("Email sent to %(email)s: %(subject)s") % {
                "email": order.email, "subject": message.subject,
            },
            data={"email": kind, "key": key},
        )

    return delivery.deliver(key=key, build=build, on_sent=record, due_by=due_by)


def send_low_stock_alert(*, key: str, stock_level_ids: list[int], due_by: datetime.datetime | None = None) -> bool:
    """Email staff the listed stock levels that are at or below the low-stock threshold now.

    Same outbox contract as `send_order_email` (claimed under the row lock, once per key, failures
    recorded and raised). Recipients: settings.STAFF_ALERT_EMAILS, or every active superuser's address when
    that is empty. Sends nothing, marking the row skipped, when no level is low any more or
    there is nobody to tell. Returns True if it sent now.
    """
    ids = sorted(set(stock_level_ids))
    ensure_registered(key=key, kind=LOW_STOCK, params={"stock_level_ids": ids})

    def build() -> EmailMultiAlternatives:
        rows = low_stock_rows(stock_level_ids=ids)
        if not rows:
            raise NothingToSend(gettext("No listed stock level is low any more."))
        context = {**_base_context(), "rows": rows, "threshold": settings.STORE_LOW_STOCK_THRESHOLD}
        return _render_message(template="emails/low_stock_alert", context=context, to=_staff_to(), key=key)

    return delivery.deliver(key=key, build=build, on_sent=lambda message: None, due_by=due_by)


def send_staff_alert(*, key: str, subject: str, order_id: int | None, message: str,
                     due_by: datetime.datetime | None = None) -> bool:
    """Email staff the alert `enqueue_staff_alert` wrote to the outbox as `key` (its outbox key).

    Same outbox contract as `send_order_email` (claimed under the row lock, once per key, failures
    recorded and raised) and the same recipients as `send_low_stock_alert`, skipped when there is nobody to
    tell. Reads the order, never locks or changes it. Returns True if it sent now. Raises
    Order.DoesNotExist if the order is gone.
    """
    order = Order.objects.get(pk=order_id) if order_id is not None else None
    ensure_registered(key=key, kind=STAFF_ALERT, order_id=order_id, params={"subject": subject, "message": message})

    def build() -> EmailMultiAlternatives:
        context = {
            **_base_context(), "alert_subject": subject, "message": message, "order": order,
            "order_status": order.get_state_display() if order is not None else "",
            "order_admin_url": _admin_url("admin:orders_order_change", order.pk) if order is not None else "",
        }
        return _render_message(template="emails/staff_alert", context=context, to=_staff_to(), key=key)

    return delivery.deliver(key=key, build=build, on_sent=lambda message: None, due_by=due_by)


def _staff_to() -> list[str]:
    """`staff_alert_recipients()`; raises NothingToSend (the row is skipped) when there are none."""
    recipients = staff_alert_recipients()
    if not recipients:
        raise NothingToSend(gettext(
            "Nobody to alert: STAFF_ALERT_EMAILS is empty and no active superuser has an email address."
        ))
    return recipients


# --- The retry loop --------------------------------------------------------------------------------

@dataclass
class DueRun:
    sent: int = 0
    failed: int = 0
    stopped: str = ""  # the error that stopped the run: the mail server is down


def send_due_emails(*, now: datetime.datetime | None = None, limit: int = SEND_DUE_LIMIT) -> DueRun:
    """Send, here and now, every email whose next attempt is due at `now` (at most `limit`).

    The one retry loop, run every minute: by the web process's background thread without a
    broker, by beat with one (`send_due_emails_task`), by `manage.py send_pending_emails` from
    cron. Each email is claimed under its row lock only if it is still due (`delivery.deliver`
    with `due_by`), so loops racing in several processes send each once, and an email that failed
    a moment ago in another loop is not tried again before its time. The run stops at the first
    error that says the mail server is down (the rest stay due for the next run) instead of
    waiting EMAIL_TIMEOUT once per email. Safe at any time.
    """
    now = now or timezone.now()
    run = DueRun()
    for outbox in list(delivery.due_emails(now=now)[:limit]):
        try:
            if send_outbox(outbox=outbox, due_by=now):
                run.sent += 1
        except delivery.MAIL_SERVER_DOWN as error:
            run.failed += 1
            run.stopped = f"{type(error).__name__}: {error}"
            break
        except Order.DoesNotExist:
            continue  # deleted meanwhile: its outbox row went with it
        except Exception:
            run.failed += 1  # recorded on the row, with its next attempt
    return run


def send_outbox(*, outbox: OutboundEmail, due_by: datetime.datetime | None = None) -> bool:
    """Send the email `outbox` stands for (see `delivery.deliver` for `due_by`); True if sent now."""
    params = outbox.params
    if outbox.kind == LOW_STOCK:
        return send_low_stock_alert(key=outbox.key, stock_level_ids=params.get("stock_level_ids", []), due_by=due_by)
    if outbox.kind == STAFF_ALERT:
        return send_staff_alert(key=outbox.key, order_id=outbox.order_id, subject=params.get("subject", ""),
                                message=params.get("message", ""), due_by=due_by)
    if outbox.kind.startswith("order.") and outbox.order_id is not None:
        return send_order_email(order_id=outbox.order_id, kind=outbox.kind.removeprefix("order."), key=outbox.key,
                                due_by=due_by, **params)
    if outbox.kind == "chat.reply":  # chat/emails.py: a staff reply to a shopper not in the chat
        from chat.emails import send_reply_email

        return send_reply_email(message_id=params.get("message_id"), due_by=due_by)
    if outbox.kind.startswith("returns."):  # returns/emails.py: a return approved or refused
        from returns.emails import send as send_return_email

        return send_return_email(request_id=params.get("request_id"), kind=outbox.kind.removeprefix("returns."),
                                 due_by=due_by)
    logger.warning("Outbound email %s has kind %r, which nothing sends", outbox.key, outbox.kind)
    return False


def enqueue_again(*, outbox: OutboundEmail) -> None:
    """Enqueue the task that sends `outbox` now, whatever its schedule (staff's "send now"; a
    no-op for the row if it is sent meanwhile)."""
    from .tasks import send_low_stock_alert_task, send_order_email_task, send_staff_alert_task

    if outbox.kind == LOW_STOCK:
        send_low_stock_alert_task.delay(key=outbox.key, stock_level_ids=outbox.params.get("stock_level_ids", []))
    elif outbox.kind == STAFF_ALERT:
        send_staff_alert_task.delay(
            key=outbox.key, order_id=outbox.order_id, subject=outbox.params.get("subject", ""),
            message=outbox.params.get("message", ""),
        )
    elif outbox.kind.startswith("order.") and outbox.order_id is not None:
        send_order_email_task.delay(
            order_id=outbox.order_id, kind=outbox.kind.removeprefix("order."), key=outbox.key, **outbox.params
        )
    elif outbox.kind == "chat.reply":
        from chat.tasks import email_reply_task

        email_reply_task.delay(message_id=outbox.params.get("message_id"))
    elif outbox.kind.startswith("returns."):
        from returns.tasks import send_return_email_task

        send_return_email_task.delay(request_id=outbox.params.get("request_id"),
                                     kind=outbox.kind.removeprefix("returns."))
    else:
        logger.warning("Outbound email %s has kind %r, which nothing sends", outbox.key, outbox.kind)


# --- Content --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LowStockRow:
    sku: str
    title: str
    location: str
    available: int
    admin_url: str


def low_stock_rows(*, stock_level_ids: list[int]) -> list[LowStockRow]:
    """The listed stock levels with at most STORE_LOW_STOCK_THRESHOLD units available now."""
    levels = (
        StockLevel.objects.filter(pk__in=stock_level_ids)
        .annotate(units=F("on_hand") - F("reserved"))
        .filter(units__lte=settings.STORE_LOW_STOCK_THRESHOLD)
        .select_related("variant__product", "location")
        .prefetch_related("variant__option_values__option")
        .order_by("units", "variant__sku", "location__position")
    )
    rows = []
    for level in levels:
        variant = level.variant
        options = ", ".join(str(value) for value in variant.option_values.all())
        rows.append(LowStockRow(
            sku=variant.sku,
            title=f"{variant.product.title} ({options})" if options else variant.product.title,
            location=level.location.name, available=level.units,
            admin_url=_admin_url("admin:catalog_variant_change", variant.pk),
        ))
    return rows


def _admin_url(name: str, pk: int) -> str:
    """The absolute back-office link to an object, or "" where the admin is not mounted."""
    try:
        return links.absolute_url(reverse(name, args=[pk]))
    except NoReverseMatch:
        return ""


def staff_alert_recipients() -> list[str]:
    """settings.STAFF_ALERT_EMAILS, or the addresses of every active superuser when it is empty."""
    if settings.STAFF_ALERT_EMAILS:
        return list(settings.STAFF_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_active=True, is_superuser=True).exclude(email="")
    return list(users.order_by("email").values_list("email", flat=True).distinct())


def order_email_context(*, order: Order, kind: str, shipment_id: int | None = None, amount: str | None = None) -> dict:
    """Everything the order email templates show, with money already formatted in the order's currency."""

    def money(value: Decimal | None) -> str:
        return format_money(value, order.currency)

    lines = list(order.lines.all())
    # Links back to the store carry the email's signed UTM parameters (analytics/utm.py), so a
    # visit that follows one is attributed to this kind of order email.
    tag = utm.tagger(origin=links.absolute_url("/"), source=utm.ORDER_EMAIL_SOURCE, medium=utm.EMAIL,
                     campaign=f"order_{kind}")
    context = {
        **_base_context(),
        "site_url": tag(links.absolute_url("/")),
        "kind": kind,
        "order": order,
        "order_url": tag(links.order_url(order)),
        "lines": [
            {
                "title": line.product_title, "options": line.options, "sku": line.sku, "quantity": line.quantity,
                "unit_price": money(line.unit_price), "line_total": money(line.line_total),
                "discounts": line.discount_rows(order.currency),
            }
            for line in lines
        ],
        "subtotal": money(order.subtotal),
        "shipping_total": money(order.shipping_total),
        "has_shipping_cost": order.shipping_total > 0,
        "tax_total": money(order.tax_total),
        "has_tax": order.tax_total > 0,
        "total": money(order.total),
        "discount_total": money(order.discount_total) if order.discount_total else "",
        "shipping_method": order.shipping_method_name,
        "shipping_address": order.shipping_address,
        "pickup_location": order.pickup_location,
        "shipment": None,
        "refund_amount": money(Decimal(amount)) if amount is not None else "",
    }
    if kind == "confirmation" and not order.paid_at:
        # What gift cards already paid and what is left for the card payment: an order part paid
        # by a gift card is not "not paid, nothing charged" (payments/services/gift_cards.py).
        from payments.services.gift_cards import gift_cards_paid

        by_gift_cards = gift_cards_paid(order.pk)
        left = max(order.total - by_gift_cards, Decimal("0"))
        context.update({"gift_cards_paid": money(by_gift_cards) if by_gift_cards else "",
                        "left_to_pay": money(left) if left else ""})
    else:
        context.update({"gift_cards_paid": "", "left_to_pay": ""})
    if shipment_id is not None:
        shipment = Shipment.objects.prefetch_related("lines__line").get(pk=shipment_id, order=order)
        context["shipment"] = {
            "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "lines": [
                {"title": item.line.product_title, "options": item.line.options, "quantity": item.quantity}
                for item in shipment.lines.all()
            ],
        }
    if order.pickup_location_id is not None:
        from pickup.emails import pickup_email_context  # the shop's hours and address, the pick-up code

        context.update(pickup_email_context(order=order, kind=kind))
    return context


def _base_context() -> dict:
    return {"store_name": settings.STORE_NAME, "site_url": links.absolute_url("/")}


def _render_message(*, template: str, context: dict, to: list[str], key: str) -> EmailMultiAlternatives:
    """The message from `<template>_subject.txt`, `<template>.txt` and `<template>.html`."""
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    context = {**context, "subject": subject}
    text = tidy_text(render_to_string(f"{template}.txt", context))
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to,
        headers={"Message-ID": message_id(key)},
        connection=get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or SMTP_TIMEOUT_SECONDS),
    )
    message.attach_alternative(html, "text/html")
    return message


def message_id(key: str) -> str:
    """The same Message-ID on every attempt of one email, so a resend can be recognised as such."""
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<{re.sub(r'[^A-Za-z0-9.-]', '.', key)}@{domain}>"


def tidy_text(text: str) -> str:
    """Template tags leave blank lines and trailing spaces behind; a plain-text email shows them."""
    # "-- " (with its space) is the signature separator mail clients recognise.
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
