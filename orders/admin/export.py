"""The order list as a CSV file: the selected orders, or the whole filtered list, streamed.

One query whatever the number of orders: the items count is computed in it, and rows are
written as the database cursor yields them, so an export of 100,000 orders neither waits nor
holds them all in memory.

Text cells go through shop.spreadsheets.safe_text (a customer named "=HYPERLINK(...)" stays
text); amounts are written as plain decimals ("1234.50", never negative) and are left alone.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone

from shop.spreadsheets import safe_text

from ..models import Order, OrderLine

# Rows fetched per round trip while streaming (a server-side cursor on PostgreSQL).
CHUNK = 2000


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def status_label(order: Order) -> str:
    """The order's two states in words: the one place the bulk actions read them."""
    return f"{order.get_payment_status_display()}, {order.get_fulfilment_status_display()}"


# (header, value) in file order. Text goes through safe_text; amounts are plain decimals.
COLUMNS: list[tuple[str, Callable[[Order], str | Decimal | int]]] = [
    ("number", lambda o: o.number),
    ("placed", lambda o: _when(o.created_at)),
    ("paid", lambda o: _when(o.paid_at)),
    ("payment", lambda o: o.get_payment_status_display()),
    ("fulfilment", lambda o: o.get_fulfilment_status_display()),
    ("customer", lambda o: o.customer_name),
    ("email", lambda o: o.email),
    ("phone", lambda o: o.phone),
    ("country", lambda o: (o.shipping_address or {}).get("country", "")),
    ("delivery", lambda o: o.shipping_method_name),
    ("items", lambda o: o.export_items),
    ("currency", lambda o: o.currency),
    ("subtotal", lambda o: o.subtotal),
    ("shipping", lambda o: o.shipping_total),
    ("tax", lambda o: o.tax_total),
    ("total", lambda o: o.total),
]


def export_queryset(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """`queryset` with what the columns read, in the same single query."""
    units = (
        OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
        .annotate(units=Sum("quantity")).values("units")
    )
    return queryset.annotate(
        export_items=Coalesce(Subquery(units, output_field=IntegerField()), Value(0)),
    ).select_related(None).prefetch_related(None)


def _cell(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, int):
        return str(value)
    return safe_text(value or "")


def rows(orders: Iterable[Order]) -> Iterator[list[str]]:
    yield [header for header, _value in COLUMNS]
    for order in orders:
        yield [_cell(value(order)) for _header, value in COLUMNS]


class _Echo:
    """csv.writer's file: hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_response(queryset: QuerySet[Order], *, filename: str | None = None) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    orders = export_queryset(queryset).iterator(chunk_size=CHUNK)

    def stream() -> Iterator[str]:
        yield "\ufeff"  # a byte order mark: Excel then reads the file as UTF-8
        for row in rows(orders):
            yield writer.writerow(row)

    name = filename or f"orders-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
