"""Reads for the shopper's order pages: which order a visitor may see, and what the page shows.

Access is decided here, in one place: an order is found either by a signed token
(`orders.links`) or by its number *and* its owner. Nothing else finds an order for a shopper.

What a shopper sees is chosen here too: where the goods are in plain words (the fulfilment
state), where the money is (the payment state, its own line: a partial refund never hides that
the rest is still on its way), and a timeline built
only from customer-facing events (status moves, shipments, returns; never internal notes,
alerts, emails or raw event messages, which may carry staff remarks, staff names or provider
references). A page costs the same few queries whatever the number of lines, shipments or
events.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from payments import selectors as payment_selectors
from shop.money import format_money

from .links import order_number_from_token
from .refund_shares import returned_value, returned_worth
from .models import Order, OrderEvent, OrderLine, Shipment, ShipmentLine
from .status import FULFILMENT, PAYMENT, PLACED

P = Order.PaymentStatus
F = Order.FulfilmentStatus

# State moves a shopper is told about. Shipping moves are left out: each parcel has its own
# SHIPMENT event, which says more ("shipped with DHL") than "partially shipped" does.
CUSTOMER_PAYMENT_EVENTS = (P.PAID, P.PARTIALLY_REFUNDED, P.REFUNDED)
CUSTOMER_FULFILMENT_EVENTS = (F.COMPLETED, F.CANCELLED, F.EXPIRED)


# --- Finding an order -----------------------------------------------------------------------


def _orders() -> QuerySet[Order]:
    # The pick-up shop and the pick-up's own record (ready, collected): the status box names both.
    return Order.objects.select_related("pickup_location", "pickup")


def signed_order(*, token: str) -> Order | None:
    """The order a signed link opens, or None for a token we did not make (or one altered)."""
    number = order_number_from_token(token)
    if number is None:
        return None
    return _orders().filter(number=number).first()


def owned_order(*, number: str, user: AbstractBaseUser) -> Order | None:
    """The order with this number if `user` placed it while signed in; None otherwise.

    None also for an order that exists but belongs to someone else: callers answer 404 either
    way, so nobody learns which numbers exist.
    """
    if not user.is_authenticated:
        return None
    return _orders().filter(number=number, user=user).first()


def customer_orders(*, user: AbstractBaseUser) -> QuerySet[Order]:
    """`user`'s orders, newest first, each with `item_count` (units bought) and the pick-up shop
    their status box names (`order_status`). One query a page."""
    return payment_selectors.with_latest_attempt(
        Order.objects.filter(user=user)
        .select_related("pickup_location", "pickup")
        .annotate(item_count=Sum("lines__quantity"))
        .order_by("-created_at", "-pk")
    )


# --- What the shopper is told ---------------------------------------------------------------


@dataclass(frozen=True)
class StatusView:
    """The order's status in plain words, and what it means for the shopper."""

    key: str  # changes whenever anything in the status box would: the poller compares it
    label: str
    description: str
    tone: str  # "pending", "ok", "warn" or "muted": a colour, never the only signal
    payment_key: str
    payment_label: str
    polling: bool  # still waiting for the payment provider: the page keeps asking
    can_pay: bool = False  # unpaid and still reserved: offer "Pay now" (payments.services.start_payment)


@dataclass(frozen=True)
class LineView:
    title: str
    options: str
    sku: str
    quantity: int
    quantity_fulfilled: int
    unit_price: str
    line_total: str
    quantity_returned: int = 0  # units staff recorded as sent back (orders.services.record_return)
    discounts: tuple[tuple[str, str], ...] = ()  # (promotion name, amount) taken off this line
    returned_value: str = ""  # what the returned units are worth back, after the line's discounts


@dataclass(frozen=True)
class TotalRow:
    label: str
    amount: str
    is_total: bool = False


@dataclass(frozen=True)
class ShipmentView:
    carrier: str
    tracking_number: str
    tracking_url: str  # "" unless it is an http(s) link: never a javascript: URL in an href
    shipped_at: datetime
    items: list[tuple[str, str, int]]  # (title, options, quantity)


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    label: str
    detail: str = ""


