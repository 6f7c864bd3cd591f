"""Writes for returns: one function per step, each a transaction that locks the return row first.

Lock order, the same in every step: the return request, then (through the services called) the
payment, the order, its lines, the stock rows in pk order. Each step checks the status under the
request's lock, so a second click (or a second worker) finds it moved and is refused, changing
nothing. Every step writes a `ReturnEvent` and an order note (kind NOTE, `data["return"]`), which
puts it in the order's back-office history and the customer's CRM timeline. Emails go through
the outbox after commit (`returns/emails.py`).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import Location, Variant
from inventory.ledger import Cause
from inventory.models import Reason as StockReason
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent
from orders.services import record_return
from orders.services.common import lock_order
from payments.exceptions import PaymentError
from payments.models import Refund
from shop.money import format_money

from . import emails
from .exceptions import ReturnError
from .models import ExchangeLine, ExchangeShipment, Reason, ReturnEvent, ReturnLine, ReturnRequest
from .selectors import eligibility

S = ReturnRequest.Status
logger = logging.getLogger(__name__)
ACTOR_TO_ORDER = {ReturnEvent.Actor.CUSTOMER: OrderEvent.Actor.CUSTOMER, ReturnEvent.Actor.STAFF: OrderEvent.Actor.STAFF,
                  ReturnEvent.Actor.SYSTEM: OrderEvent.Actor.SYSTEM}


def _actor(user: AbstractBaseUser | None) -> str:
    return ReturnEvent.Actor.STAFF if user is not None else ReturnEvent.Actor.SYSTEM


def _user(user: AbstractBaseUser | None):
    return user if user is not None and user.is_authenticated else None


def _record(request: ReturnRequest, *, to: str, actor: str, user: AbstractBaseUser | None, message: str,
            data: dict | None = None, before: str | None = None) -> ReturnEvent:
    """Move `request` to `to` (saved) and record it twice: the return's own history and the order's.
    `before`: the status it had ("" for a new request); by default its current one."""
    before = request.status if before is None else before
    request.status = to
    request.save()
    event = ReturnEvent.objects.create(request=request, from_status=before, to_status=to, actor=actor,
                                       user=_user(user), message=message, data=data or {})
    OrderEvent.objects.create(
        order_id=request.order_id, kind=OrderEvent.Kind.NOTE, actor=ACTOR_TO_ORDER[actor], user=_user(user),
        message=_("Return R%(pk)s: %(status)s.") % {"pk": request.pk, "status": S(to).label}
        + (f" {message}" if message else ""),
        data={"return": request.pk, "return_status": to},
    )
    return event


def _locked(request_id: int, *allowed: str, doing: str) -> ReturnRequest:
    request = ReturnRequest.objects.select_for_update().get(pk=request_id)
    if request.status not in allowed:
        raise ReturnError(_("Return R%(pk)s is %(status)s, so it cannot be %(doing)s. Nothing was changed.")
                          % {"pk": request.pk, "status": request.get_status_display().lower(), "doing": doing})
    return request


# --- The shopper asks ---------------------------------------------------------------------------


def request_return(*, order: Order, quantities: Mapping[int, int], reason: str, comment: str = "",
                   photo: UploadedFile | None = None, user: AbstractBaseUser | None = None) -> ReturnRequest:
    """The shopper asks to send back `quantities` (order line id -> units) of `order`.

    One transaction: locks the order, then its lines, and checks the policy under those locks
    (`selectors.eligibility`: shipped, not returned, not in an open return, category allowed,
    within the window), so two submits cannot ask for the same units twice. The photo (already
    validated by the form) is stored privately. Raises ReturnError naming the first problem,
    writing nothing.
    """
    wanted = {int(line_id): int(qty) for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise ReturnError(_("Choose at least one item to return."))
    if any(qty < 0 for qty in wanted.values()):
        raise ReturnError(_("Quantities cannot be negative."))
    if reason not in Reason.values:
        raise ReturnError(_("Choose a reason from the list."))
    with transaction.atomic():
        order = lock_order(order.pk)
        rules = eligibility(order=order, lock=True)
        if rules.closed:
            raise ReturnError(rules.closed)
        by_line = {item.line.pk: item for item in rules.lines}
        for line_id, qty in wanted.items():
            item = by_line.get(line_id)
            if item is None:
                raise ReturnError(_("That item is not part of order %(number)s.") % {"number": order.number})
            if item.blocked:
                raise ReturnError(f"{item.line.product_title}: {item.blocked}")
            if qty > item.available:
                raise ReturnError(_("%(title)s: you can return at most %(count)d.")
                                  % {"title": item.line.product_title, "count": item.available})
        request = ReturnRequest(order=order, reason=reason, comment=comment.strip())
        if photo is not None:
            request.photo = photo
        request.save()
        ReturnLine.objects.bulk_create([ReturnLine(request=request, order_line_id=line_id, quantity=qty)
                                        for line_id, qty in sorted(wanted.items())])
        items = ", ".join(f"{qty} × {by_line[line_id].line.sku}" for line_id, qty in sorted(wanted.items()))
        _record(request, to=S.REQUESTED, actor=ReturnEvent.Actor.CUSTOMER, user=user, before="",
                message=_("%(items)s, reason: %(reason)s.") % {"items": items, "reason": Reason(reason).label},
                data={"lines": {str(k): v for k, v in wanted.items()}, "reason": reason})
    return request


# --- Staff decide -------------------------------------------------------------------------------


def approve_return(*, request_id: int, user: AbstractBaseUser, message: str = "") -> ReturnRequest:
    """Approve a requested return; the shopper is emailed how to send the items (after commit).

    Raises ReturnError, changing nothing, unless the return is still requested.
    """
    with transaction.atomic():
        request = _locked(request_id, S.REQUESTED, doing=_("approved"))
        request.decision_message, request.decided_by, request.decided_at = message.strip(), user, timezone.now()
        _record(request, to=S.APPROVED, actor=ReturnEvent.Actor.STAFF, user=user, message=message.strip())
        emails.enqueue(request=request, kind=emails.APPROVED)
    return request


def refuse_return(*, request_id: int, user: AbstractBaseUser, message: str) -> ReturnRequest:
    """Refuse a requested return, telling the shopper why (required); the units may be asked
    back again later. Raises ReturnError, changing nothing, without a message or unless requested."""
    if not message.strip():
        raise ReturnError(_("Say why the return is refused: the shopper reads it."))
    with transaction.atomic():
        request = _locked(request_id, S.REQUESTED, doing=_("refused"))
        request.decision_message, request.decided_by, request.decided_at = message.strip(), user, timezone.now()
        _record(request, to=S.REFUSED, actor=ReturnEvent.Actor.STAFF, user=user, message=message.strip())
        emails.enqueue(request=request, kind=emails.REFUSED)
    return request


# --- The parcel arrives -------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """Per return line id: units back on hand; the rest of the line's units are written off."""

    restock: Mapping[int, int]
    write_off_reason: str = ""


