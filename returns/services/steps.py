"""The shopper asks, staff decide, the parcel arrives."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Location
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent
from orders.services import record_return
from orders.services.common import lock_order

from .. import emails
from ..exceptions import ReturnError
from ..models import Reason, ReturnEvent, ReturnLine, ReturnRequest
from ..selectors import eligibility
from .common import S, _locked, _record


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