@dataclass(frozen=True)
class OrderPage:
    order: Order
    status: StatusView
    lines: list[LineView]
    totals: list[TotalRow]
    tax_note: str  # "Includes $3.20 tax" when prices include tax, else ""
    shipments: list[ShipmentView]
    timeline: list[TimelineEntry]
    # Set when the items kept no longer earn a promotion of the order (buy X get Y, a gift, a minimum):
    # what the returns are worth back in all, and why (orders.refund_shares.returned_worth).
    returns_note: str = ""


def _returns_note(order: Order, lines: list[OrderLine], money) -> str:
    """Why the returned units are worth less back than their lines' shares, or "" (no query unless
    a discounted line has units back; then `promotions.repricing.replayer`'s)."""
    if not any(line.quantity_returned and line.discount_total for line in lines):
        return ""
    shares = sum((returned_value(line, order.currency) for line in lines), Decimal("0"))
    worth = returned_worth(order, lines)
    if worth >= shares:
        return ""
    return _("The items returned are worth %(worth)s back in all, not the %(shares)s they cost: the items kept no "
             "longer qualify for the whole promotion, so they cost what it no longer takes off.") % {
        "worth": money(worth), "shares": money(shares)}


def _payment_state(order: Order, now: datetime) -> tuple[str, str]:
    if order.is_awaiting_payment and order.on_invoice:
        # Paid after delivery, by invoice: nothing is on its way now, so nothing to wait for or poll.
        return "on_invoice", _("On invoice")
    if order.is_awaiting_payment:
        # Within the reservation the payment may be on its way (a Stripe webhook takes seconds);
        # after it the scheduled task is about to close the order.
        if order.reservation_expires_at is None or order.reservation_expires_at > now:
            return "processing", _("Payment processing")
        return "awaiting", _("Awaiting payment")
    if order.payment_status == P.REFUNDED:
        return "refunded", _("Refunded")
    if order.payment_status == P.PARTIALLY_REFUNDED:
        return "partially_refunded", _("Partly refunded")
    if order.payment_status == P.PAID:
        return "paid", _("Paid")
    return "not_charged", _("Not charged")


# What the status box says for the fulfilment states that depend on nothing else: label,
# description, tone.
_STATUS_TEXT = {
    F.PARTIALLY_FULFILLED: (
        _lazy("Partly shipped"), _lazy("Some of your items are on their way; the rest will follow."), "ok",
    ),
    F.FULFILLED: (_lazy("Shipped"), _lazy("Your order is on its way."), "ok"),
    F.COMPLETED: (_lazy("Completed"), _lazy("Thank you for shopping with us."), "ok"),
    F.CANCELLED: (_lazy("Cancelled"), _lazy("This order was cancelled."), "muted"),
    F.EXPIRED: (
        _lazy("Closed: not paid in time"),
        _lazy("We held your items, but no payment arrived in time, so the order was closed."), "muted",
    ),
}
_REFUND_NOTE = {
    P.PARTIALLY_REFUNDED: _lazy("Part of this order was refunded. Refunds can take a few days to reach your account."),
    P.REFUNDED: _lazy("This order was refunded. Refunds can take a few days to reach your account."),
}


# --- What the payments say about an order that has not kept any (a block of its own) ---------------

def _attempt(order: Order) -> payment_selectors.Attempt | None:
    """The payment an unpaid order's box talks about: from `customer_orders`' annotations, else
    one query; none looked for once the order kept its money."""
    if order.kept_payment:
        return None
    if hasattr(order, "attempt_status"):
        return payment_selectors.attempt_from_row(order)
    return payment_selectors.payment_attempt(order=order)


def _until(order: Order) -> str:
    """When the reservation ends: the time alone today, with the date on another day (a payment
    link a staff member sent holds the items for days)."""
    if order.reservation_expires_at is None:
        return ""
    ends = timezone.localtime(order.reservation_expires_at)
    when = ends.strftime("%H:%M")
    if ends.date() != timezone.localdate():
        return " " + _("Your items are reserved until %(date)s at %(time)s.") % {
            "date": date_format(ends.date(), "DATE_FORMAT"), "time": when}
    return " " + _("Your items are reserved until %(time)s.") % {"time": when}


