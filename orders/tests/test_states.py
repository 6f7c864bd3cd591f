"""Payment and fulfilment are two states: a refund never takes an order out of "partially
shipped", and any sequence of legal moves keeps both states true to the ledger and the lines."""
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.tests import factories as f
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent, OrderLine
from orders.services import (
    PlacementLine, ShipmentRequest, ShippingChoice, cancel_order, create_shipment, expire_unpaid_orders, place_order,
)
from orders.status import FULFILMENT, PAYMENT
from payments.exceptions import PaymentError
from payments.models import Payment, Provider, Refund
from payments.providers.demo import CARD_SUCCEEDS
from payments.services import pay_with_demo_card, record_manual_payment, refund_payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))


@pytest.fixture
def variants():
    """Two variants ($80.00 and $12.50), plenty of stock in one warehouse."""
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse")
    jacket = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    socks = f.VariantFactory(sku="SOCK-1", price=Decimal("12.50"), product__title="Wool Socks")
    for variant in (jacket, socks):
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=10_000)
    return jacket, socks


def _place(variants) -> Order:
    jacket, socks = variants
    return place_order(lines=[PlacementLine(jacket.pk, 2), PlacementLine(socks.pk, 3)], email="ada@example.com",
                       idempotency_key=uuid.uuid4().hex, shipping=DELIVERY)


def _pay(order: Order) -> Order:
    payment = Payment.objects.create(order=order, provider=Provider.DEMO, amount=order.total, currency=order.currency)
    pay_with_demo_card(payment_id=payment.pk, card_number=CARD_SUCCEEDS)
    order.refresh_from_db()
    return order


def _ship(order: Order, **units) -> None:
    lines = {line.sku: line.pk for line in order.lines.all()}
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={lines[s]: q for s, q in units.items()}))


def test_a_partial_refund_of_a_partly_shipped_order_keeps_it_partly_shipped_and_the_rest_ships(variants):
    # given: paid, the jackets shipped, the socks still waiting
    order = _pay(_place(variants))
    _ship(order, **{"JKT-M": 2})

    # when: part of the money goes back
    refund_payment(payment_id=order.payments.get().pk, amount=Decimal("10.00"), user=None)

    # then: the money question and the goods question each keep their own answer
    order.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (P.PARTIALLY_REFUNDED, FS.PARTIALLY_FULFILLED)
    assert Order.objects.filter(fulfilment_status=FS.PARTIALLY_FULFILLED).get() == order
    _ship(order, **{"SOCK-1": 3})
    order.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (P.PARTIALLY_REFUNDED, FS.FULFILLED)
    moves = list(order.events.filter(kind=OrderEvent.Kind.STATUS).exclude(state="")
                 .values_list("state", "from_status", "to_status"))
    assert moves == [
        (PAYMENT, P.UNPAID, P.PAID),
        (FULFILMENT, FS.UNFULFILLED, FS.PARTIALLY_FULFILLED),
        (PAYMENT, P.PAID, P.PARTIALLY_REFUNDED),
        (FULFILMENT, FS.PARTIALLY_FULFILLED, FS.FULFILLED),
    ]


def test_a_fully_refunded_order_does_not_ship_and_a_paid_one_does_not_cancel(variants):
    refunded = _pay(_place(variants))
    refund_payment(payment_id=refunded.payments.get().pk, amount=refunded.total, user=None)
    paid = _pay(_place(variants))

    with pytest.raises(OrderError, match="only a paid order"):
        _ship(refunded, **{"JKT-M": 1})
    with pytest.raises(OrderError):
        cancel_order(order_id=paid.pk, actor=OrderEvent.Actor.STAFF)

    refunded.refresh_from_db()
    paid.refresh_from_db()
    assert (refunded.payment_status, refunded.fulfilment_status) == (P.REFUNDED, FS.UNFULFILLED)
    assert (paid.payment_status, paid.fulfilment_status) == (P.PAID, FS.UNFULFILLED)


