"""The status machine allows only legal moves, and records each one with who made it."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from orders.exceptions import IllegalTransition
from orders.models import NUMBER_ALPHABET, Order, OrderEvent, new_order_number
from orders.status import (
    FULFILMENT, FULFILMENT_TRANSITIONS, MACHINES, PAYMENT, PAYMENT_TRANSITIONS, can_transition, transition,
)

from .factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


@pytest.mark.parametrize(
    ("state", "path", "actor"),
    [
        (FULFILMENT, [FS.FULFILLED, FS.COMPLETED], OrderEvent.Actor.STAFF),
        (FULFILMENT, [FS.PARTIALLY_FULFILLED, FS.FULFILLED], OrderEvent.Actor.STAFF),
        (FULFILMENT, [FS.EXPIRED, FS.UNFULFILLED], OrderEvent.Actor.WEBHOOK),
        (FULFILMENT, [FS.CANCELLED], OrderEvent.Actor.CUSTOMER),
        (PAYMENT, [P.PAID, P.PARTIALLY_REFUNDED, P.PARTIALLY_REFUNDED, P.REFUNDED], OrderEvent.Actor.STAFF),
        (PAYMENT, [P.REFUNDED], OrderEvent.Actor.TASK),  # a cancelled order's late payment, given back
    ],
)
def test_legal_paths_are_allowed_and_each_step_is_recorded_in_its_own_history(state, path, actor):
    order = OrderFactory()
    start = P.UNPAID if state == PAYMENT else FS.UNFULFILLED

    for to in path:
        with transaction.atomic():
            transition(order=_locked(order), state=state, to=to, actor=actor, message=f"to {to}")

    order.refresh_from_db()
    events = list(order.events.values_list("state", "from_status", "to_status", "actor"))
    assert getattr(order, MACHINES[state][0]) == path[-1]
    assert events == [(state, a, b, actor) for a, b in zip([start, *path[:-1]], path, strict=True)]
    # The other state did not move.
    assert (order.payment_status if state == FULFILMENT else order.fulfilment_status) in (P.UNPAID, FS.UNFULFILLED)


@pytest.mark.parametrize(
    ("state", "start", "to"),
    [
        (PAYMENT, P.PAID, P.UNPAID),
        (PAYMENT, P.REFUNDED, P.PAID),
        (PAYMENT, P.UNPAID, P.PARTIALLY_REFUNDED),  # nothing kept, so nothing partly given back
        (FULFILMENT, FS.CANCELLED, FS.UNFULFILLED),  # a cancelled order stays cancelled
        (FULFILMENT, FS.COMPLETED, FS.FULFILLED),
        (FULFILMENT, FS.FULFILLED, FS.CANCELLED),  # shipped goods are refunded, not cancelled
        (FULFILMENT, FS.PARTIALLY_FULFILLED, FS.UNFULFILLED),
        (FULFILMENT, FS.UNFULFILLED, FS.COMPLETED),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(state, start, to):
    order = OrderFactory(**{MACHINES[state][0]: start})

    with pytest.raises(IllegalTransition) as refused, transaction.atomic():
        transition(order=_locked(order), state=state, to=to, actor=OrderEvent.Actor.STAFF)

    order.refresh_from_db()
    assert getattr(order, MACHINES[state][0]) == start
    assert not order.events.exists()
    assert order.number in str(refused.value)


def test_every_state_has_an_entry_in_its_machine():
    assert set(PAYMENT_TRANSITIONS) == set(P.values)
    assert all(targets <= set(P.values) for targets in PAYMENT_TRANSITIONS.values())
    assert set(FULFILMENT_TRANSITIONS) == set(FS.values)
    assert all(targets <= set(FS.values) for targets in FULFILMENT_TRANSITIONS.values())
    assert not can_transition(FULFILMENT, FS.CANCELLED, FS.UNFULFILLED)


@pytest.mark.django_db(transaction=True)
def test_a_transition_outside_a_transaction_is_refused():
    order = OrderFactory()

    with pytest.raises(RuntimeError, match="transaction"):
        transition(order=order, state=PAYMENT, to=P.PAID, actor=OrderEvent.Actor.SYSTEM)

    order.refresh_from_db()
    assert order.payment_status == P.UNPAID


def test_the_staff_member_who_moved_the_order_is_recorded():
    staff = get_user_model().objects.create_user(username="pat", is_staff=True)
    order = OrderFactory()

    with transaction.atomic():
        transition(order=_locked(order), state=FULFILMENT, to=FS.CANCELLED, actor=OrderEvent.Actor.STAFF,
                   user=staff)

    assert order.events.get().user == staff


def test_order_numbers_are_readable_and_unique():
    numbers = {new_order_number() for _ in range(200)}

    assert len(numbers) == 200
    assert all(len(n) == 9 and n[4] == "-" and set(n.replace("-", "")) <= set(NUMBER_ALPHABET) for n in numbers)
    first = OrderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(number=first.number)


def test_the_same_idempotency_key_cannot_make_two_orders():
    first = OrderFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(idempotency_key=first.idempotency_key)


@pytest.mark.parametrize(
    "fields",
    [{"quantity": 0}, {"quantity": 2, "quantity_fulfilled": 3}, {"unit_price": Decimal("-1.00")}],
)
def test_order_line_constraints(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLineFactory(**fields)


def test_negative_totals_are_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(total=Decimal("-0.01"))


def test_staff_groups_get_their_order_permissions():
    managers = set(Group.objects.get(name="Order managers").permissions.values_list("codename", flat=True))
    support = set(Group.objects.get(name="Support").permissions.values_list("codename", flat=True))

    assert {"view_order", "change_order", "add_orderevent"} <= managers
    assert "view_order" in support and "change_order" not in support


def test_moves_back_after_a_failed_refund_are_only_for_record_refund_failure():
    order = OrderFactory(payment_status=P.REFUNDED)

    # No button may offer them: to the machine they are not legal moves.
    assert not can_transition(PAYMENT, P.REFUNDED, P.PAID)
    assert not can_transition(PAYMENT, P.PARTIALLY_REFUNDED, P.PAID)
    with pytest.raises(IllegalTransition), transaction.atomic():
        transition(order=_locked(order), state=PAYMENT, to=P.PAID, actor=OrderEvent.Actor.WEBHOOK)
    with transaction.atomic():
        transition(order=_locked(order), state=PAYMENT, to=P.PAID, actor=OrderEvent.Actor.WEBHOOK,
                   refund_failed=True)

    order.refresh_from_db()
    assert order.payment_status == P.PAID
    with pytest.raises(IllegalTransition), transaction.atomic():  # only back out of a refund state
        transition(order=_locked(order), state=PAYMENT, to=P.UNPAID, actor=OrderEvent.Actor.WEBHOOK,
                   refund_failed=True)


def test_the_two_vocabularies_share_no_value():
    # An event names its state too, but a value that meant two things would invite a reader to
    # filter on the value alone.
    assert not set(P.values) & set(FS.values)


def test_a_broker_that_is_down_after_commit_neither_fails_the_status_change_nor_drops_the_email(
    monkeypatch, django_capture_on_commit_callbacks
):
    # The CRM's figures are refreshed by a task queued after commit. The order has moved by then:
    # a broker that cannot take the task must not turn the request into an error, nor stop the
    # callbacks queued after it (the "payment received" email).
    from customers.tasks import refresh_customer_stats_task
    from customers.tests.factories import CustomerFactory
    from notifications.tasks import send_order_email_task
    from orders.services import confirm_payment

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    sent = []
    monkeypatch.setattr(refresh_customer_stats_task, "delay", broker_down)
    monkeypatch.setattr(send_order_email_task, "delay", lambda **kwargs: sent.append(kwargs["kind"]))
    order = OrderFactory(customer=CustomerFactory())

    with django_capture_on_commit_callbacks(execute=True):
        confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)

    order.refresh_from_db()
    assert order.payment_status == P.PAID
    assert sent == ["payment_received"]
