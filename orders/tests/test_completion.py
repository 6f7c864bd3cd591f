"""Shipped orders become completed once the return window is over and nothing is still owed back
(orders/services/completion.py), from beat's schedule, the web process's own, or the command."""
from __future__ import annotations

import datetime
import io
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from conftest import run_together
from orders.models import Order, OrderEvent, Shipment
from orders.services import complete_orders, due_for_completion
from orders.services.completion import MESSAGE
from orders.status import FULFILMENT
from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment, Provider, Refund
from returns.models import Reason, ReturnPolicy, ReturnRequest

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
NY = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime.datetime(2030, 6, 15, 12, 0, tzinfo=datetime.UTC)
LONG_AGO = NOW - datetime.timedelta(days=40)


@pytest.fixture(autouse=True)
def _thirty_day_policy():
    ReturnPolicy.objects.update_or_create(pk=1, defaults={"window_days": 30})


def _at(when: datetime.datetime, make):
    """`make()` with the clock at `when`, so every created_at it writes is `when`."""
    with time_machine.travel(when, tick=False):
        return make()


def shipped_order(*parcels: datetime.datetime, shipped: int = 2, quantity: int = 2, **fields) -> Order:
    """A paid order of one line, `shipped` of `quantity` units sent in parcels at `parcels`,
    recorded as the fulfilment service records it (a shipment each, a status event when all left)."""
    fields.setdefault("fulfilment_status", FS.FULFILLED if shipped == quantity else FS.PARTIALLY_FULFILLED)
    fields.setdefault("payment_status", P.PAID)
    order = OrderFactory(paid_at=parcels[0] - datetime.timedelta(days=1), **fields)
    OrderLineFactory(order=order, quantity=quantity, quantity_fulfilled=shipped)
    for when in parcels:
        _at(when, lambda: Shipment.objects.create(order=order, carrier="DHL"))
    if order.fulfilment_status in (FS.FULFILLED, FS.COMPLETED):
        _at(parcels[-1], lambda: OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.STATUS, state=FULFILMENT, from_status=FS.UNFULFILLED,
            to_status=FS.FULFILLED, actor=OrderEvent.Actor.STAFF))
    return order


def fulfilment(order: Order) -> str:
    order.refresh_from_db()
    return order.fulfilment_status


# --- The window ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "now", "completed"), [
    # Returns may be asked for until the end of the 30th store day after the parcel's (New York).
    (datetime.datetime(2030, 3, 1, 23, 30, tzinfo=NY), datetime.datetime(2030, 3, 31, 23, 59, tzinfo=NY), False),
    (datetime.datetime(2030, 3, 1, 23, 30, tzinfo=NY), datetime.datetime(2030, 4, 1, 0, 1, tzinfo=NY), True),
    (datetime.datetime(2030, 3, 1, 0, 10, tzinfo=NY), datetime.datetime(2030, 3, 31, 23, 59, tzinfo=NY), False),
    (datetime.datetime(2030, 3, 2, 0, 10, tzinfo=NY), datetime.datetime(2030, 4, 1, 0, 1, tzinfo=NY), False),
], ids=["last_day_to_ask", "the_day_after", "early_parcel_last_day", "a_day_later_parcel"])
def test_an_order_completes_the_store_day_after_its_last_day_to_ask_for_a_return(settings, sent, now, completed):
    # given: a store in New York, whose days are not UTC's (23:30 there is the next day in UTC)
    settings.TIME_ZONE = "America/New_York"
    order = shipped_order(sent)

    # when
    count = complete_orders(now=now)

    # then: completed exactly when the returns form no longer takes a return
    from returns.selectors import eligibility

    assert (count, fulfilment(order)) == ((1, FS.COMPLETED) if completed else (0, FS.FULFILLED))
    assert bool(eligibility(order=order, now=now).closed) is completed


def test_completing_records_who_and_why_in_the_history():
    order = shipped_order(LONG_AGO)

    complete_orders(now=NOW)

    event = order.events.get(kind=OrderEvent.Kind.STATUS, to_status=FS.COMPLETED)
    assert (event.state, event.from_status, event.actor, event.message) == (
        FULFILMENT, FS.FULFILLED, OrderEvent.Actor.TASK, MESSAGE)
    assert event.message == "Completed: return window over."
    assert event.data == {"window_days": 30}


def test_the_window_counts_from_the_last_parcel():
    order = shipped_order(LONG_AGO, NOW - datetime.timedelta(days=3))

    assert complete_orders(now=NOW) == 0
    assert fulfilment(order) == FS.FULFILLED


def test_the_store_policy_sets_the_window():
    order = shipped_order(NOW - datetime.timedelta(days=10))
    ReturnPolicy.objects.filter(pk=1).update(window_days=14)
    assert complete_orders(now=NOW) == 0

    ReturnPolicy.objects.filter(pk=1).update(window_days=7)
    assert complete_orders(now=NOW) == 1
    assert fulfilment(order) == FS.COMPLETED