def _unpaid_status(order: Order, attempt: payment_selectors.Attempt | None, now: datetime) -> StatusView | None:
    """The box for an order whose latest payment says more than its status does: money that
    arrived but was not kept (staff settle it: never "Pay now"), a declined card, a payment page
    that never opened or was left. None: the order's status says it all."""
    if attempt is None or (attempt.status == payment_selectors.S.SUCCEEDED and not attempt.holds_money):
        return None  # money taken and given back: the order's status says where it went
    P = payment_selectors.S
    if attempt.holds_money:
        return StatusView(
            key=f"{order.payment_status}.{order.fulfilment_status}.review", label=_("Payment being checked"),
            description=_("We received a payment for this order that does not match it, so the order is not "
                          "confirmed yet. Our team is checking it and will contact you; please do not pay again."),
            tone="warn", payment_key="review", payment_label=_("Being checked"), polling=False,
        )
    reserved = order.is_awaiting_payment and (
        order.reservation_expires_at is None or order.reservation_expires_at > now)
    if not reserved:
        return None
    if attempt.status == P.FAILED:
        reason = attempt.reason or _("Your payment did not go through.")
        return StatusView(
            key=f"{order.payment_status}.{order.fulfilment_status}.declined", label=_("Payment declined"),
            description=" ".join([reason, _("No money was taken and the order is not paid.")]) + _until(order)
            + " " + _("You can pay again now."),
            tone="warn", payment_key="declined", payment_label=_("Declined"), polling=False, can_pay=True,
        )
    # A payment page that never opened (the provider unreachable), closed unpaid, or a demo card
    # form never sent: nothing is on its way.
    if attempt.status == P.CANCELLED or (attempt.status == P.PENDING and attempt.provider == "demo"):
        return StatusView(
            key=f"{order.payment_status}.{order.fulfilment_status}.not_paid", label=_("Not paid yet"),
            description=_("We have not received a payment for this order, and nothing was charged.") + _until(order)
            + " " + _("Pay now to complete your order."),
            tone="warn", payment_key="not_paid", payment_label=_("Not paid"), polling=False, can_pay=True,
        )
    return None


_FETCH = object()


def _pickup_status(order: Order) -> str:
    """The pick-up's status ("ready", "collected", "cancelled"), or "" before the shop marked it
    ready. Joined by the order reads above (no query); read once otherwise."""
    try:
        return order.pickup.status
    except ObjectDoesNotExist:
        return ""


def order_status(*, order: Order, now: datetime | None = None, attempt=_FETCH) -> StatusView:
    """What the status box says about `order`. No queries for an order that kept its money (the
    pick-up location is joined); for one that has not, one to read its payments (`_attempt`),
    unless `attempt` is given."""
    now = now or timezone.now()
    unpaid = _unpaid_status(order, _attempt(order) if attempt is _FETCH else attempt, now)
    if unpaid is not None:
        return unpaid
    payment_key, payment_label = _payment_state(order, now)
    pickup = order.pickup_location
    fulfilment = order.fulfilment_status
    refund_note = _REFUND_NOTE.get(order.payment_status)
    if order.is_awaiting_payment and payment_key == "processing":
        label = _("Waiting for payment confirmation")
        description = _("We have reserved your items. This page updates as soon as your payment is confirmed.")
        tone = "pending"
    elif order.is_awaiting_payment and order.on_invoice:
        label = _("On invoice, being prepared")
        description = _("You pay this order on invoice: %(due)s is due. We ship it without waiting for the "
                        "payment.") % {"due": format_money(order.total, order.currency)}
        tone = "ok"
    elif order.is_awaiting_payment:
        label = _("Awaiting payment")
        description = _("We have not received your payment yet. If you paid, this page will update shortly.")
        tone = "warn"
    elif fulfilment == F.UNFULFILLED and order.payment_status == P.REFUNDED:
        # Nothing shipped and all the money went back: nothing more will happen to this order.
        label, description, tone = _("Refunded"), str(refund_note), "muted"
        refund_note = None
    elif fulfilment == F.UNFULFILLED and pickup and _pickup_status(order) == "ready":
        label = _("Ready for pick-up")
        description = _("Your order is ready at %(shop)s. Bring your order number and the pick-up code we "
                        "emailed you.") % {"shop": pickup.name}
        tone = "ok"
    elif fulfilment == F.UNFULFILLED:
        label = _("Paid, being prepared")
        description = (
            _("We have your payment and are getting your order ready for pick-up.") if pickup
            else _("We have your payment and are packing your order.")
        )
        tone = "ok"
    elif fulfilment == F.FULFILLED and pickup:
        # Every unit of a click-and-collect order leaves the shop when it is collected.
        label = _("Collected")
        description = _("You collected your order at %(shop)s.") % {"shop": pickup.name}
        tone = "ok"
    elif fulfilment in _STATUS_TEXT:
        lazy_label, lazy_description, tone = _STATUS_TEXT[fulfilment]
        label, description = str(lazy_label), str(lazy_description)
    else:  # a state added later and not described here yet: its display name is still plain
        label, description, tone = order.get_fulfilment_status_display(), "", "muted"
    if refund_note is not None:
        description = f"{description} {refund_note}".strip()
    return StatusView(
        key=f"{order.payment_status}.{fulfilment}.{payment_key}", label=label, description=description, tone=tone,
        payment_key=payment_key, payment_label=payment_label, polling=payment_key == "processing",
        # The provider may have been down at checkout, or the payment failed after the shopper left
        # its page: while the items are reserved they can start again (a payment still on its way
        # is not taken twice: start_payment sends them to it instead).
        can_pay=order.is_awaiting_payment and payment_key == "processing",
    )


