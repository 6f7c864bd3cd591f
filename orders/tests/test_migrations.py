"""Migration 0006: every old status becomes the payment and fulfilment states it meant (and back)."""
import importlib
from decimal import Decimal

import pytest
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("orders", "0005_returns")]
AFTER = [("orders", "0006_payment_and_fulfilment_states")]
migration = importlib.import_module("orders.migrations.0006_payment_and_fulfilment_states")


@pytest.mark.parametrize(
    ("status", "shipped", "history", "expected"),
    [
        ("pending_payment", 0, [], ("unpaid", "unfulfilled")),
        ("paid", 0, ["pending_payment", "paid"], ("paid", "unfulfilled")),
        ("partially_fulfilled", 2, [], ("paid", "partially_fulfilled")),
        ("fulfilled", 5, [], ("paid", "fulfilled")),
        ("completed", 5, [], ("paid", "completed")),
        ("cancelled", 0, [], ("unpaid", "cancelled")),
        ("expired", 0, [], ("unpaid", "expired")),
        # The refund statuses lost where the goods were: the lines and the history say it.
        ("partially_refunded", 0, ["paid", "partially_refunded"], ("partially_refunded", "unfulfilled")),
        ("partially_refunded", 2, ["paid", "partially_fulfilled", "partially_refunded"],
         ("partially_refunded", "partially_fulfilled")),
        ("partially_refunded", 5, ["paid", "fulfilled", "partially_refunded"], ("partially_refunded", "fulfilled")),
        ("refunded", 5, ["paid", "fulfilled", "completed", "refunded"], ("refunded", "completed")),
        ("refunded", 0, ["paid", "refunded"], ("refunded", "unfulfilled")),
        # A cancelled or expired order's late payment, all given back: it never kept the money.
        ("refunded", 0, ["pending_payment", "cancelled", "refunded"], ("refunded", "cancelled")),
        ("refunded", 0, ["pending_payment", "expired", "refunded"], ("refunded", "expired")),
        # Paid late after expiry, then refunded: an ordinary paid order.
        ("refunded", 0, ["pending_payment", "expired", "paid", "refunded"], ("refunded", "unfulfilled")),
    ],
)
def test_every_old_status_maps_to_the_two_states_it_meant(status, shipped, history, expected):
    assert migration.map_status(status, ordered=5, shipped=shipped, history=history) == expected


def test_the_migration_maps_orders_and_their_histories_and_back(unmigrated_database):
    executor = MigrationExecutor(unmigrated_database)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Order, OrderEvent, OrderLine = (apps.get_model("orders", name) for name in ("Order", "OrderEvent", "OrderLine"))

    def order(status, *, shipped, history, key):
        made = Order.objects.create(number=key, status=status, email="ada@example.com", currency="USD",
                                    total=Decimal("50.00"), idempotency_key=key)
        OrderLine.objects.create(order=made, product_title="Jacket", sku="J", quantity=2, unit_price=Decimal("25"),
                                 line_total=Decimal("50"), quantity_fulfilled=shipped)
        steps = ["pending_payment", *history]
        for before, after in zip(["", *steps], steps, strict=False):
            OrderEvent.objects.create(order=made, kind="status", from_status=before, to_status=after,
                                      actor="system")
        return made

    # A partly shipped order, then partly refunded: before the split it read "partially refunded".
    shipped_then_refunded = order("partially_refunded", shipped=1, key="A",
                                  history=["paid", "partially_fulfilled", "partially_refunded"])
    cancelled_refunded = order("refunded", shipped=0, key="B", history=["cancelled", "refunded"])
    waiting = order("pending_payment", shipped=0, key="C", history=[])

    # when
    executor.loader.build_graph()
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Order, OrderEvent = apps.get_model("orders", "Order"), apps.get_model("orders", "OrderEvent")

    # then
    states = dict((number, (pay, ful)) for number, pay, ful in
                  Order.objects.values_list("number", "payment_status", "fulfilment_status"))
    assert states == {"A": ("partially_refunded", "partially_fulfilled"), "B": ("refunded", "cancelled"),
                      "C": ("unpaid", "unfulfilled")}
    history = list(OrderEvent.objects.filter(order_id=shipped_then_refunded.pk).order_by("pk")
                   .values_list("state", "from_status", "to_status"))
    assert history == [("", "", "placed"), ("payment", "unpaid", "paid"),
                       ("fulfilment", "unfulfilled", "partially_fulfilled"),
                       ("payment", "paid", "partially_refunded")]
    assert list(OrderEvent.objects.filter(order_id=cancelled_refunded.pk).order_by("pk")
                .values_list("state", "from_status", "to_status"))[1:] == [
        ("fulfilment", "unfulfilled", "cancelled"), ("payment", "unpaid", "refunded")]

    # and back: the old status, and the old history exactly
    executor.loader.build_graph()
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Order, OrderEvent = apps.get_model("orders", "Order"), apps.get_model("orders", "OrderEvent")
    assert dict(Order.objects.values_list("number", "status")) == {
        "A": "partially_refunded", "B": "refunded", "C": "pending_payment"}
    assert list(OrderEvent.objects.filter(order_id=shipped_then_refunded.pk).order_by("pk")
                .values_list("from_status", "to_status")) == [
        ("", "pending_payment"), ("pending_payment", "paid"), ("paid", "partially_fulfilled"),
        ("partially_fulfilled", "partially_refunded")]
    assert not any("legacy" in data for data in OrderEvent.objects.values_list("data", flat=True))
    assert waiting.pk in Order.objects.values_list("pk", flat=True)