def receive_return(*, request_id: int, location_id: int, receipt: Receipt, user: AbstractBaseUser) -> ReturnRequest:
    """The items arrived at `location_id` (the warehouse, or any shop's counter): each unit goes
    back on hand there (a ledger row, reason "return") or is written off with a reason.

    One transaction: the return's lock, then `orders.services.record_return` (the order, its lines,
    the stock rows in pk order), once for the restocked units and once for the written-off ones,
    so the order's lines count them returned and the return events carry what they are worth
    (`refund_due`, after discounts). A return still only requested (the shopper came to a counter
    before staff decided) is approved by being received, recorded as such. Raises ReturnError,
    changing nothing, unless requested or approved, for an inactive location, a restock above a line's units, or write-offs without a reason.
    """
    with transaction.atomic():
        request = _locked(request_id, S.APPROVED, S.REQUESTED, doing=_("received"))
        location = Location.objects.filter(pk=location_id, is_active=True).first()
        if location is None:
            raise ReturnError(_("Choose an open location where the items were received."))
        if request.status == S.REQUESTED:
            # Handed in at a counter before anyone approved it: taking the items is the approval
            # (recorded as such; no instructions email, the shopper is standing there).
            request.decided_by, request.decided_at = user, timezone.now()
            _record(request, to=S.APPROVED, actor=ReturnEvent.Actor.STAFF, user=user,
                    message=_("Approved on receipt at %(location)s.") % {"location": location.name})
        lines = list(request.lines.select_related("order_line").order_by("pk"))
        known = {line.pk for line in lines}
        if set(receipt.restock) - known:
            raise ReturnError(_("That item is not part of this return."))
        for line in lines:
            back = receipt.restock.get(line.pk, 0)
            if back < 0 or back > line.quantity:
                raise ReturnError(_("%(sku)s: between 0 and %(count)d units can go back in stock.")
                                  % {"sku": line.order_line.sku, "count": line.quantity})
            line.restocked, line.written_off = back, line.quantity - back
        if any(line.written_off for line in lines) and not receipt.write_off_reason.strip():
            raise ReturnError(_("Say why the units not put back in stock are written off (e.g. damaged)."))
        due = Decimal("0")
        try:
            for restock, parts in ((True, {l.order_line_id: l.restocked for l in lines if l.restocked}),
                                   (False, {l.order_line_id: l.written_off for l in lines if l.written_off})):
                if not parts:
                    continue
                note = (_("Return R%(pk)s received at %(location)s.") % {"pk": request.pk, "location": location.name}
                        if restock else
                        _("Return R%(pk)s: written off (%(reason)s).") % {"pk": request.pk,
                                                                          "reason": receipt.write_off_reason.strip()})
                event = record_return(order=request.order, lines=parts, restock=restock,
                                      location_id=location.pk if restock else None, actor=OrderEvent.Actor.STAFF,
                                      user=user, note=note)
                due += Decimal(event.data.get("refund_due", "0"))
        except OrderError as error:
            raise ReturnError(str(error)) from error
        for line in lines:
            line.write_off_reason = receipt.write_off_reason.strip()[:200] if line.written_off else ""
        ReturnLine.objects.bulk_update(lines, ["restocked", "written_off", "write_off_reason"])
        request.received_at, request.received_location, request.refund_due = timezone.now(), location, due
        back = sum(line.restocked for line in lines)
        off = sum(line.written_off for line in lines)
        _record(request, to=S.RECEIVED, actor=ReturnEvent.Actor.STAFF, user=user,
                message=_("Received at %(location)s: %(back)d back in stock, %(off)d written off%(why)s.") % {
                    "location": location.name, "back": back, "off": off,
                    "why": f" ({receipt.write_off_reason.strip()})" if off else ""},
                data={"location": location.pk, "restocked": {str(l.pk): l.restocked for l in lines},
                      "written_off": {str(l.pk): l.written_off for l in lines}, "refund_due": str(due)})
    return request