def _safe_link(url: str) -> str:
    return url if urlsplit(url or "").scheme in ("http", "https") else ""


def _amount(data: dict) -> Decimal | None:
    try:
        return Decimal(str(data["amount"]))
    except (KeyError, TypeError, InvalidOperation):
        return None


def _returned_items(data: dict, lines: dict[int, OrderLine]) -> str:
    """What a return event brought back, as the shopper's own lines: "1 × Storm Shell (Size: M)".

    Only the lines and units (recorded by `record_return` in `data["lines"]`): the event's message
    carries staff's note and the restock location, which are not the shopper's business.
    """
    items = []
    for line_id, quantity in (data.get("lines") or {}).items():
        line = lines.get(int(line_id)) if str(line_id).isdigit() else None
        if line is None or not isinstance(quantity, int):
            continue
        title = f"{line.product_title} ({line.options})" if line.options else line.product_title
        items.append(f"{quantity} × {title}")
    return ", ".join(items)


def _timeline(
    order: Order, events: list[OrderEvent], shipments: dict[int, Shipment], lines: dict[int, OrderLine]
) -> list[TimelineEntry]:
    entries = []
    if not any(e.kind == OrderEvent.Kind.STATUS and e.to_status == PLACED for e in events):
        # Orders made outside checkout (imports, the shell) have no "placed" event: the date still is.
        entries.append(TimelineEntry(order.created_at, _("Order placed")))
    for event in events:
        if event.kind == OrderEvent.Kind.SHIPMENT:
            shipment = shipments.get((event.data or {}).get("shipment"))
            detail = " ".join(filter(None, [shipment.carrier, shipment.tracking_number])) if shipment else ""
            label = _("Handed over") if order.pickup_location_id else _("Shipped")
            entries.append(TimelineEntry(event.created_at, label, detail))
            continue
        if event.kind == OrderEvent.Kind.RETURN:
            items = _returned_items(event.data or {}, lines)
            entries.append(TimelineEntry(event.created_at, _("Return received"), items))
            continue
        if event.kind == OrderEvent.Kind.PAYMENT:
            # A declined attempt (payments.services): the provider's reason, nothing else of the event.
            entries.append(TimelineEntry(event.created_at, _("Payment declined"), (event.data or {}).get("reason", "")))
            continue
        amount = _amount(event.data or {})
        refund = format_money(amount, order.currency) if amount is not None else ""
        label = {
            ("", PLACED): _("Order placed"),
            (PAYMENT, P.PAID): _("Payment received"),
            (PAYMENT, P.PARTIALLY_REFUNDED): _("Partly refunded"),
            (PAYMENT, P.REFUNDED): _("Refunded"),
            (FULFILMENT, F.COMPLETED): _("Completed"),
            (FULFILMENT, F.CANCELLED): _("Cancelled"),
            (FULFILMENT, F.EXPIRED): _("Closed: not paid in time"),
        }[(event.state, event.to_status)]
        detail = refund if event.state == PAYMENT and event.to_status in (P.PARTIALLY_REFUNDED, P.REFUNDED) else ""
        entries.append(TimelineEntry(event.created_at, label, detail))
    return entries