def test_gift_cards_only_count_from_the_day_the_order_was_fulfilled():
    # Digital lines are fulfilled at payment with no parcel (orders.services.payment).
    recent, old = (OrderFactory(payment_status=P.PAID, fulfilment_status=FS.FULFILLED) for _ in range(2))
    for order, when in ((recent, NOW - datetime.timedelta(days=5)), (old, LONG_AGO)):
        _at(when, lambda order=order: OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.STATUS, state=FULFILMENT, from_status=FS.UNFULFILLED,
            to_status=FS.FULFILLED, actor=OrderEvent.Actor.WEBHOOK))

    assert complete_orders(now=NOW) == 1
    assert (fulfilment(recent), fulfilment(old)) == (FS.FULFILLED, FS.COMPLETED)


def test_an_order_with_no_record_of_when_it_left_is_left_alone():
    order = OrderFactory(payment_status=P.PAID, fulfilment_status=FS.FULFILLED)

    assert complete_orders(now=NOW) == 0
    assert fulfilment(order) == FS.FULFILLED


# --- What keeps an order open ------------------------------------------------------------------


def test_a_partly_shipped_order_is_not_completed():
    # one of two units sent long ago, the other never
    order = shipped_order(LONG_AGO, shipped=1, quantity=2)

    assert complete_orders(now=NOW) == 0
    assert fulfilment(order) == FS.PARTIALLY_FULFILLED
    assert not order.events.filter(to_status=FS.COMPLETED).exists()


@pytest.mark.parametrize(("status", "blocks"), [
    (ReturnRequest.Status.REQUESTED, True),
    (ReturnRequest.Status.APPROVED, True),
    (ReturnRequest.Status.RECEIVED, True),  # the goods are back, the money or exchange is not out yet
    (ReturnRequest.Status.REFUNDING, True),  # part of the refund is still owed
    (ReturnRequest.Status.REFUSED, False),
    (ReturnRequest.Status.REFUNDED, False),
])
def test_an_open_return_keeps_the_order_open(status, blocks):
    order = shipped_order(LONG_AGO)
    ReturnRequest.objects.create(order=order, reason=Reason.WRONG_SIZE, status=status)

    complete_orders(now=NOW)

    assert fulfilment(order) == (FS.FULFILLED if blocks else FS.COMPLETED)


def test_an_exchange_not_yet_sent_keeps_the_order_open():
    from catalog.tests import factories as f
    from returns.models import ExchangeLine, ExchangeShipment, ReturnLine

    order = shipped_order(LONG_AGO)
    request = ReturnRequest.objects.create(order=order, reason=Reason.WRONG_SIZE, status=ReturnRequest.Status.EXCHANGED)
    line = ReturnLine.objects.create(request=request, order_line=order.lines.get(), quantity=1)
    level = f.StockLevelFactory(on_hand=5)
    exchange = ExchangeLine.objects.create(request=request, return_line=line, variant=level.variant, stock_level=level,
                                           quantity=1)
    assert complete_orders(now=NOW) == 0

    sent = ExchangeShipment.objects.create(request=request, carrier="DHL", tracking_number="JD014600006")
    ExchangeLine.objects.filter(pk=exchange.pk).update(shipment=sent)
    assert complete_orders(now=NOW) == 1
    assert fulfilment(order) == FS.COMPLETED


@pytest.mark.parametrize(("status", "blocks"), [
    (Refund.Status.PENDING, True), (Refund.Status.SUCCEEDED, False), (Refund.Status.FAILED, False),
])
def test_a_pending_refund_keeps_the_order_open(status, blocks):
    order = shipped_order(LONG_AGO, payment_status=P.PARTIALLY_REFUNDED)
    payment = Payment.objects.create(order=order, provider=Provider.DEMO, status=Payment.Status.SUCCEEDED,
                                     amount=order.total, currency=order.currency)
    Refund.objects.create(payment=payment, amount=Decimal("10.00"), status=status)

    complete_orders(now=NOW)

    assert fulfilment(order) == (FS.FULFILLED if blocks else FS.COMPLETED)


# --- Batches, idempotency, concurrency -----------------------------------------------------------


def test_running_twice_changes_nothing_the_second_time():
    orders = [shipped_order(LONG_AGO) for _ in range(3)]
    assert complete_orders(now=NOW) == 3
    history = list(OrderEvent.objects.order_by("pk").values_list("pk", "order_id", "to_status"))
    updated = {order.pk: Order.objects.get(pk=order.pk).updated_at for order in orders}

    assert complete_orders(now=NOW + datetime.timedelta(days=1)) == 0

    assert list(OrderEvent.objects.order_by("pk").values_list("pk", "order_id", "to_status")) == history
    assert {order.pk: Order.objects.get(pk=order.pk).updated_at for order in orders} == updated