# --- Money back, or another size ----------------------------------------------------------------


def cash_sessions(request: ReturnRequest) -> list:
    """The registers open at the shop where `request` was received, when it was received at a
    shop: where cash paid back for it comes from (`pos.selectors.open_sessions_at`). Empty for a
    parcel received at a warehouse."""
    from pos.selectors import open_sessions_at

    location = request.received_location
    if location is None or location.kind != Location.Kind.SHOP:
        return []
    return open_sessions_at(location_id=location.pk)


def _counter_session(request: ReturnRequest, session_id: int | None):
    """The open register the cash comes from: the one chosen, or the only one open at the shop."""
    sessions = cash_sessions(request)
    shop = request.received_location.name
    if session_id is not None:
        chosen = [session for session in sessions if session.pk == session_id]
        if not chosen:
            raise ReturnError(_("That register is not open at %(shop)s any more. Nothing was changed.")
                              % {"shop": shop})
        return chosen[0]
    if not sessions:
        raise ReturnError(_("The order was paid in cash, which goes back from a register at %(shop)s, and no "
                            "register is open there: open one at the counter (/pos/), then refund. Nothing was "
                            "changed.") % {"shop": shop})
    if len(sessions) > 1:
        raise ReturnError(_("Several registers are open at %(shop)s: choose the one the cash comes from. Nothing "
                            "was changed.") % {"shop": shop})
    return sessions[0]