# --- Any sequence of moves ------------------------------------------------------------------------

MOVES = st.one_of(
    st.tuples(st.just("pay"), st.booleans()),  # by card, or marked paid by staff
    st.tuples(st.just("ship"), st.sampled_from(["JKT-M", "SOCK-1"]), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=20_000)),  # cents
    st.tuples(st.just("cancel")),
    st.tuples(st.just("expire")),
)


def _apply(order: Order, move: tuple, staff) -> None:
    kind = move[0]
    if kind == "pay":
        if move[1]:
            _pay(order)
        else:
            record_manual_payment(order_id=order.pk, user=staff)
    elif kind == "ship":
        _ship(order, **{move[1]: move[2]})
    elif kind == "refund":
        payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).first()
        if payment is not None:
            refund_payment(payment_id=payment.pk, amount=Decimal(move[1]) / 100, user=None)
    elif kind == "cancel":
        cancel_order(order_id=order.pk, actor=OrderEvent.Actor.STAFF)
    elif kind == "expire":
        Order.objects.filter(pk=order.pk).update(reservation_expires_at=order.created_at)
        expire_unpaid_orders()


def _check(order: Order) -> None:
    order.refresh_from_db()
    taken = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).aggregate(s=Sum("amount"))["s"] or 0
    refunded = Refund.objects.filter(payment__order=order, status=Refund.Status.SUCCEEDED).aggregate(
        s=Sum("amount"))["s"] or 0
    units = OrderLine.objects.filter(order=order).aggregate(ordered=Sum("quantity"), shipped=Sum("quantity_fulfilled"))
    ordered, shipped = units["ordered"], units["shipped"]

    # Money: the payment state says what the ledger says.
    if order.payment_status == P.UNPAID:
        assert order.paid_at is None and refunded == 0
    elif order.payment_status == P.PAID:
        assert taken >= order.total and refunded == 0 and order.paid_at is not None
    elif order.payment_status == P.PARTIALLY_REFUNDED:
        assert 0 < refunded < order.total and order.paid_at is not None
    else:
        assert refunded >= order.total and taken >= refunded

    # Goods: the fulfilment state says what the lines say.
    if order.fulfilment_status in (FS.UNFULFILLED, FS.CANCELLED, FS.EXPIRED):
        assert shipped == 0
    elif order.fulfilment_status == FS.PARTIALLY_FULFILLED:
        assert 0 < shipped < ordered
    else:
        assert shipped == ordered

    # Together: nothing ships unpaid, a closed order never kept money.
    assert shipped == 0 or order.paid_at is not None
    if order.fulfilment_status in (FS.CANCELLED, FS.EXPIRED):
        assert not order.kept_payment and order.payment_status in (P.UNPAID, P.REFUNDED)

    # Each state's own history ends where the state is.
    for state, now in ((PAYMENT, order.payment_status), (FULFILMENT, order.fulfilment_status)):
        last = order.events.filter(kind=OrderEvent.Kind.STATUS, state=state).order_by("-pk").first()
        assert (last.to_status if last else (P.UNPAID if state == PAYMENT else FS.UNFULFILLED)) == now


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(moves=st.lists(MOVES, max_size=8))
def test_any_sequence_of_moves_keeps_both_states_true_to_the_ledger_and_the_lines(variants, moves):
    with transaction.atomic():
        staff = get_user_model().objects.create_user(username="pat", is_staff=True)
        order = _place(variants)
        for move in moves:
            before = (order.payment_status, order.fulfilment_status, order.events.count())
            try:
                with transaction.atomic():
                    _apply(order, move, staff)
            except (OrderError, PaymentError):
                # A move the states do not allow is refused and changes nothing.
                order.refresh_from_db()
                assert (order.payment_status, order.fulfilment_status, order.events.count()) == before
            _check(order)
        transaction.set_rollback(True)
