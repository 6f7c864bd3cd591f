"""Stored order figures: order count, lifetime value, first and last order."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from customers.services.stats import refresh_customer_stats
from customers.tests.factories import CustomerFactory
from orders.models import Order, OrderEvent
from orders.status import PAYMENT, transition
from orders.tests.factories import OrderFactory
from payments.models import Payment, Refund

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


def _order(customer, *, total: str, payment_status: str = P.PAID, fulfilment_status: str = FS.UNFULFILLED,
           days_ago: int = 0) -> Order:
    if fulfilment_status in (FS.CANCELLED, FS.EXPIRED):
        payment_status = P.UNPAID  # a closed order never kept a payment
    order = OrderFactory(customer=customer, email=customer.email, payment_status=payment_status,
                         fulfilment_status=fulfilment_status, subtotal=Decimal(total), total=Decimal(total),
                         paid_at=None if payment_status == P.UNPAID else timezone.now())
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return order


def _refund(order: Order, amount: str, status: str = Refund.Status.SUCCEEDED) -> Refund:
    payment, _ = Payment.objects.get_or_create(
        order=order, defaults={"provider": "demo", "status": Payment.Status.SUCCEEDED, "amount": order.total,
                               "currency": order.currency},
    )
    return Refund.objects.create(payment=payment, amount=Decimal(amount), status=status)


def test_paid_orders_count_and_refunds_come_off_the_lifetime_value():
    # given
    customer = CustomerFactory()
    first = _order(customer, total="100.00", days_ago=40)
    _order(customer, total="20.00", payment_status=P.PAID, fulfilment_status=FS.COMPLETED, days_ago=20)
    refunded = _order(customer, total="30.00", payment_status=P.PARTIALLY_REFUNDED, days_ago=10)
    _refund(refunded, "12.50")
    _refund(refunded, "5.00", status=Refund.Status.FAILED)  # failed: nothing given back
    whole = _order(customer, total="15.00", payment_status=P.REFUNDED, days_ago=5)
    _refund(whole, "15.00")
    _order(customer, total="999.00", fulfilment_status=FS.CANCELLED, days_ago=1)
    _order(customer, total="999.00", payment_status=P.UNPAID, days_ago=1)
    _order(customer, total="999.00", fulfilment_status=FS.EXPIRED, days_ago=1)

    # when
    changed = refresh_customer_stats(customer_ids=[customer.pk])

    # then
    customer.refresh_from_db()
    assert changed == 1
    assert customer.order_count == 4
    assert customer.total_spent == Decimal("137.50")  # 100 + 20 + 30 - 12.50 + 15 - 15
    first.refresh_from_db()
    whole.refresh_from_db()
    assert customer.first_order_at == first.created_at
    assert customer.last_order_at == whole.created_at


def test_a_customer_without_paid_orders_has_zero_figures_and_stale_figures_are_reset():
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(order_count=3, total_spent=Decimal("80"),
                                                   last_order_at=timezone.now())
    _order(customer, total="10.00", fulfilment_status=FS.CANCELLED)

    assert refresh_customer_stats() == 1

    customer.refresh_from_db()
    assert (customer.order_count, customer.total_spent, customer.first_order_at, customer.last_order_at) == (
        0, Decimal("0"), None, None)


def test_refreshing_again_changes_nothing_and_other_customers_are_left_alone():
    mine, other = CustomerFactory(), CustomerFactory()
    _order(mine, total="10.00")
    _order(other, total="20.00")

    assert refresh_customer_stats(customer_ids=[mine.pk]) == 1
    assert refresh_customer_stats(customer_ids=[mine.pk]) == 0

    other.refresh_from_db()
    assert other.order_count == 0
    assert refresh_customer_stats() == 1  # now the other one


def test_query_count_is_fixed_per_batch(django_assert_num_queries):
    for n in range(5):
        _order(CustomerFactory(), total=f"{n + 1}0.00")
    with django_assert_num_queries(4):  # savepoint, read, one UPDATE ... FROM (VALUES ...), release
        refresh_customer_stats()

    for n in range(40):
        _order(CustomerFactory(), total="5.00")
    with django_assert_num_queries(4):
        refresh_customer_stats()


def test_sums_that_are_inexact_as_floats_are_stored_to_the_cent_and_change_nothing_next_time():
    # SQLite sums decimals as floats: 0.10 + 0.20 is 0.30000000000000004 there.
    customer = CustomerFactory()
    for total in ("0.10", "0.20", "0.70"):
        _order(customer, total=total)
    refund_order = _order(customer, total="0.30", payment_status=P.PARTIALLY_REFUNDED)
    _refund(refund_order, "0.10")

    assert refresh_customer_stats() == 1
    assert refresh_customer_stats() == 0
    customer.refresh_from_db()
    assert customer.total_spent == Decimal("1.20")


def test_many_customers_are_refreshed_in_batches(monkeypatch):
    from customers.services import stats

    monkeypatch.setattr(stats, "BATCH_SIZE", 3)
    customers = [CustomerFactory() for _ in range(7)]
    for customer in customers:
        _order(customer, total="10.00")

    assert refresh_customer_stats() == 7
    assert refresh_customer_stats(customer_ids=[c.pk for c in customers]) == 0
    assert set(Customer.objects.values_list("order_count", flat=True)) == {1}


def test_an_order_status_change_refreshes_its_customer_after_commit(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    order = OrderFactory(customer=customer, email=customer.email, total=Decimal("42.00"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            transition(order=locked, state=PAYMENT, to=P.PAID, actor=OrderEvent.Actor.SYSTEM)
            customer.refresh_from_db()
            assert customer.order_count == 0  # not before the commit

    assert len(callbacks) == 1
    customer.refresh_from_db()
    assert (customer.order_count, customer.total_spent) == (1, Decimal("42.00"))


def test_a_guest_order_without_customer_enqueues_nothing(django_capture_on_commit_callbacks):
    order = OrderFactory(customer=None)
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            transition(order=Order.objects.select_for_update().get(pk=order.pk), state=PAYMENT, to=P.PAID,
                       actor=OrderEvent.Actor.SYSTEM)
    assert callbacks == []


def test_a_refresh_that_wrote_after_the_batch_read_its_row_is_not_overwritten(monkeypatch):
    from customers.services import stats

    customer = CustomerFactory()
    _order(customer, total="50.00")
    write = stats._write_figures

    def another_refresh_commits_meanwhile(customers, *, read):
        # A per-customer refresh (after a newer order) wrote the row after this batch read it.
        Customer.objects.filter(pk=customer.pk).update(order_count=7, total_spent=Decimal("700.00"))
        return write(customers, read=read)

    monkeypatch.setattr(stats, "_write_figures", another_refresh_commits_meanwhile)
    changed = refresh_customer_stats()

    customer.refresh_from_db()
    assert (customer.order_count, customer.total_spent) == (7, Decimal("700.00"))
    assert changed == 0
