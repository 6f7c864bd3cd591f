"""RFM scoring: how recently, how often and how much each customer buys, as scores 1 to 5, and
the built-in segments derived from them.

Scores are quintiles over the customers with at least one paid order (order_count >= 1) who are
not erased. For each measure, customers are ranked from worst to best, and a customer's score is

    score = 1 + floor(5 * (rank - 1) / n)

where n is the number of customers scored and rank is the SQL `RANK()` of their value (1 + how
many customers have a strictly worse value). That is NTILE(5) over the ranked values with one
difference that keeps it deterministic: equal values share the rank of the first of them, so ties
always get the same score, whatever order the rows come in (plain NTILE would split a tie across
two buckets by row order). A consequence: when a value is very common (one order is the usual
frequency) everyone with it gets the score of the start of its group.

- Recency: whole days since the last paid order (fewer is better; the same day is a tie).
- Frequency: order_count (paid orders, refunded ones included).
- Monetary: total_spent (paid totals minus refunds).

Built-in segments, first rule that matches (R, F, M are the scores):

- Champions: R >= 4, F >= 4 and M >= 4.
- At risk: R <= 2 and F >= 3 (bought often, gone quiet).
- Loyal: F >= 4 (and neither of the above).
- New: first paid order within the last 30 days and F <= 1.
- Lost: R = 1 and F <= 2.
- Others: everyone else with a paid order.

At risk comes before Loyal on purpose: a frequent buyer who has stopped buying is the one to
call. Customers without a paid order (and erased customers) have scores 0 and no segment.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from ..models import Activity, Customer, RFMSegment

NEW_CUSTOMER_DAYS = 30
SCORE_FIELDS = ("recency_score", "frequency_score", "monetary_score", "rfm_segment")
BATCH_SIZE = 1000


def quintile_scores(values: dict[int, object], *, higher_is_better: bool = True) -> dict[int, int]:
    """Score each key 1..5 by the quintile of its value: 1 + floor(5 * (rank - 1) / n), where
    rank is 1 + the number of strictly worse values (ties share a rank, hence a score)."""
    n = len(values)
    ordered = sorted(values.values(), reverse=not higher_is_better)  # worst first
    rank_of: dict[object, int] = {}
    for position, value in enumerate(ordered):
        rank_of.setdefault(value, position + 1)
    return {key: 1 + (5 * (rank_of[value] - 1)) // n for key, value in values.items()}


def rfm_segment_for(*, recency: int, frequency: int, monetary: int, first_order_at: datetime | None,
                    now: datetime) -> str:
    """The built-in segment of a scored customer (the rules are in the module docstring)."""
    if recency >= 4 and frequency >= 4 and monetary >= 4:
        return RFMSegment.CHAMPIONS
    if recency <= 2 and frequency >= 3:
        return RFMSegment.AT_RISK
    if frequency >= 4:
        return RFMSegment.LOYAL
    if first_order_at is not None and first_order_at >= now - timedelta(days=NEW_CUSTOMER_DAYS) and frequency <= 1:
        return RFMSegment.NEW
    if recency == 1 and frequency <= 2:
        return RFMSegment.LOST
    return RFMSegment.OTHER


class Figures(NamedTuple):
    """What a customer is scored on (stored on Customer by stats.refresh_customer_stats, or
    computed as of an earlier day by analytics/customer_reports.py)."""
    order_count: int
    total_spent: Decimal
    first_order_at: datetime | None
    last_order_at: datetime


def score_figures(figures: dict[int, Figures], *, now: datetime) -> dict[int, tuple[int, int, int, str]]:
    """(R, F, M, segment) for each key of `figures`: the quintiles among them and the built-in
    segment, as of `now`. The one place the rules are applied: `score_customers` stores the result;
    the customers report (analytics) counts it at past month ends."""
    recency = quintile_scores({pk: (now - f.last_order_at).days for pk, f in figures.items()}, higher_is_better=False)
    frequency = quintile_scores({pk: f.order_count for pk, f in figures.items()})
    monetary = quintile_scores({pk: f.total_spent for pk, f in figures.items()})
    return {
        pk: (recency[pk], frequency[pk], monetary[pk],
             rfm_segment_for(recency=recency[pk], frequency=frequency[pk], monetary=monetary[pk],
                             first_order_at=f.first_order_at, now=now))
        for pk, f in figures.items()
    }


def score_customers(*, now: datetime | None = None) -> dict:
    """Score every customer and store recency/frequency/monetary_score, rfm_segment and
    rfm_scored_at; record an Activity (SEGMENT) for each customer whose segment changed.

    Reads the stored figures (run refresh_customer_stats first; the nightly task does). One
    transaction. Queries: one read of the scored customers, one UPDATE per distinct set of new
    scores (at most 125, each for up to 1,000 customers) for the rows that changed, one UPDATE
    for rfm_scored_at, one read and one UPDATE for customers to reset, and one bulk_create of
    activities; so it is idempotent and cheap when nothing moved:
    running it twice with the same `now` changes nothing and records no second activity.
    Returns {"scored": n, "changed": n, "segments": {segment: count}}.
    """
    now = now or timezone.now()
    scored = Customer.objects.filter(order_count__gte=1, last_order_at__isnull=False, erased_at__isnull=True)
    with transaction.atomic():
        rows = list(scored.only("pk", "order_count", "total_spent", "first_order_at", "last_order_at",
                                *SCORE_FIELDS).order_by("pk"))
        scores = score_figures(
            {c.pk: Figures(c.order_count, c.total_spent, c.first_order_at, c.last_order_at) for c in rows}, now=now)

        changed: list[Customer] = []
        activities: list[Activity] = []
        segments: Counter[str] = Counter()
        for customer in rows:
            r, f, m, segment = scores[customer.pk]
            segments[segment] += 1
            if segment != customer.rfm_segment:
                activities.append(_segment_activity(customer, segment))
            new = (r, f, m, segment)
            if new != tuple(getattr(customer, name) for name in SCORE_FIELDS):
                customer.recency_score, customer.frequency_score, customer.monetary_score, customer.rfm_segment = new
                changed.append(customer)
        # One UPDATE per distinct (R, F, M, segment) among the changed rows (at most 5*5*5 of
        # them), 1,000 ids at a time: much cheaper than bulk_update's CASE per row at 100,000 rows.
        groups: dict[tuple, list[int]] = {}
        for customer in changed:
            groups.setdefault(tuple(getattr(customer, name) for name in SCORE_FIELDS), []).append(customer.pk)
        for values, ids in groups.items():
            for start in range(0, len(ids), BATCH_SIZE):
                Customer.objects.filter(pk__in=ids[start:start + BATCH_SIZE]).update(**dict(zip(SCORE_FIELDS, values)))
        if rows:
            scored.exclude(rfm_scored_at=now).update(rfm_scored_at=now)

        # Customers who were scored but no longer qualify (every order cancelled, or erased).
        stale = list(
            Customer.objects.exclude(pk__in=scored.values("pk"))
            .exclude(recency_score=0, frequency_score=0, monetary_score=0, rfm_segment="")
            .only("pk", "rfm_segment")
        )
        activities += [_segment_activity(customer, "") for customer in stale if customer.rfm_segment]
        if stale:
            Customer.objects.filter(pk__in=[c.pk for c in stale]).update(
                recency_score=0, frequency_score=0, monetary_score=0, rfm_segment="", rfm_scored_at=now,
            )
        Activity.objects.bulk_create(activities, batch_size=BATCH_SIZE)
    return {"scored": len(rows), "changed": len(changed) + len(stale), "segments": dict(segments)}


def _segment_activity(customer: Customer, segment: str) -> Activity:
    labels = dict(RFMSegment.choices)
    before = str(labels.get(customer.rfm_segment, "none")) if customer.rfm_segment else "none"
    after = str(labels.get(segment, "none")) if segment else "none"
    return Activity(
        customer_id=customer.pk, kind=Activity.Kind.SEGMENT, message=f"Segment: {before} → {after}",
        data={"from": customer.rfm_segment, "to": segment},
    )