def order_page(*, order: Order, now: datetime | None = None) -> OrderPage:
    """Everything the order page shows. Four queries whatever the size of the order:
    lines, shipments, their lines, and the customer-facing events (returns and declined payments
    included); a fifth for the payments of an order that has not kept any (`order_status`); and
    those of `promotions.repricing.replayer` when a discounted line has units back and a promotion
    of the order depends on the rest of the cart (`returns_note`).
    """
    money = lambda amount: format_money(amount, order.currency)  # noqa: E731
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    shipments = list(
        Shipment.objects.filter(order=order).order_by("created_at", "pk").prefetch_related(
            Prefetch("lines", queryset=ShipmentLine.objects.order_by("pk"))
        )
    )
    events = list(
        OrderEvent.objects.filter(order=order)
        .filter(
            Q(kind=OrderEvent.Kind.STATUS, state="", to_status=PLACED)
            | Q(kind=OrderEvent.Kind.STATUS, state=PAYMENT, to_status__in=CUSTOMER_PAYMENT_EVENTS)
            | Q(kind=OrderEvent.Kind.STATUS, state=FULFILMENT, to_status__in=CUSTOMER_FULFILMENT_EVENTS)
            | Q(kind__in=(OrderEvent.Kind.SHIPMENT, OrderEvent.Kind.RETURN))
            | Q(kind=OrderEvent.Kind.PAYMENT, data__outcome="declined")
        )
        .order_by("created_at", "pk")
    )
    lines_by_id = {line.pk: line for line in lines}

    totals = [TotalRow(_("Subtotal"), money(order.subtotal))]
    totals.append(TotalRow(order.shipping_method_name or _("Shipping"), money(order.shipping_total)))
    if order.shipping_discount:
        totals.append(TotalRow(_("Shipping discount (included above)"), f"−{money(order.shipping_discount)}"))
    if order.discount_total:
        totals.append(TotalRow(_("You saved"), money(order.discount_total)))
    tax_note = ""
    if order.prices_include_tax:
        if order.tax_total:
            tax_note = _("Includes %(amount)s tax") % {"amount": money(order.tax_total)}
    else:
        totals.append(TotalRow(_("Tax"), money(order.tax_total)))
    totals.append(TotalRow(_("Total"), money(order.total), is_total=True))

    return OrderPage(
        order=order,
        status=order_status(order=order, now=now),
        lines=[
            LineView(
                title=line.product_title, options=line.options, sku=line.sku, quantity=line.quantity,
                quantity_fulfilled=line.quantity_fulfilled, unit_price=money(line.unit_price),
                line_total=money(line.line_total), quantity_returned=line.quantity_returned,
                discounts=line.discount_rows(order.currency),
                returned_value=money(returned_value(line, order.currency)) if line.quantity_returned else "",
            )
            for line in lines
        ],
        totals=totals,
        tax_note=tax_note,
        returns_note=_returns_note(order, lines, money),
        shipments=[
            ShipmentView(
                carrier=shipment.carrier, tracking_number=shipment.tracking_number,
                tracking_url=_safe_link(shipment.tracking_url), shipped_at=shipment.created_at,
                items=[
                    (lines_by_id[item.line_id].product_title, lines_by_id[item.line_id].options, item.quantity)
                    for item in shipment.lines.all() if item.line_id in lines_by_id
                ],
            )
            for shipment in shipments
        ],
        timeline=_timeline(order, events, {shipment.pk: shipment for shipment in shipments}, lines_by_id),
    )