def refund_return(*, request_id: int, user: AbstractBaseUser | None, session_id: int | None = None) -> ReturnRequest:
    """Give back what the received units are worth (`refund_due`) to the order's original
    payments, card first, gift cards after; again (a retry) for what a first try left unfinished.

    1. One transaction holding the return's lock: what is still missing (due less the refunds
       made for it that did not fail) is split over the payments (`payments.services.open_refund`,
       each payment locked and checked) and recorded as pending refunds with their idempotency
       keys, before any provider is asked. Cash taken at a counter is paid back here and now from
       a register open at the shop where the items were received (`pos.services.record_cash_refund`,
       the drawer's movement naming the order): refused, changing nothing, when none is open there
       (received at a warehouse, cash goes back by hand as any manual refund).
    2. Each refund still waiting for its provider is sent in its own transaction
       (`payments.services.send_refund`): what one provider did is committed before the next is
       asked, so a later failure never erases it; a retry sends the same refund with the same key.
    3. Settled under the return's lock: refunded when every part succeeded or is pending at its
       provider; else "refund not finished" with what is missing and why, for a retry.

    Call outside a transaction (inside one, a later failure could still roll back what a provider
    did). Raises ReturnError, changing nothing, unless received (or refunding), when nothing is due,
    the payments hold less than is missing, or cash needs a register that is not open.
    """
    from orders.admin.payment_state import refundable_payments
    from payments.models import Payment, Provider
    from payments.services import open_refund, send_refund
    from pos.exceptions import SaleError
    from pos.services import record_cash_refund

    with transaction.atomic():
        request = _locked(request_id, S.RECEIVED, S.REFUNDING, doing=_("refunded"))
        order = request.order
        due = request.refund_due or Decimal("0")
        if due <= 0:
            raise ReturnError(_("Nothing is due for return R%(pk)s.") % {"pk": request.pk})
        live = list(request.refunds.exclude(status=Refund.Status.FAILED))
        missing = due - sum((refund.amount for refund in live), Decimal("0"))
        if missing > 0:
            payments = refundable_payments(order)
            if sum((p.refundable for p in payments), Decimal("0")) < missing:
                raise ReturnError(_("The order's payments hold less than the %(amount)s due; refund by hand from the "
                                    "order page.") % {"amount": format_money(missing, order.currency)})
            plan, left = [], missing
            for payment in payments:
                if left <= 0:
                    break
                plan.append((payment.pk, min(left, payment.refundable)))
                left -= plan[-1][1]
            locked = {p.pk: p for p in Payment.objects.select_for_update().filter(
                pk__in=[pk for pk, _part in plan]).order_by("pk")}
            session = None
            at_counter = request.received_location is not None and request.received_location.kind == Location.Kind.SHOP
            if at_counter and any(locked[pk].provider == Provider.CASH for pk, _part in plan):
                session = _counter_session(request, session_id)  # refused when none is open there
            reason = _("Return R%(pk)s") % {"pk": request.pk}
            opened = []
            try:
                for pk, part in plan:
                    cash_here = session is not None and locked[pk].provider == Provider.CASH
                    opened.append(open_refund(
                        payment=locked[pk], amount=part, user=user,
                        reason=(_("%(reason)s: cash from %(register)s") % {"reason": reason,
                                                                          "register": session.register})
                        if cash_here else reason))
                request.refunds.add(*opened)
                for refund in opened:
                    if session is not None and locked[refund.payment_id].provider == Provider.CASH:
                        # The drawer pays it now, in this transaction: no provider to wait for.
                        send_refund(refund_id=refund.pk, user=user)
                        record_cash_refund(session_id=session.pk, order=order, amount=refund.amount, user=user,
                                           note=reason)
            except (PaymentError, OrderError, SaleError) as error:
                raise ReturnError(f"{error} " + _("Nothing was changed.")) from error
            if request.refund_id is None:
                request.refund = opened[0]
                request.save(update_fields=["refund", "updated_at"])
        waiting = list(request.refunds.filter(status=Refund.Status.PENDING, provider_reference="")
                       .order_by("pk").values_list("pk", flat=True))
    for refund_id in waiting:
        try:
            send_refund(refund_id=refund_id, user=user)
        except (PaymentError, OrderError):
            logger.exception("Refund %s of return R%s could not be sent; it is sent again later.", refund_id,
                             request_id)
    return settle_refund(request_id=request_id, user=user)


