"""Sales over time: net sales, orders and units by day, week or month, split by one dimension.

The figures follow the daily rollup's definitions (`services.day_figures`), so a range's total
net sales equal the rolled-up days' net sales:

- net sales = succeeded payments by `succeeded_at` minus succeeded refunds by `created_at`, in the
  store's time zone, by the day the money moved (never by `Order.status`);
- orders and units = orders by `paid_at`.

The split: a payment or refund belongs to an order, not to a line, so each is split across the
order's lines in proportion to their line totals (`split_proportionally`: cents, largest
remainder, the parts add up to the whole exactly) and each part goes to its line's category,
brand, product... An order counts once for each value it has a line in, so the values' order
counts may add up to more than the total, which counts each order once.

Cost: four queries whatever the range or the number of orders (payments, refunds, paid orders,
and the lines of every order among them); the split and the buckets are made in Python.
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import WEB
from .services import day_bounds, store_zone

ZERO = Decimal("0")
CENT = Decimal("0.01")
NONE = "none"  # the link value for "no category/brand/product/country" (a deleted product, a pick-up)

DAY, WEEK, MONTH = "day", "week", "month"
GRAINS = ((DAY, _("Day")), (WEEK, _("Week")), (MONTH, _("Month")))
DIMENSIONS = (
    ("category", _("Category")),
    ("brand", _("Brand")),
    ("product", _("Product")),
    ("channel", _("Channel")),
    # Omnichannel: per location, what was sold at its counter, collected there (click and collect)
    # and shipped from its stock (a delivered order's allocations), and how the goods reached the
    # customer (click-and-collect share).
    ("location", _("Location (sold, collected or shipped from)")),
    ("handover", _("Delivery, click and collect or counter")),
    ("shipping", _("Shipping method")),
    ("country", _("Country")),
)
# The order list's filter parameter for each dimension (orders/admin/filters.py).
FILTER_PARAMETER = {"category": "line_category", "brand": "line_brand", "product": "line_product",
                    "channel": "channel", "shipping": "shipping_method_name", "country": "country",
                    "location": "sold_or_collected_at", "handover": "handover"}
# The "handover" dimension's values: how an order's goods reached the customer.
COLLECT, COUNTER, DELIVERED = "collect", "counter", "delivery"
HANDOVER_LABELS = {COLLECT: _("Click and collect"), COUNTER: _("At the counter"), DELIVERED: _("Delivery")}
# The "location" dimension's roles: a row is one location in one role, keyed "<pk>-<role>".
SHIPPED = "shipped"
LOCATION_ROLES = {COUNTER: _("%(location)s: sold at the counter"), COLLECT: _("%(location)s: collected there"),
                  SHIPPED: _("%(location)s: shipped from there")}


def split_proportionally(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`total` (whole cents) split in proportion to `weights`, in cents, adding up to `total` exactly.

    Largest remainder: each part is first rounded down, then the cents left over go one each to
    the parts with the largest remainders (the earlier part on a tie). All-zero weights share
    equally. A negative total is split as its opposite, then negated.
    """
    if not weights:
        raise ValueError("Nothing to split across.")
    if total < 0:
        return [-part for part in split_proportionally(-total, weights)]
    cents = int((total / CENT).to_integral_value())
    if Decimal(cents) * CENT != total:
        raise ValueError(f"{total} is not a whole number of cents.")
    scaled = [int((w / CENT).to_integral_value()) for w in weights]
    if any(w < 0 for w in scaled):
        raise ValueError("Weights cannot be negative.")
    if sum(scaled) == 0:
        scaled = [1] * len(weights)
    whole = sum(scaled)
    floors = [cents * w // whole for w in scaled]
    remainders = [cents * w % whole for w in scaled]
    left = cents - sum(floors)
    for i in sorted(range(len(scaled)), key=lambda i: (-remainders[i], i))[:left]:
        floors[i] += 1
    return [Decimal(part) * CENT for part in floors]


@dataclass(frozen=True)
class Bucket:
    first: datetime.date
    last: datetime.date
    grain: str

    @property
    def label(self) -> str:
        if self.grain == DAY:
            return self.first.isoformat()
        if self.grain == MONTH:
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


def buckets(first: datetime.date, last: datetime.date, grain: str) -> list[Bucket]:
    """The days, ISO weeks (Monday first) or calendar months from `first` to `last`, the first
    and last cut to the range."""
    found = []
    start = first
    while start <= last:
        if grain == DAY:
            end = start
        elif grain == WEEK:
            end = start + datetime.timedelta(days=6 - start.weekday())
        else:
            following = (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            end = following - datetime.timedelta(days=1)
        end = min(end, last)
        found.append(Bucket(start, end, grain))
        start = end + datetime.timedelta(days=1)
    return found


@dataclass
class Cell:
    net_sales: Decimal = ZERO
    orders: int = 0
    units: int = 0
    net_link: str = ""
    orders_link: str = ""

    @property
    def empty(self) -> bool:
        return not self.net_sales and not self.orders and not self.units


@dataclass
class Row:
    key: str  # the filter value for the order list (a pk, a name, or NONE)
    label: str
    cells: list[Cell]
    total: Cell = field(default_factory=Cell)


@dataclass
class SalesReport:
    first: datetime.date
    last: datetime.date
    grain: str
    dimension: str
    buckets: list[Bucket]
    rows: list[Row]  # largest net sales over the range first
    totals: list[Cell]  # per bucket, every order once
    total: Cell
    # Kept to count an "Other" row's orders (each once): {order: bucket}, {order: [(value, ...) per line]}.
    paid_in: dict[int, int] = field(default_factory=dict, repr=False)
    lines_of: dict[int, list[tuple]] = field(default_factory=dict, repr=False)

    @property
    def dimension_label(self) -> str:
        return dict(DIMENSIONS)[self.dimension]

    def share(self, key: str) -> tuple[Decimal, Decimal]:
        """(share of net sales, share of orders) of the row `key` over the whole range, in percent
        to one decimal (0 when there is nothing): the click-and-collect share, say."""
        row = next((row for row in self.rows if row.key == key), None)
        if row is None:
            return ZERO, ZERO

        def percent(part, whole) -> Decimal:
            return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")) if whole else ZERO

        return percent(row.total.net_sales, self.total.net_sales), percent(row.total.orders, self.total.orders)

    def top(self, count: int) -> tuple[list[Row], Row | None]:
        """The `count` largest rows, and the rest as one "Other" row (None when nothing is left):
        its net sales and units are the rest's sums, its orders the orders with a line in any of
        them, each once. It has no links: no filter picks "none of the largest"."""
        shown, rest = self.rows[:count], self.rows[count:]
        if not rest:
            return shown, None
        keys = {row.key for row in rest}
        cells = [Cell(net_sales=sum((row.cells[i].net_sales for row in rest), ZERO),
                      units=sum(row.cells[i].units for row in rest)) for i in range(len(self.buckets))]
        for order_id, i in self.paid_in.items():
            if any(line[0] in keys for line in self.lines_of.get(order_id, ())):
                cells[i].orders += 1
        return shown, Row("", str(_("Other (%(count)s)") % {"count": len(rest)}), cells, _sum(cells))


def _line_fields(dimension: str) -> tuple[str, ...]:
    return {
        "category": ("variant__product__category_id", "variant__product__category__name"),
        "brand": ("variant__product__brand_id", "variant__product__brand__name"),
        "product": ("variant__product_id", "variant__product__title"),
        "channel": ("order__channel_id", "order__channel__name"),
        # One row per allocation of the line (LEFT JOIN: none for a line never allocated), read by
        # `_location_lines`; the line's pk first to group them.
        "location": ("pk", "order__sale_location_id", "order__sale_location__name", "order__pickup_location_id",
                     "order__pickup_location__name", "allocations__stock_level__location_id",
                     "allocations__stock_level__location__name", "allocations__quantity",
                     "allocations__quantity_released"),
        "handover": ("order__sale_location_id", "order__pickup_location_id"),
        "shipping": ("order__shipping_method_name",),
        "country": ("order__shipping_address__country",),
    }[dimension]


def _line_key(dimension: str, values: tuple) -> tuple[str, str]:
    """(link value, label) of one line's dimension value."""
    if dimension == "channel":  # the order's sales channel (saleschannels), by its code
        code, name = values
        return code or WEB, name or code or WEB
    if dimension == "handover":
        sold_at, pickup_at = values
        key = COUNTER if sold_at is not None else COLLECT if pickup_at is not None else DELIVERED
        return key, str(HANDOVER_LABELS[key])
    if dimension in ("shipping", "country"):
        value = values[0] or ""
        if not value:
            return NONE, str(_("None (pick-up)") if dimension == "shipping" else _("Unknown"))
        return value, value
    pk, name = values
    if pk is None:
        return NONE, str({"category": _("Unknown (product deleted)"), "brand": _("No brand"),
                          "product": _("Unknown (product deleted)")}[dimension])
    return str(pk), name


def _location_key(location_id: int, name: str, role: str) -> tuple[str, str]:
    return f"{location_id}-{role}", str(LOCATION_ROLES[role] % {"location": name})


def _location_lines(rows):
    """(order id, [(key, label, units, line total)]) per line, from the "location" rows (one per
    allocation of each line, in line order), for `sales_over_time`.

    A counter sale belongs to its shop's counter, a click-and-collect order to its pick-up shop,
    whatever stock they took. A delivered order's line belongs to the locations its stock was
    allocated at (`orders.Allocation`: where it shipped from, or will), split by units: units moved
    to another location (released there, re-allocated here) count where they are now; a line whose
    units were all released (a cancelled order) counts where it was allocated. A line never
    allocated is "Not allocated (delivered)". The line total is split across its locations by units
    (to the cent, adding up).
    """
    current = None
    for order_id, quantity, line_total, line_id, sold_at, sold_name, pickup_at, pickup_name, *allocation in rows:
        if current is None or current[0] != line_id:
            if current is not None:
                yield current[1], _location_parts(*current[2:])
            current = [line_id, order_id, quantity, line_total, sold_at, sold_name, pickup_at, pickup_name, []]
        if allocation[0] is not None:
            current[-1].append(tuple(allocation))
    if current is not None:
        yield current[1], _location_parts(*current[2:])


def _location_parts(quantity, line_total, sold_at, sold_name, pickup_at, pickup_name, allocations):
    if sold_at is not None:
        return [(*_location_key(sold_at, sold_name, COUNTER), quantity, line_total)]
    if pickup_at is not None:
        return [(*_location_key(pickup_at, pickup_name, COLLECT), quantity, line_total)]
    if not allocations:
        return [(NONE, str(_("Not allocated (delivered)")), quantity, line_total)]
    units: dict[int, int] = defaultdict(int)
    names = {}
    for location_id, name, allocated, released in allocations:
        units[location_id] += allocated - released
        names[location_id] = name
    if not any(units.values()):  # all released: where it was allocated
        for location_id, _name, allocated, _released in allocations:
            units[location_id] += allocated
    placed = [(location_id, count) for location_id, count in units.items() if count > 0]
    if len(placed) == 1:
        return [(*_location_key(placed[0][0], names[placed[0][0]], SHIPPED), quantity, line_total)]
    totals = split_proportionally(line_total, [Decimal(count) for _loc, count in placed])
    return [(*_location_key(location_id, names[location_id], SHIPPED), count, total)
            for (location_id, count), total in zip(placed, totals)]


def sales_over_time(*, first: datetime.date, last: datetime.date, grain: str, dimension: str,
                    links: bool = True) -> SalesReport:
    """The report for the store days `first`..`last`; four queries. `links`: fill the order-list
    links of each figure (the caller checks the order list's permission)."""
    from orders.models import Order, OrderLine
    from payments.models import Payment, Refund

    start, _unused = day_bounds(first)
    _unused, end = day_bounds(last)
    zone = store_zone()
    spans = buckets(first, last, grain)
    index_of = {}
    for i, bucket in enumerate(spans):
        day = bucket.first
        while day <= bucket.last:
            index_of[day] = i
            day += datetime.timedelta(days=1)

    def day_of(field: str) -> TruncDate:
        # The store day in SQL: a date per row is cheaper to read than an aware datetime to
        # convert (tens of thousands of rows on a long range).
        return TruncDate(field, tzinfo=zone)

    # As the rollup counts it (services.rollup_day): gift card payments and their refunds move no money.
    payments = Payment.objects.filter(status=Payment.Status.SUCCEEDED, succeeded_at__gte=start,
                                      succeeded_at__lt=end).exclude(provider="gift_card")
    refunds = Refund.objects.filter(status=Refund.Status.SUCCEEDED, created_at__gte=start,
                                    created_at__lt=end).exclude(payment__provider="gift_card")
    paid = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    money = [(order_id, amount, index_of[day]) for order_id, amount, day in
             payments.order_by().values_list("order_id", "amount", day_of("succeeded_at"))]
    money += [(order_id, -amount, index_of[day]) for order_id, amount, day in
              refunds.order_by().values_list("payment__order_id", "amount", day_of("created_at"))]
    paid_in = {order_id: index_of[day] for order_id, day in paid.order_by().values_list("pk", day_of("paid_at"))}

    fields = _line_fields(dimension)
    lines_by_order: dict[int, list[tuple[str, str, int, Decimal]]] = defaultdict(list)
    # The orders behind the figures as one set (UNION): PostgreSQL reads each source through its
    # index and joins the lines by order once. An OR of three conditions (IN, IN, the order's
    # paid_at) made it test every line of the store against each (1-2 s at 300,000 orders).
    behind = payments.order_by().values("order_id").union(refunds.order_by().values("payment__order_id"),
                                                          paid.order_by().values("pk"))
    lines = (OrderLine.objects.filter(order__in=behind)
             .order_by("order_id", "pk", *(("allocations__pk",) if dimension == "location" else ()))
             .values_list("order_id", "quantity", "line_total", *fields))
    if dimension == "location":
        for order_id, parts in _location_lines(lines):
            lines_by_order[order_id].extend(parts)
    else:
        keys: dict[tuple, tuple[str, str]] = {}  # a few values (categories, countries) on many lines
        for order_id, quantity, line_total, *values in lines:
            values = tuple(values)
            if values not in keys:
                keys[values] = _line_key(dimension, values)
            key, label = keys[values]
            lines_by_order[order_id].append((key, label, quantity, line_total))

    labels: dict[str, str] = {}
    cells: dict[str, list[Cell]] = defaultdict(lambda: [Cell() for _b in spans])
    totals = [Cell() for _b in spans]
    for order_id, amount, i in money:
        order_lines = lines_by_order.get(order_id) or [(NONE, str(_("No lines")), 0, ZERO)]
        totals[i].net_sales += amount
        # An order whose lines all have one value (one line, or a split by the order's channel,
        # country...) gives it the whole amount: what the split's parts add up to. The split's
        # arithmetic is most of this loop's time on a long range.
        one = order_lines[0][0]
        if len(order_lines) == 1 or all(line[0] == one for line in order_lines):
            for key, label, _q, _t in order_lines:
                labels[key] = label
            cells[one][i].net_sales += amount
            continue
        parts = split_proportionally(amount, [t for *_r, t in order_lines])
        for (key, label, _q, _t), part in zip(order_lines, parts):
            labels[key] = label
            cells[key][i].net_sales += part
    for order_id, i in paid_in.items():
        totals[i].orders += 1
        seen = set()
        for key, label, quantity, _t in lines_by_order.get(order_id, []):
            labels[key] = label
            cells[key][i].units += quantity
            totals[i].units += quantity
            if key not in seen:
                cells[key][i].orders += 1
                seen.add(key)

    rows = []
    for key, row_cells in cells.items():
        row = Row(key, labels[key], row_cells, _sum(row_cells))
        rows.append(row)
    rows.sort(key=lambda r: (-r.total.net_sales, -r.total.orders, r.label.lower()))
    report = SalesReport(first, last, grain, dimension, spans, rows, totals, _sum(totals), paid_in, lines_by_order)
    if links:
        _fill_links(report)
    return report


def _sum(cells: list[Cell]) -> Cell:
    return Cell(sum((c.net_sales for c in cells), ZERO), sum(c.orders for c in cells), sum(c.units for c in cells))


def order_list_url(*, basis: str, first: datetime.date, last: datetime.date, dimension: str = "",
                   key: str = "", base: str = "") -> str:
    """The admin's order list filtered to the orders behind a figure: `basis` "moved" (money
    moved on a store day from `first` to `last`: net sales) or "paid" (paid then: orders, units),
    and, when given, a line (or the order) with the dimension's value `key`."""
    query = {basis: f"{first.isoformat()}..{last.isoformat()}"}
    if dimension:
        query[FILTER_PARAMETER[dimension]] = "" if (dimension == "shipping" and key == NONE) else key
    return f"{base or reverse('admin:orders_order_changelist')}?{urlencode(query)}"


def _fill_links(report: SalesReport) -> None:
    base = reverse("admin:orders_order_changelist")  # once: thousands of cells on a long range

    def link(cell: Cell, first: datetime.date, last: datetime.date, dimension: str = "", key: str = "") -> None:
        if cell.empty:
            return
        cell.net_link = order_list_url(basis="moved", first=first, last=last, dimension=dimension, key=key, base=base)
        cell.orders_link = order_list_url(basis="paid", first=first, last=last, dimension=dimension, key=key, base=base)

    for row in report.rows:
        for bucket, cell in zip(report.buckets, row.cells):
            link(cell, bucket.first, bucket.last, report.dimension, row.key)
        link(row.total, report.first, report.last, report.dimension, row.key)
    for bucket, cell in zip(report.buckets, report.totals):
        link(cell, bucket.first, bucket.last)
    link(report.total, report.first, report.last)
