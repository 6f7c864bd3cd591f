"""The Products report: what sells, what is looked at and not bought, left in carts, sent back,
searched for and not found, and what runs out.

Every figure is over store days (`TIME_ZONE`) and follows the rest of the reports' definitions:

- **best sellers**: units of orders paid in the range (by `paid_at`) and net revenue, the payments
  ledger by the day money moved, split across order lines (`reports.sales_over_time` by product,
  so they reconcile with Sales over time);
- **most viewed, low conversion**: `product_viewed` events (ProductDay) against orders paid in the range with
  the product; listed when viewed at least LOW_CONVERSION_MIN_VIEWS times and converting below the
  store's average (all orders with a line / all product views);
- **most abandoned in carts**: lines still in carts last changed in the range and not touched for
  ABANDONED_AFTER (a placed order takes its lines out of the cart), with `removed_from_cart` events;
- **most returned**: units recorded returned in the range (`OrderEvent` kind return, the
  units per line it names), against units sold in the range;
- **searches with no results**: `search` events with a result count of 0, by query (lower case);
- **stock cover**: what can still be sold (on hand - reserved, active locations) over the units
  paid per day in the last COVER_RATE_DAYS store days up to today, whatever the range picked
  ("the current sales rate"); **reorder** lists those under REORDER_BELOW_DAYS of cover, with the
  units that bring them to REORDER_TARGET_DAYS.

The figures carry no customer data (no names, no per-customer rows); search queries are the text
shoppers typed, shown as text. Views, adds and removals come from the daily `ProductDay` rollup (`rollup_product_day`, run by
`services.rollup_day`), today from its events. Cost: a fixed number of queries whatever the range
(15 with today in it).
"""
from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Count, Max, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.money import format_money

from . import reports
from .models import Event, ProductDay
from .services import day_bounds, store_today

ROWS = 20
LOW_CONVERSION_MIN_VIEWS = 20
ABANDONED_AFTER = datetime.timedelta(hours=24)
COVER_RATE_DAYS = 30
REORDER_BELOW_DAYS = 14
REORDER_TARGET_DAYS = 30


@dataclass
class Cell:
    shown: str
    value: object = ""  # what the CSV and data-value carry (plain numbers)
    link: str = ""


@dataclass
class Table:
    key: str
    title: str
    note: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class ProductsReport:
    first: datetime.date
    last: datetime.date
    tables: list[Table]
    best_sellers: list[tuple[str, int, str]]  # (title, units, orders link) for the chart
    missing_days: list[datetime.date] = field(default_factory=list)  # before today, never rolled up

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)


def _percent(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _shown_percent(value: Decimal | None) -> str:
    return "–" if value is None else f"{value}%"


def _count(value: int, link: str = "") -> Cell:
    return Cell(f"{value:,}", value, link if value else "")


class Links:
    """The admin URLs behind the figures, each only for staff who may open them."""

    def __init__(self, *, orders: bool, products: bool, first: datetime.date, last: datetime.date) -> None:
        self.orders_base = reverse("admin:orders_order_changelist") if orders else ""
        self.product_base = reverse("admin:catalog_product_change", args=[0]).replace("/0/", "/{}/") if products else ""
        self.first, self.last = first, last

    def product(self, product_id) -> str:
        return self.product_base.format(product_id) if self.product_base and product_id else ""

    def orders(self, basis: str, product_key: str, first: datetime.date | None = None,
               last: datetime.date | None = None) -> str:
        if not self.orders_base or not product_key:
            return ""
        return reports.order_list_url(basis=basis, first=first or self.first, last=last or self.last,
                                      dimension="product", key=product_key, base=self.orders_base)


def products_report(*, first: datetime.date, last: datetime.date, now: datetime.datetime | None = None,
                    orders_links: bool = True, product_links: bool = True) -> ProductsReport:
    """Every table of the report for the store days `first`..`last` (see the module's docstring)."""
    from catalog.models import Product

    now = now or timezone.now()
    start, _unused = day_bounds(first)
    _unused, end = day_bounds(last)
    links = Links(orders=orders_links, products=product_links, first=first, last=last)

    sales = reports.sales_over_time(first=first, last=last, grain=reports.MONTH, dimension="product", links=False)
    sold = {row.key: row for row in sales.rows}

    counted = product_events(first=first, last=last, now=now)

    abandoned = _abandoned(start=start, end=min(end, now - ABANDONED_AFTER))
    returned = _returned(start=start, end=end)
    wanted = ({int(k) for k in counted["product_viewed"]} | {int(k) for k in counted["removed_from_cart"]}
              | {int(k) for k in abandoned} | {int(k) for k in returned if k != reports.NONE})
    titles = dict(Product.objects.filter(pk__in=wanted).values_list("pk", "title")) if wanted else {}

    def title(key: str) -> str:
        if key in sold:
            return sold[key].label
        return titles.get(int(key), str(_("Unknown (product deleted)"))) if key != reports.NONE \
            else str(_("Unknown (product deleted)"))

    def product_link(key: str) -> str:
        # Only a product that still exists (a deleted one's views and returns are still counted).
        exists = key.isdigit() and (key in sold or int(key) in titles)
        return links.product(int(key)) if exists else ""

    tables = [
        _best_sellers(sales, links, product_link),
        _low_conversion(sales, counted, links, title, product_link),
        _abandoned_table(abandoned, counted["removed_from_cart"], title, product_link),
        _returned_table(returned, sold, links, title, product_link),
        _no_results(start=start, end=end),
    ]
    tables += _stock_tables(now=now, links=links)
    best = [(row.label, row.total.units, links.orders("paid", row.key) if row.key != reports.NONE else "")
            for row in sorted(sales.rows, key=lambda r: (-r.total.units, -r.total.net_sales, r.label.lower()))[:10]
            if row.total.units]
    from .funnel import not_rolled_up

    return ProductsReport(first, last, tables, best, not_rolled_up(first, last, store_today(now)))


COUNTED = {"product_viewed": "views", "added_to_cart": "adds", "removed_from_cart": "removals"}


def _count_events(start: datetime.datetime, end: datetime.datetime) -> dict[tuple[str, int], dict[str, int]]:
    """{(channel, product id): {"views": n, "adds": n, "removals": n}} of the events in [start, end)."""
    found: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED.values(), 0))
    rows = (Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end, name__in=COUNTED)
            .values_list("channel", "name", "properties__product_id").annotate(n=Count("pk")).order_by())
    for channel, name, product_id, n in rows:
        if isinstance(product_id, int):
            found[(channel, product_id)][COUNTED[name]] += n
    return found