def test_orders_are_completed_in_batches_up_to_the_limit():
    orders = [shipped_order(LONG_AGO) for _ in range(5)]

    assert complete_orders(now=NOW, batch=2, limit=3) == 3
    assert due_for_completion(now=NOW).count() == 2
    assert complete_orders(now=NOW, batch=2) == 2
    assert {fulfilment(order) for order in orders} == {FS.COMPLETED}


def test_each_order_costs_the_same_few_queries(django_assert_max_num_queries):
    for _ in range(3):
        shipped_order(LONG_AGO)

    # the policy and the list, then per order: savepoint, lock, the rule again, update, history
    # entry, release (the customer figures' refresh runs after commit, as its own task)
    with django_assert_max_num_queries(2 + 3 * 6):
        assert complete_orders(now=NOW) == 3


def test_an_order_that_stopped_qualifying_after_it_was_listed_is_skipped(monkeypatch):
    # given: a return is asked for between the list being read and the order being locked
    from orders.services import completion

    order, other = shipped_order(LONG_AGO), shipped_order(LONG_AGO)
    lock = completion.lock_order

    def lock_after_a_return(order_id):
        if order_id == order.pk:
            ReturnRequest.objects.create(order_id=order_id, reason=Reason.DAMAGED)
        return lock(order_id)

    monkeypatch.setattr(completion, "lock_order", lock_after_a_return)

    # when / then: checked again under the lock, it stays open; the other one completes
    assert complete_orders(now=NOW) == 1
    assert (fulfilment(order), fulfilment(other)) == (FS.FULFILLED, FS.COMPLETED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_complete_each_order_once():
    orders = [shipped_order(LONG_AGO) for _ in range(6)]

    results = run_together(lambda i: complete_orders(now=NOW, batch=2), 2)

    assert all(isinstance(result, int) for result in results) and sum(results) == 6, results
    assert OrderEvent.objects.filter(to_status=FS.COMPLETED).count() == 6
    assert {fulfilment(order) for order in orders} == {FS.COMPLETED}


# --- Running it ----------------------------------------------------------------------------------


def test_the_embedded_default_runs_it_hourly_from_the_beat_schedule(settings):
    """Without a broker the web process's thread runs CELERY_BEAT_SCHEDULE (shop/background.py)."""
    from shop.background import Runner

    start = datetime.datetime(2030, 6, 15, 10, 0, tzinfo=datetime.UTC)
    order = shipped_order(start - datetime.timedelta(days=40))
    with time_machine.travel(start, tick=False):
        runner = Runner(beat_schedule={"complete-orders": settings.CELERY_BEAT_SCHEDULE["complete-orders"]})

    with time_machine.travel(start.replace(minute=28), tick=False):
        assert runner.tick() == []
    assert fulfilment(order) == FS.FULFILLED
    with time_machine.travel(start.replace(minute=29), tick=False):
        assert runner.tick() == ["complete-orders"]
    assert fulfilment(order) == FS.COMPLETED


def test_the_command_completes_what_is_due_and_says_how_many():
    now = timezone.now()
    due, recent = (shipped_order(now - datetime.timedelta(days=days)) for days in (40, 2))
    out = io.StringIO()

    call_command("complete_orders", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "1 order(s) would be completed."
    assert fulfilment(due) == FS.FULFILLED

    call_command("complete_orders", stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == "1 order(s) completed."
    assert (fulfilment(due), fulfilment(recent)) == (FS.COMPLETED, FS.FULFILLED)


# --- Reports and the CRM count a completed order as a shipped one ----------------------------------


def test_completing_changes_no_figure_in_reports_or_the_crm():
    from analytics.services import day_figures
    from customers.models import Customer
    from customers.services.stats import refresh_customer_stats
    from returns.tests.helpers import paid_and_shipped, store

    # given: a real order, paid with the demo card and shipped, 40 days ago
    _warehouse, _shop, sizes, _wrap = store()
    placed = LONG_AGO
    order = _at(placed, lambda: paid_and_shipped((sizes["M"], 2)))
    day = timezone.localdate(placed)

    def figures():
        refresh_customer_stats()
        customer = Customer.objects.get(pk=order.customer_id)
        return (day_figures(day, events=False),
                (customer.order_count, customer.total_spent, customer.first_order_at, customer.last_order_at))

    before = figures()
    assert before[1][:2] == (1, order.total)

    # when
    assert complete_orders(now=NOW) == 1

    # then
    assert fulfilment(order) == FS.COMPLETED
    assert figures() == before


def test_the_shopper_sees_the_order_completed():
    from orders.selectors import order_page

    order = shipped_order(LONG_AGO)
    complete_orders(now=NOW)
    order.refresh_from_db()

    page = order_page(order=order)
    assert page.status.label == "Completed"
    assert "Completed" in [str(entry.label) for entry in page.timeline]
