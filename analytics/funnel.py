"""The funnel: sessions -> product views -> add to cart -> checkout -> paid, by device and channel.

Rolled up per store day (`rollup_funnel_day`, run by `services.rollup_day`) into `FunnelDay`
rows, so a report over a year reads a few hundred small rows; today is computed live from the
day's events, as the dashboard does.

Definitions (stated on the page too):

- a **session** is one visitor's events with no gap over SESSION_GAP (30 minutes, as most web
  analytics count), cut at the store day's midnight (`TIME_ZONE`): a day's figures never need
  another day's events, so a day is rolled up on its own and re-running it gives the same rows;
- its **device** and **channel** are those of its first event;
- a session **reached** a step when it holds the step's event: `product_viewed`, `added_to_cart`,
  `checkout_started`; **paid** when it holds an `order_placed` whose order has `paid_at` when the
  day is rolled up (a payment webhook has no visitor, so the order links the two). Yesterday is
  rolled up again every hour, which catches a payment that lands after midnight;
- the steps are counted independently (a session may add to cart from a listing without a product
  view), so a step may exceed the one before; drop-off is then shown as negative rather than hidden.
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from .models import WEB, Event, FunnelDay
from .services import day_bounds, store_today

SESSION_GAP = datetime.timedelta(minutes=30)
# (FunnelDay field, label, the event that reaches the step); "sessions" and "paid" are special.
STEPS = (
    ("sessions", _("Sessions"), None),
    ("product_views", _("Product views"), "product_viewed"),
    ("carts", _("Added to cart"), "added_to_cart"),
    ("checkouts", _("Checkout"), "checkout_started"),
    ("paid", _("Paid"), None),
)
STEP_FIELDS = tuple(name for name, _label, _event in STEPS)
_STEP_OF_EVENT = {event: name for name, _label, event in STEPS if event}
DEVICE_LABELS = {**dict(Event.Device.choices), "": _("Unknown")}


@dataclass
class Steps:
    """Sessions and how many reached each step."""

    sessions: int = 0
    product_views: int = 0
    carts: int = 0
    checkouts: int = 0
    paid: int = 0

    def add(self, other: Steps) -> None:
        for name in STEP_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def values(self) -> list[int]:
        return [getattr(self, name) for name in STEP_FIELDS]


# --- Rollup -----------------------------------------------------------------------------------


def day_sessions(day: datetime.date, *, until: datetime.datetime | None = None) -> dict[tuple[str, str], Steps]:
    """`day`'s sessions (store time zone) by (channel, device), each counted once per step it
    reached. Two queries: the day's events of browsers (visitor, time, name, channel, device and,
    for `order_placed`, the order), and which of those orders are paid. `until`: stop there
    (today, live)."""
    from orders.models import Order

    start, end = day_bounds(day)
    if until is not None:
        end = min(end, until)
    rows = (Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end).exclude(visitor_id="")
            .order_by("visitor_id", "occurred_at", "pk")
            .values_list("visitor_id", "occurred_at", "name", "channel", "device", "properties__order_id"))
    events = list(rows)
    placed = {order_id for _v, _a, name, _c, _d, order_id in events if name == "order_placed" and order_id}
    paid_orders = set(Order.objects.filter(pk__in=placed, paid_at__isnull=False).values_list("pk", flat=True)) \
        if placed else set()

    found: dict[tuple[str, str], Steps] = defaultdict(Steps)
    visitor, last_at, reached, segment = None, None, set(), None

    def close() -> None:
        if segment is None:
            return
        steps = found[segment]
        steps.sessions += 1
        for name in reached:
            setattr(steps, name, getattr(steps, name) + 1)

    for visitor_id, occurred_at, name, channel, device, order_id in events:
        if visitor_id != visitor or occurred_at - last_at > SESSION_GAP:
            close()
            visitor, reached, segment = visitor_id, set(), (channel or WEB, device or "")
        last_at = occurred_at
        step = _STEP_OF_EVENT.get(name)
        if step:
            reached.add(step)
        elif name == "order_placed" and order_id in paid_orders:
            reached.add("paid")
    close()
    return dict(found)


@transaction.atomic
def rollup_funnel_day(*, day: datetime.date) -> int:
    """Replace `day`'s FunnelDay rows in one transaction (idempotent). A day without sessions
    still gets a web row of zeros, so it reads as rolled up. Returns the row count."""
    found = day_sessions(day) or {(WEB, ""): Steps()}
    FunnelDay.objects.filter(day=day).delete()
    FunnelDay.objects.bulk_create(
        FunnelDay(day=day, channel=channel, device=device, **{name: getattr(steps, name) for name in STEP_FIELDS})
        for (channel, device), steps in sorted(found.items())
    )
    return len(found)


# --- Report -----------------------------------------------------------------------------------


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class StepFigure:
    key: str
    label: str
    count: int
    of_sessions: Decimal | None  # percent of the segment's sessions
    drop_off: Decimal | None  # percent lost since the step before (None for sessions); negative: gained

    @property
    def gained(self) -> Decimal | None:
        return -self.drop_off if self.drop_off is not None and self.drop_off < 0 else None


@dataclass
class Segment:
    key: str
    label: str
    steps: Steps

    @property
    def figures(self) -> list[StepFigure]:
        values = self.steps.values()
        found = []
        for i, (name, label, _event) in enumerate(STEPS):
            before = values[i - 1] if i else None
            drop = None if before is None else _percent(before - values[i], before)
            found.append(StepFigure(name, str(label), values[i], _percent(values[i], values[0]), drop))
        return found

    @property
    def conversion(self) -> Decimal | None:
        return _percent(self.steps.paid, self.steps.sessions)


@dataclass
class FunnelReport:
    first: datetime.date
    last: datetime.date
    total: Segment
    devices: list[Segment]
    channels: list[Segment]
    missing_days: list[datetime.date] = field(default_factory=list)  # before today, never rolled up


def not_rolled_up(first: datetime.date, last: datetime.date, today: datetime.date,
                  rolled: set[datetime.date] | None = None) -> list[datetime.date]:
    """The days from `first` to `last` before today that have no FunnelDay row (every rolled-up
    day has one, zeros included): their figures are missing, not zero. One query unless `rolled`."""
    end = min(last, today - datetime.timedelta(days=1))
    if rolled is None:
        rolled = set(FunnelDay.objects.filter(day__gte=first, day__lte=end).values_list("day", flat=True))
    return [first + datetime.timedelta(days=n) for n in range((end - first).days + 1)
            if first + datetime.timedelta(days=n) not in rolled]


def funnel_report(*, first: datetime.date, last: datetime.date, now: datetime.datetime | None = None) -> FunnelReport:
    """The funnel for the store days `first`..`last`: past days from FunnelDay (one query),
    today live from its events (two more) when the range holds it."""
    today = store_today(now)
    by_segment: dict[tuple[str, str], Steps] = defaultdict(Steps)
    rolled: set[datetime.date] = set()
    rows = (FunnelDay.objects.filter(day__gte=first, day__lte=min(last, today - datetime.timedelta(days=1)))
            .values_list("day", "channel", "device").annotate(*(Sum(name) for name in STEP_FIELDS)).order_by())
    for day, channel, device, *values in rows:
        rolled.add(day)
        by_segment[(channel, device)].add(Steps(*values))
    if first <= today <= last:
        for segment, steps in day_sessions(today, until=now).items():
            by_segment[segment].add(steps)
    missing = not_rolled_up(first, last, today, rolled)

    total, devices, channels = Steps(), defaultdict(Steps), defaultdict(Steps)
    for (channel, device), steps in by_segment.items():
        total.add(steps)
        devices[device].add(steps)
        channels[channel].add(steps)
    device_order = [choice for choice, _label in Event.Device.choices] + [""]
    return FunnelReport(
        first, last, Segment("all", str(_("All sessions")), total),
        [Segment(key or "unknown", str(DEVICE_LABELS[key]), devices[key]) for key in device_order if key in devices],
        [Segment(key, key, channels[key]) for key in sorted(channels)],
        missing,
    )


# --- Writing events ---------------------------------------------------------------------------

# How long after placing an order its payment may still arrive ("Pay now" within the reservation).
PLACED_LOOKBACK = datetime.timedelta(days=7)


def carry_placement_device(payloads: list[dict]) -> None:
    """Give each `order_paid` (recorded by the payment service, often in a webhook: no browser)
    the device and channel of the browser that placed its order, so paid orders split by device
    too. The `order_placed` is looked for in the same batch first, then among the events already
    written (one query for the batch). The visitor is not copied: the payment is not a visit."""
    paid = [p for p in payloads if p["name"] == "order_paid" and not p.get("device")
            and (p.get("properties") or {}).get("order_id")]
    if not paid:
        return
    placed = {p["properties"].get("order_id"): (p.get("device", ""), p.get("channel", WEB))
              for p in payloads if p["name"] == "order_placed" and (p.get("properties") or {}).get("order_id")}
    wanted = {p["properties"]["order_id"] for p in paid} - set(placed)
    if wanted:
        from django.utils.dateparse import parse_datetime

        since = min(parse_datetime(p["at"]) for p in paid) - PLACED_LOOKBACK
        for order_id, device, channel in (Event.objects.filter(name="order_placed", occurred_at__gte=since,
                                                               properties__order_id__in=wanted)
                                          .values_list("properties__order_id", "device", "channel")):
            placed.setdefault(order_id, (device, channel))
    for payload in paid:
        device, channel = placed.get(payload["properties"]["order_id"], ("", WEB))
        payload["device"], payload["channel"] = device, channel