@transaction.atomic
def rollup_product_day(*, day: datetime.date) -> int:
    """Replace `day`'s ProductDay rows (store day) in one transaction; idempotent. One grouped
    query over the day's events, one DELETE, one INSERT. Returns the row count."""
    start, end = day_bounds(day)
    found = _count_events(start, end)
    ProductDay.objects.filter(day=day).delete()
    ProductDay.objects.bulk_create(ProductDay(day=day, channel=channel, product_id=product_id, **figures)
                                   for (channel, product_id), figures in sorted(found.items()))
    return len(found)


def product_events(*, first: datetime.date, last: datetime.date, now: datetime.datetime) -> dict[str, dict[str, int]]:
    """{"product_viewed"|"added_to_cart"|"removed_from_cart": {product id (str): count}} over the
    store days: past days from ProductDay (one query), today live from its events (one more)."""
    today = store_today(now)
    counted: dict[str, dict[str, int]] = {name: defaultdict(int) for name in COUNTED}
    names = {figure: name for name, figure in COUNTED.items()}
    rows = (ProductDay.objects.filter(day__gte=first, day__lte=min(last, today - datetime.timedelta(days=1)))
            .values_list("product_id").annotate(*(Sum(figure) for figure in COUNTED.values())).order_by())
    for product_id, *sums in rows:
        for figure, value in zip(COUNTED.values(), sums):
            if value:
                counted[names[figure]][str(product_id)] += value
    if first <= today <= last:
        for (_channel, product_id), figures in _count_events(day_bounds(today)[0], now).items():
            for figure, value in figures.items():
                if value:
                    counted[names[figure]][str(product_id)] += value
    return counted


def _best_sellers(sales: reports.SalesReport, links: Links, product_link) -> Table:
    table = Table("best_sellers", str(_("Best sellers")),
                  str(_("Units of orders paid in the range; net revenue is what payments took minus refunds, by the "
                        "day the money moved, split across each order's lines (as Sales over time).")),
                  [str(_("Product")), str(_("Units")), str(_("Net revenue")), str(_("Orders"))])
    rows = sorted(sales.rows, key=lambda r: (-r.total.units, -r.total.net_sales, r.label.lower()))[:ROWS]
    for row in rows:
        known = row.key != reports.NONE
        table.rows.append([
            Cell(row.label, row.label, product_link(row.key)),
            _count(row.total.units, links.orders("paid", row.key) if known else ""),
            Cell(format_money(row.total.net_sales), row.total.net_sales,
                 links.orders("moved", row.key) if known and row.total.net_sales else ""),
            _count(row.total.orders, links.orders("paid", row.key) if known else ""),
        ])
    return table


