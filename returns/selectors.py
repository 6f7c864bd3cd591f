"""Reads for returns: what of an order may still be asked back under the store's policy, and why
not, in plain words; the returns of an order for its page."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Category
from orders.models import Order, OrderLine, Shipment

from .models import ReturnLine, ReturnPolicy, ReturnRequest

OPEN = (ReturnRequest.Status.REQUESTED, ReturnRequest.Status.APPROVED)


@dataclass(frozen=True)
class Returnable:
    """One order line as the return form offers it: how many units may be asked back (0 when
    none), and the sentence that says why not."""

    line: OrderLine
    available: int
    blocked: str = ""


@dataclass(frozen=True)
class Eligibility:
    lines: list[Returnable]
    deadline: datetime.date | None  # the last day to ask; None before anything shipped
    policy: ReturnPolicy
    closed: str = ""  # why the whole order can no longer be returned ("" when it can)

    @property
    def any_available(self) -> bool:
        return not self.closed and any(item.available for item in self.lines)


def _excluded_category_ids(policy: ReturnPolicy) -> set[int]:
    """The excluded categories and all their subcategories (the tree is small: one query for it)."""
    roots = set(policy.excluded_categories.values_list("pk", flat=True))
    if not roots:
        return set()
    children: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found, todo = set(), list(roots)
    while todo:
        pk = todo.pop()
        if pk not in found:
            found.add(pk)
            todo.extend(children.get(pk, ()))
    return found


def eligibility(*, order: Order, now: datetime.datetime | None = None, lock: bool = False) -> Eligibility:
    """What of `order` may be asked back now, line by line, under the store's policy.

    A unit may come back when it shipped, has not come back, is not in an open return already,
    its product's category is not excluded (or under an excluded one), and the order's last
    parcel left at most `window_days` ago. With `lock`, the lines are read under row locks
    (the caller holds the order's lock and a transaction). Five queries.
    """
    policy = ReturnPolicy.current()
    now = now or timezone.now()
    last_shipped = Shipment.objects.filter(order=order).aggregate(last=Max("created_at"))["last"]
    lines = OrderLine.objects.filter(order=order).select_related("variant__product").order_by("pk")
    if lock:
        lines = lines.select_for_update(of=("self",))
    pending = dict(
        ReturnLine.objects.filter(request__order=order, request__status__in=OPEN)
        .values("order_line").annotate(units=Sum("quantity")).values_list("order_line", "units")
    )
    excluded = _excluded_category_ids(policy)
    deadline = None
    closed = ""
    if last_shipped is None:
        closed = _("Nothing in this order has been sent yet, so there is nothing to return.")
    else:
        deadline = timezone.localdate(last_shipped) + datetime.timedelta(days=policy.window_days)
        if timezone.localdate(now) > deadline:
            closed = ngettext(
                "Returns can be asked for up to %(days)d day after the order was sent; that was until %(date)s.",
                "Returns can be asked for up to %(days)d days after the order was sent; that was until %(date)s.",
                policy.window_days) % {"days": policy.window_days, "date": deadline.isoformat()}
    rows = []
    for line in lines:
        left = line.quantity_fulfilled - line.quantity_returned - pending.get(line.pk, 0)
        blocked = ""
        if line.variant is not None and line.variant.product.category_id in excluded:
            blocked = _("This item cannot be returned (the store does not take back this kind of product).")
        elif line.quantity_fulfilled == 0:
            blocked = _("Not sent yet.")
        elif left <= 0:
            blocked = (_("Already in a return you asked for.") if pending.get(line.pk)
                       else _("Already returned."))
        rows.append(Returnable(line=line, available=0 if blocked or closed else max(left, 0), blocked=blocked))
    return Eligibility(lines=rows, deadline=deadline, policy=policy, closed=closed)


def order_returns(*, order: Order) -> list[ReturnRequest]:
    """The order's returns, newest first, with their lines and how an exchange left (four queries;
    one when there is none)."""
    return list(ReturnRequest.objects.filter(order=order)
                .prefetch_related("lines__order_line", "exchange_shipments__collected_at")
                .order_by("-created_at", "-pk"))


def drop_off_points() -> list:
    """Where a parcel may be sent or the items handed in: the active warehouses, then the shops."""
    from catalog.models import Location

    return list(Location.objects.filter(is_active=True).order_by("kind", "position", "name"))