def settle_refund(*, request_id: int, user: AbstractBaseUser | None = None) -> ReturnRequest:
    """Refunded once the return's refunds add up to what is due and each succeeded or is pending at
    its provider; otherwise "refund not finished", saying what is missing and why. Under the
    return's lock; a return no longer received or refunding is left as it is. A step that changes
    nothing is recorded only when staff asked (a retry), not by the periodic task."""
    with transaction.atomic():
        request = ReturnRequest.objects.select_for_update().select_related("order").get(pk=request_id)
        if request.status not in (S.RECEIVED, S.REFUNDING):
            return request
        currency = request.order.currency
        refunds = list(request.refunds.select_related("payment").order_by("pk"))
        live = [refund for refund in refunds if refund.status != Refund.Status.FAILED]
        given = sum((refund.amount for refund in live), Decimal("0"))
        due = request.refund_due or Decimal("0")
        unfinished = [refund for refund in live if refund.awaiting_provider]
        data = {"refunds": [refund.pk for refund in refunds], "amount": str(due)}
        if given >= due and not unfinished:
            message = _("%(amount)s back to the original payment.") % {"amount": format_money(due, currency)}
            if any(refund.status == Refund.Status.PENDING for refund in live):
                message += " " + _("The provider is still processing it; the order's payment state moves when it "
                                   "succeeds.")
            _record(request, to=S.REFUNDED, actor=_actor(user), user=user, message=message, data=data)
            return request
        why = [_("%(amount)s to %(payment)s: no answer from the provider yet") % {
            "amount": format_money(refund.amount, currency), "payment": refund.payment.get_provider_display()}
            for refund in unfinished]
        why += [_("%(amount)s to %(payment)s refused: %(reason)s") % {
            "amount": format_money(refund.amount, currency), "payment": refund.payment.get_provider_display(),
            "reason": refund.failure_reason or "-"}
            for refund in refunds if refund.status == Refund.Status.FAILED and given < due]
        done = given - sum((refund.amount for refund in unfinished), Decimal("0"))
        message = _("Refund not finished: %(done)s of %(due)s refunded or on its way (%(why)s). Retry the refund; "
                    "nothing is refunded twice.") % {"done": format_money(done, currency),
                                                     "due": format_money(due, currency), "why": "; ".join(why)}
        if request.status != S.REFUNDING or user is not None:
            _record(request, to=S.REFUNDING, actor=_actor(user), user=user, message=message, data=data)
    return request


