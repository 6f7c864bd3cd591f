"""Orders that are done: shipped in full, past the return window, nothing still owed back.

The rule, as a shop keeps it: the fulfilment state moves from "shipped" (`fulfilled`) to
`completed` once

- every unit has left (the state is `fulfilled`: shipped, collected at the shop's counter, or gift
  cards issued); a partly shipped order never completes;
- the return window is over, counted as the returns form counts it (`returns.selectors.eligibility`):
  returns may be asked for up to `ReturnPolicy.window_days` store days after the store day of the
  order's last parcel, so the order completes on the day after that. An order fulfilled without a
  parcel (gift cards only) counts from the day it became fulfilled; when both exist, the later;
- no return is still open: asked for, approved, received and not yet refunded or exchanged, or
  an exchange not yet sent;
- no refund of its payments is pending at the provider.

Completing moves nothing else: no money, no stock, no email. Reports and CRM figures count a
completed order exactly as a shipped one (`orders.models.paid_orders`, `paid_at`: never by this
state). Run hourly by beat, or by the web process's thread without a broker (`complete-orders` in
CELERY_BEAT_SCHEDULE), and by `manage.py complete_orders`; safe to run twice, or twice at once.
"""
from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from payments.models import Refund
from returns.models import ExchangeLine, ReturnPolicy, ReturnRequest

from ..models import Order, OrderEvent, Shipment
from ..status import FULFILMENT, transition
from .common import lock_order

F = Order.FulfilmentStatus
# Orders looked at per query; each is completed in its own short transaction.
BATCH = 200
# What one scheduled run completes at most, so that a backlog (the first run after an upgrade)
# never holds the web process's background thread for long; the next run goes on.
PER_RUN = 2000
MESSAGE = "Completed: return window over."


def window_cutoff(*, now: datetime.datetime, window_days: int) -> datetime.datetime:
    """The start of the first store day whose parcels may still be returned at `now`.

    A parcel sent on store day D may be returned until the end of D + window_days
    (`returns.selectors.eligibility`), so its window is over at `now` exactly when it left before
    the start of the store day `localdate(now) - window_days`.
    """
    first_open_day = timezone.localdate(now) - datetime.timedelta(days=window_days)
    return timezone.make_aware(datetime.datetime.combine(first_open_day, datetime.time.min))


def due_for_completion(*, now: datetime.datetime | None = None) -> QuerySet[Order]:
    """Shipped orders that the rule above completes at `now` (one query when evaluated, and one
    for the return policy now)."""
    now = now or timezone.now()
    return _due(cutoff=window_cutoff(now=now, window_days=ReturnPolicy.current().window_days))


def _due(*, cutoff: datetime.datetime) -> QuerySet[Order]:
    parcels = Shipment.objects.filter(order=OuterRef("pk"))
    fulfilled = OrderEvent.objects.filter(order=OuterRef("pk"), kind=OrderEvent.Kind.STATUS, to_status=F.FULFILLED)
    # Returns that still owe the shopper something: asked for, approved, received and not yet
    # refunded or exchanged, or refunded only in part (a provider refused or did not answer).
    status = ReturnRequest.Status
    open_returns = ReturnRequest.objects.filter(
        order=OuterRef("pk"), status__in=(status.REQUESTED, status.APPROVED, status.RECEIVED, status.REFUNDING))
    unsent_exchanges = ExchangeLine.objects.filter(request__order=OuterRef("pk"), shipment__isnull=True)
    pending_refunds = Refund.objects.filter(payment__order=OuterRef("pk"), status=Refund.Status.PENDING)
    return (
        Order.objects.filter(fulfilment_status=F.FULFILLED)
        # When the goods left is known (an order with neither record is left alone) ...
        .filter(Q(Exists(parcels)) | Q(Exists(fulfilled)))
        # ... and all of it before the window's first open day.
        .exclude(Exists(parcels.filter(created_at__gte=cutoff)))
        .exclude(Exists(fulfilled.filter(created_at__gte=cutoff)))
        .exclude(Exists(open_returns))
        .exclude(Exists(unsent_exchanges))
        .exclude(Exists(pending_refunds))
    )


def complete_orders(*, now: datetime.datetime | None = None, batch: int = BATCH, limit: int | None = None) -> int:
    """Complete every order `due_for_completion` at `now` (at most `limit`); return how many.

    Reads the due orders `batch` at a time in primary-key order (each read starts after the last
    order seen, so an order skipped below is not read again in this run). Each order is completed
    in its own transaction: its row locked, then the rule checked again under that lock (a return
    asked for or a refund started meanwhile keeps it open), then `transition` records the move
    with the actor "task" and MESSAGE. An order already completed is skipped, so a second run, or
    two at once, complete each order once.
    """
    now = now or timezone.now()
    window_days = ReturnPolicy.current().window_days
    due = _due(cutoff=window_cutoff(now=now, window_days=window_days))
    done, after = 0, 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        ids = list(due.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
        for order_id in ids:
            done += _complete(order_id, due=due, window_days=window_days)
        if len(ids) < size:
            break
        after = ids[-1]
    return done


def _complete(order_id: int, *, due: QuerySet[Order], window_days: int) -> int:
    """1 if the order was completed, 0 if it no longer qualifies (four queries either way at most,
    plus the customer figures' refresh `transition` enqueues after commit)."""
    with transaction.atomic():
        order = lock_order(order_id)
        if order.fulfilment_status != F.FULFILLED or not due.filter(pk=order_id).exists():
            return 0
        transition(order=order, state=FULFILMENT, to=F.COMPLETED, actor=OrderEvent.Actor.TASK, message=MESSAGE,
                   data={"window_days": window_days})
    return 1