def _low_conversion(sales, counted, links: Links, title, product_link) -> Table:
    views = counted["product_viewed"]
    average = _percent(sales.total.orders, sum(views.values()))
    table = Table("low_conversion", str(_("Most viewed, low conversion")),
                  str(_("Products viewed at least %(views)s times whose orders per view are below the store's "
                        "(%(average)s: orders paid in the range over product views).")
                      % {"views": LOW_CONVERSION_MIN_VIEWS, "average": _shown_percent(average)}),
                  [str(_("Product")), str(_("Views")), str(_("Added to cart")), str(_("Orders")),
                   str(_("Orders per view"))])
    orders_of = {row.key: row.total.orders for row in sales.rows}
    found = []
    for key, n in views.items():
        orders = orders_of.get(key, 0)
        rate = _percent(orders, n)
        if n >= LOW_CONVERSION_MIN_VIEWS and (average is None or rate < average):
            found.append((key, n, orders, rate))
    for key, n, orders, rate in sorted(found, key=lambda f: (-f[1], f[3], f[0]))[:ROWS]:
        table.rows.append([
            Cell(title(key), title(key), product_link(key)),
            _count(n, product_link(key)),
            _count(counted["added_to_cart"].get(key, 0)),
            _count(orders, links.orders("paid", key)),
            Cell(_shown_percent(rate), rate),
        ])
    return table


def _abandoned(*, start: datetime.datetime, end: datetime.datetime) -> dict[str, tuple[int, int]]:
    """{product id: (carts, units)} of lines in carts last changed in [start, end)."""
    from carts.models import CartLine

    if end <= start:
        return {}
    rows = (CartLine.objects.filter(cart__updated_at__gte=start, cart__updated_at__lt=end)
            .values_list("variant__product_id").annotate(carts=Count("cart_id", distinct=True), units=Sum("quantity"))
            .order_by())
    return {str(product_id): (carts, units) for product_id, carts, units in rows}


