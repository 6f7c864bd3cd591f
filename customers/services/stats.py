"""Order figures stored on each customer: order count, lifetime value, first and last order.

Lists filter and sort on these at 100,000 customers, so they are kept on the row rather than
computed per page. `refresh_customer_stats` recomputes them from the orders and refunds: after
every order state change (orders.status.transition enqueues it after commit) and nightly
(customers.tasks.score_customers_task).
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, DecimalField, IntegerField, Max, Min, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from orders.models import Order
from orders.models import paid_orders as kept_payment
from payments.models import Refund

from ..models import Customer

# A refunded order still counts as an order (orders.models.paid_orders); its refunds come off
# the lifetime value.
BATCH_SIZE = 1000
STAT_FIELDS = ("order_count", "total_spent", "first_order_at", "last_order_at")
ZERO = Decimal("0.00")


def paid_orders() -> QuerySet[Order]:
    return Order.objects.filter(kept_payment())


def _with_figures(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """Annotate each customer's figures, computed from their orders, in the same single query."""
    orders = paid_orders().filter(customer=OuterRef("pk")).order_by().values("customer")
    refunds = (
        Refund.objects.filter(kept_payment("payment__order__"), status=Refund.Status.SUCCEEDED,
                              payment__order__customer=OuterRef("pk"))
        .order_by().values("payment__order__customer")
    )
    money = DecimalField(max_digits=12, decimal_places=2)
    return queryset.annotate(
        new_order_count=Coalesce(Subquery(orders.annotate(n=Count("pk")).values("n")), Value(0),
                                 output_field=IntegerField()),
        new_gross=Coalesce(Subquery(orders.annotate(s=Sum("total")).values("s")), Value(ZERO), output_field=money),
        new_refunded=Coalesce(Subquery(refunds.annotate(s=Sum("amount")).values("s")), Value(ZERO),
                              output_field=money),
        new_first_order_at=Subquery(orders.annotate(t=Min("created_at")).values("t")),
        new_last_order_at=Subquery(orders.annotate(t=Max("created_at")).values("t")),
    )


def _apply(customer: Customer) -> bool:
    """Copy the annotated figures onto the row; True when something changed."""
    # A refund of surplus money (a second payment for the same order) could make the difference
    # negative; the lifetime value never goes below zero.
    spent = max(Decimal(customer.new_gross) - Decimal(customer.new_refunded), ZERO).quantize(Decimal("0.01"))
    new = {
        "order_count": customer.new_order_count, "total_spent": spent,
        "first_order_at": customer.new_first_order_at, "last_order_at": customer.new_last_order_at,
    }
    changed = any(getattr(customer, name) != value for name, value in new.items())
    for name, value in new.items():
        setattr(customer, name, value)
    return changed


def refresh_customer_stats(*, customer_ids: Iterable[int] | None = None) -> int:
    """Recompute order_count, total_spent, first_order_at and last_order_at; return how many
    customers' figures changed.

    Paid orders are those that kept their payment (orders.models.paid_orders); total_spent is their totals minus the succeeded
    refunds of their payments (never below zero); first/last order are the placement times of
    the first and last paid order. All customers when `customer_ids` is None.

    Two queries per batch of 1,000 customers whatever the number of orders: one reads the
    customers with their figures computed by subqueries, one UPDATE ... FROM (VALUES ...) writes
    the rows that changed (none when nothing did). Each batch is its own transaction and takes no
    locks; the write is a compare-and-set: a row whose stored figures changed since the batch
    read them (a per-customer refresh committed in between, with newer orders) is left as that
    refresh wrote it.
    """
    if customer_ids is not None:
        ids = sorted({int(pk) for pk in customer_ids})
        batches = (ids[start:start + BATCH_SIZE] for start in range(0, len(ids), BATCH_SIZE))
        return sum(_refresh_batch(Customer.objects.filter(pk__in=batch)) for batch in batches if batch)
    changed, last_pk = 0, 0
    while True:
        # Keyset pagination: each batch is one indexed range read, however many customers there are.
        rows, count = _refresh_rows(Customer.objects.filter(pk__gt=last_pk), limit=BATCH_SIZE)
        changed += count
        if len(rows) < BATCH_SIZE:
            return changed
        last_pk = rows[-1].pk


def _refresh_batch(queryset: QuerySet[Customer]) -> int:
    return _refresh_rows(queryset)[1]


def _refresh_rows(queryset: QuerySet[Customer], *, limit: int | None = None) -> tuple[list[Customer], int]:
    queryset = _with_figures(queryset.order_by("pk").only("pk", *STAT_FIELDS))
    if limit is not None:
        queryset = queryset[:limit]
    with transaction.atomic():
        rows = list(queryset)
        read = {customer.pk: tuple(getattr(customer, name) for name in STAT_FIELDS) for customer in rows}
        changed = [customer for customer in rows if _apply(customer)]
        written = _write_figures(changed, read=read) if changed else 0
    return rows, written


def _write_figures(customers: list[Customer], *, read: dict[int, tuple]) -> int:
    """One UPDATE ... FROM (VALUES ...) writing STAT_FIELDS of `customers` (at most BATCH_SIZE),
    each row only if its stored figures are still `read[pk]` (what the batch computed from);
    returns the rows written.

    Not bulk_update: its CASE WHEN id = ... per row and field made PostgreSQL spend about 1.6 s
    per 600 rows, so the first nightly run at 100,000 customers took minutes. A VALUES list is
    joined on the primary key instead (SQLite 3.33+ and PostgreSQL both have UPDATE ... FROM, and
    both name a VALUES list's columns column1, column2, ...).
    """
    stat_fields = [Customer._meta.get_field(name) for name in STAT_FIELDS]
    # The pk, the new figures, then the figures as read (for the compare-and-set).
    fields = [Customer._meta.pk, *stat_fields, *stat_fields]
    # PostgreSQL types a VALUES column from its rows; a column of NULLs would be text without casts.
    if connection.vendor == "postgresql":
        placeholders = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
        same = "IS NOT DISTINCT FROM"
    else:
        placeholders = ", ".join("%s" for _field in fields)
        same = "IS"
    rows = ", ".join(f"({placeholders})" for _customer in customers)
    params = []
    for customer in customers:
        values = [customer.pk, *(getattr(customer, field.attname) for field in stat_fields), *read[customer.pk]]
        params += [field.get_db_prep_save(value, connection) for field, value in zip(fields, values)]
    qn = connection.ops.quote_name
    table = qn(Customer._meta.db_table)
    count = len(stat_fields)
    assignments = ", ".join(f"{qn(field.column)} = v.column{n}" for n, field in enumerate(stat_fields, 2))
    unchanged = " AND ".join(f"{table}.{qn(field.column)} {same} v.column{n}"
                             for n, field in enumerate(stat_fields, 2 + count))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM (VALUES {rows}) AS v "
            f"WHERE {table}.{qn(Customer._meta.pk.column)} = v.column1 AND {unchanged}",
            params,
        )
        return cursor.rowcount