def finish_refunds(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """The periodic task's part: every return whose refund is unfinished (refunding, or received
    with refunds opened by a step that stopped before settling) asks its providers again for the
    refunds that got no answer, with the same keys, and is settled. Refunds a provider refused are
    left to staff ("Retry the refund" opens new ones). Returns how many returns were looked at."""
    from payments.services import send_refund

    quiet = timezone.now() - older_than
    ids = list(ReturnRequest.objects.filter(status__in=(S.RECEIVED, S.REFUNDING), refunds__isnull=False,
                                            updated_at__lte=quiet).distinct().values_list("pk", flat=True))
    for request_id in ids:
        waiting = Refund.objects.filter(pk__in=ReturnRequest.refunds.through.objects.filter(
            returnrequest_id=request_id).values("refund_id"), status=Refund.Status.PENDING, provider_reference="")
        for refund_id in waiting.order_by("pk").values_list("pk", flat=True):
            try:
                send_refund(refund_id=refund_id)
            except (PaymentError, OrderError):
                logger.exception("Refund %s of return R%s could not be sent.", refund_id, request_id)
        settle_refund(request_id=request_id)
    return len(ids)


def exchange_variants(request: ReturnRequest) -> dict[int, list[Variant]]:
    """Per return line id: the other active variants of its product (another size or colour)."""
    lines = list(request.lines.select_related("order_line__variant"))
    product_ids = {line.order_line.variant.product_id for line in lines if line.order_line.variant_id}
    variants = Variant.objects.filter(product_id__in=product_ids, is_active=True).order_by("pk")
    by_product: dict[int, list[Variant]] = {}
    for variant in variants:
        by_product.setdefault(variant.product_id, []).append(variant)
    return {line.pk: [v for v in by_product.get(line.order_line.variant.product_id, [])
                      if v.pk != line.order_line.variant_id]
            for line in lines if line.order_line.variant_id}


def exchange_return(*, request_id: int, variants: Mapping[int, int], user: AbstractBaseUser,
                    collect_at: int | None = None) -> ReturnRequest:
    """Send another size or colour instead of money: per return line id, the variant sent for its
    units, reserved now (`catalog.stock.reserve`: stock rows locked in pk order, all or nothing);
    only at the shop `collect_at` when the shopper collects it there (`ship_exchange(collected_at=)`).

    One transaction holding the return's lock. The reserved units are `ExchangeLine` rows, shipped
    with `ship_exchange`. Raises ReturnError, changing nothing, unless received, for a variant of
    another product, or when the stock is short (OutOfStock's message).
    """
    with transaction.atomic():
        request = _locked(request_id, S.RECEIVED, doing=_("exchanged"))
        if request.refunds.exists():
            raise ReturnError(_("Return R%(pk)s is being refunded, so it cannot be exchanged as well. Nothing was "
                                "changed.") % {"pk": request.pk})
        choices = exchange_variants(request)
        lines = {line.pk: line for line in request.lines.all()}
        if not variants:
            raise ReturnError(_("Choose the size or colour to send for at least one item."))
        wanted = []
        for line_id, variant_id in variants.items():
            if variant_id not in {v.pk for v in choices.get(line_id, [])}:
                raise ReturnError(_("Choose another size or colour of the same product."))
            wanted.append((lines[line_id], variant_id))
        if collect_at is not None and not Location.objects.filter(pk=collect_at, kind=Location.Kind.SHOP,
                                                                  is_active=True).exists():
            raise ReturnError(_("Choose an open shop for the shopper to collect the exchange."))
        try:
            allocations = stock.reserve(requests=[stock.StockRequest(variant_id=v, quantity=line.quantity)
                                                  for line, v in wanted],
                                        location_ids=[collect_at] if collect_at is not None else None)
        except OutOfStock as error:
            raise ReturnError(str(error)) from error
        # Hand the reserved units (maybe split over locations) to the lines that asked for them.
        queues: dict[int, list[list[int]]] = {}
        for allocation in allocations:
            queues.setdefault(allocation.variant_id, []).append([allocation.stock_level_id, allocation.quantity])
        rows = []
        for line, variant_id in wanted:
            need = line.quantity
            while need:
                part = queues[variant_id][0]
                take = min(need, part[1])
                rows.append(ExchangeLine(request=request, return_line=line, variant_id=variant_id,
                                         stock_level_id=part[0], quantity=take))
                need, part[1] = need - take, part[1] - take
                if not part[1]:
                    queues[variant_id].pop(0)
        ExchangeLine.objects.bulk_create(rows)
        names = ", ".join(f"{row.quantity} × {Variant.objects.get(pk=row.variant_id).sku}" for row in rows)
        message = _("Exchange reserved: %(items)s.") % {"items": names}
        if collect_at is not None:
            message += " " + _("To be collected at %(shop)s.") % {"shop": Location.objects.get(pk=collect_at).name}
        _record(request, to=S.EXCHANGED, actor=ReturnEvent.Actor.STAFF, user=user, message=message,
                data={"exchange": {str(row.return_line_id): row.variant_id for row in rows},
                      "collect_at": collect_at})
    return request


def ship_exchange(*, request_id: int, user: AbstractBaseUser, carrier: str = "", tracking_number: str = "",
                  tracking_url: str = "", collected_at: int | None = None) -> ReturnRequest:
    """The exchange's units leave: by parcel (`carrier` and `tracking_number` required, a tracking
    link optional) or handed to the shopper at a shop's counter (`collected_at`: a shop holding
    every unit, reserved there when the exchange was made). Reserved and on hand drop at their
    stock level (a ledger row, reason sale, naming the order); an `ExchangeShipment` keeps how.

    One transaction holding the return's lock. The shopper is emailed the tracking after commit
    (outbox kind `returns.exchange_sent`, once per return); a collection at the counter sends
    nothing (the shopper is there). Raises ReturnError, changing nothing, when already sent, not an
    exchange, without a carrier and tracking number, for a link that is not a web address, or at a
    shop that does not hold the units.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    carrier, tracking_number, tracking_url = carrier.strip(), tracking_number.strip(), tracking_url.strip()
    if collected_at is None:
        if not carrier or not tracking_number:
            raise ReturnError(_("Type the carrier and the tracking number of the exchange's parcel."))
        if tracking_url:
            try:
                URLValidator(schemes=["http", "https"])(tracking_url)
            except ValidationError:
                raise ReturnError(_("The tracking link must be a web address (https://…).")) from None
    with transaction.atomic():
        request = _locked(request_id, S.EXCHANGED, doing=_("shipped"))
        rows = list(request.exchange_lines.filter(shipped_at__isnull=True).select_related("stock_level", "variant"))
        if not rows:
            raise ReturnError(_("The exchange of return R%(pk)s has already been sent.") % {"pk": request.pk})
        shop = None
        if collected_at is not None:
            shop = Location.objects.filter(pk=collected_at, kind=Location.Kind.SHOP, is_active=True).first()
            if shop is None or any(row.stock_level.location_id != shop.pk for row in rows):
                raise ReturnError(_("The exchange is reserved at another location, so it cannot be collected "
                                    "there: send it by parcel."))
        stock.fulfil(allocations=[stock.Allocation(stock_level_id=row.stock_level_id, variant_id=row.variant_id,
                                                   location_id=row.stock_level.location_id, quantity=row.quantity)
                                  for row in rows],
                     cause=Cause(reason=StockReason.SALE, order_id=request.order_id, actor_id=user.pk))
        shipment = ExchangeShipment.objects.create(
            request=request, carrier=carrier[:80] if shop is None else "", created_by=_user(user),
            tracking_number=tracking_number[:80] if shop is None else "",
            tracking_url=tracking_url if shop is None else "", collected_at=shop)
        now = timezone.now()
        for row in rows:
            row.shipped_at, row.shipment = now, shipment
        ExchangeLine.objects.bulk_update(rows, ["shipped_at", "shipment"])
        items = ", ".join(f"{row.quantity} × {row.variant.sku}" for row in rows)
        if shop is None:
            message = _("Exchange sent (%(items)s) with %(carrier)s, tracking number %(number)s.") % {
                "items": items, "carrier": carrier, "number": tracking_number}
            if tracking_url:
                message += f" {tracking_url}"
        else:
            message = _("Exchange collected at %(shop)s (%(items)s).") % {"shop": shop.name, "items": items}
        _record(request, to=S.EXCHANGED, actor=ReturnEvent.Actor.STAFF, user=user, message=message,
                data={"shipped": [row.pk for row in rows], "exchange_shipment": shipment.pk})
        if shop is None:
            emails.enqueue(request=request, kind=emails.EXCHANGE_SENT)
    return request