def _abandoned_table(abandoned, removed, title, product_link) -> Table:
    table = Table("abandoned", str(_("Most abandoned in carts")),
                  str(_("Lines left in carts last changed in the range and untouched for %(hours)s hours (placing "
                        "an order takes its lines out of the cart); removals are shoppers taking the product out.")
                      % {"hours": int(ABANDONED_AFTER.total_seconds() // 3600)}),
                  [str(_("Product")), str(_("Carts")), str(_("Units")), str(_("Removed from cart"))])
    for key, (carts, units) in sorted(abandoned.items(), key=lambda i: (-i[1][0], -i[1][1], i[0]))[:ROWS]:
        table.rows.append([Cell(title(key), title(key), product_link(key)), _count(carts, product_link(key)),
                           _count(units), _count(removed.get(key, 0))])
    return table


def _returned(*, start: datetime.datetime, end: datetime.datetime) -> dict[str, tuple[int, set[int]]]:
    """{product id (or NONE): (units returned, {orders})} from the returns recorded in [start, end)."""
    from orders.models import OrderEvent, OrderLine

    units_of_line: dict[int, int] = defaultdict(int)
    for data in (OrderEvent.objects.filter(kind=OrderEvent.Kind.RETURN, created_at__gte=start, created_at__lt=end)
                 .values_list("data", flat=True)):
        for line_id, quantity in ((data or {}).get("lines") or {}).items():
            units_of_line[int(line_id)] += int(quantity)
    found: dict[str, tuple[int, set[int]]] = {}
    if not units_of_line:
        return found
    for line_id, order_id, product_id in (OrderLine.objects.filter(pk__in=units_of_line)
                                          .values_list("pk", "order_id", "variant__product_id")):
        key = str(product_id) if product_id else reports.NONE
        units, orders = found.get(key, (0, set()))
        found[key] = (units + units_of_line[line_id], orders | {order_id})
    return found


def _returned_table(returned, sold, links: Links, title, product_link) -> Table:
    table = Table("returned", str(_("Most returned")),
                  str(_("Units recorded as returned in the range, against units of orders paid in the range (a "
                        "return may be of an order paid before it). The orders link lists orders with a return "
                        "recorded in the range and a line of the product.")),
                  [str(_("Product")), str(_("Units returned")), str(_("Orders")), str(_("Units sold")),
                   str(_("Returned per sold"))])
    for key, (units, orders) in sorted(returned.items(), key=lambda i: (-i[1][0], -len(i[1][1]), i[0]))[:ROWS]:
        sold_units = sold[key].total.units if key in sold else 0
        rate = _percent(units, sold_units)
        link = ""
        if links.orders_base and key != reports.NONE:
            link = f"{links.orders_base}?" + urlencode({"returned": f"{links.first}..{links.last}",
                                                        "line_product": key})
        table.rows.append([Cell(title(key), title(key), product_link(key)), _count(units, link),
                           _count(len(orders), link), _count(sold_units, links.orders("paid", key)),
                           Cell(_shown_percent(rate), rate)])
    return table


def _no_results(*, start: datetime.datetime, end: datetime.datetime) -> Table:
    table = Table("no_results", str(_("Searches with no results")),
                  str(_("What shoppers searched for and the store did not have, by query (lower case). The link "
                        "opens the storefront's search for it.")),
                  [str(_("Query")), str(_("Searches")), str(_("Last searched"))])
    rows = (Event.objects.filter(name="search", occurred_at__gte=start, occurred_at__lt=end, properties__results=0)
            .annotate(text=Lower(KeyTextTransform("query", "properties"))).values_list("text")
            .annotate(n=Count("pk"), latest=Max("occurred_at")).order_by("-n", "text")[:ROWS * 2])
    search = reverse("catalog:search")
    zone = timezone.get_default_timezone()
    for query, n, latest in rows:
        table.rows.append([Cell(query, query, f"{search}?{urlencode({'q': query})}"), _count(n),
                           Cell(f"{latest.astimezone(zone):%Y-%m-%d %H:%M}", latest.isoformat())])
    return table


def _stock_tables(*, now: datetime.datetime, links: Links) -> list[Table]:
    from catalog.models import StockLevel, Variant
    from orders.models import OrderLine

    today = store_today(now)
    rate_start, _unused = day_bounds(today - datetime.timedelta(days=COVER_RATE_DAYS - 1))
    sold = dict(OrderLine.objects.filter(order__paid_at__gte=rate_start, order__paid_at__lt=now,
                                         variant__isnull=False)
                .values_list("variant_id").annotate(units=Sum("quantity")).order_by())
    stock = {variant_id: (on_hand or 0) - (reserved or 0) for variant_id, on_hand, reserved in
             StockLevel.objects.filter(variant_id__in=sold, location__is_active=True)
             .values_list("variant_id").annotate(Sum("on_hand"), Sum("reserved")).order_by()} if sold else {}
    variants = {pk: (sku, product_id, title) for pk, sku, product_id, title in
                Variant.objects.filter(pk__in=sold, is_active=True)
                .values_list("pk", "sku", "product_id", "product__title")} if sold else {}
    found = []
    for variant_id, (sku, product_id, title) in variants.items():
        per_day = Decimal(sold[variant_id]) / COVER_RATE_DAYS
        available = max(stock.get(variant_id, 0), 0)
        cover = (Decimal(available) / per_day).quantize(Decimal("0.1"), ROUND_HALF_UP)
        reorder = max(math.ceil(per_day * REORDER_TARGET_DAYS) - available, 0) if cover < REORDER_BELOW_DAYS else 0
        found.append((cover, sku, title, product_id, available, sold[variant_id], per_day, reorder))
    found.sort(key=lambda f: (f[0], f[1]))
    columns = [str(_("SKU")), str(_("Product")), str(_("Available")),
               str(_("Sold in %(days)s days") % {"days": COVER_RATE_DAYS}), str(_("Per day")),
               str(_("Days of cover"))]
    cover_table = Table("stock_cover", str(_("Stock cover")),
                        str(_("Days the stock that can still be sold (on hand minus reserved, active locations) "
                              "lasts at the rate of the last %(days)s store days, whatever range is picked; "
                              "variants that sold in those days, shortest cover first.") % {"days": COVER_RATE_DAYS}),
                        columns)
    reorder_table = Table("reorder", str(_("What to reorder")),
                          str(_("Variants with less than %(below)s days of cover, and the units that bring them to "
                                "%(target)s days at the same rate.")
                              % {"below": REORDER_BELOW_DAYS, "target": REORDER_TARGET_DAYS}),
                          [*columns, str(_("Reorder units"))])
    for cover, sku, title, product_id, available, units, per_day, reorder in found:
        link = links.product(product_id)
        sold_link = links.orders("paid", str(product_id), first=today - datetime.timedelta(days=COVER_RATE_DAYS - 1),
                                 last=today)
        row = [Cell(sku, sku, link), Cell(title, title, link), _count(available), _count(units, sold_link),
               Cell(str(per_day.quantize(Decimal("0.01"), ROUND_HALF_UP)), per_day.quantize(Decimal("0.01"))),
               Cell(str(cover), cover)]
        if len(cover_table.rows) < ROWS * 2:
            cover_table.rows.append(row)
        if reorder:
            reorder_table.rows.append([*row, _count(reorder)])
    return [cover_table, reorder_table]
