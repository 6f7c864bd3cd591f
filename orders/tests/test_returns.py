"""Returns: shipped units coming back, optionally restocked, recorded in the history; no money moves."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from conftest import html_tags
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent
from orders.services import ShipmentRequest, create_shipment, record_return

from .test_admin import messages_of, pay, place, staff_groups, staff_in, url  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
STAFF = OrderEvent.Actor.STAFF


@pytest.fixture
def boots():
    variant = f.VariantFactory(sku="BOOT-42", price=Decimal("60.00"), product__title="Trail Boot")
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse")
    f.StockLevelFactory(variant=variant, location=warehouse, on_hand=10)
    f.LocationFactory(code="outlet", name="Outlet", kind=Location.Kind.SHOP, position=1)
    return variant


@pytest.fixture
def manager(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)


def shipped(variant, *, ordered: int = 3, ship: int = 2) -> Order:
    """A paid order of `ordered` units of which `ship` have shipped."""
    order = pay(place((variant, ordered)))
    line = order.lines.get()
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={line.pk: ship}))
    order.refresh_from_db()
    return order


def on_hand(variant, code: str) -> int | None:
    row = StockLevel.objects.filter(variant=variant, location__code=code).first()
    return row.on_hand if row else None


def state(order: Order) -> tuple:
    order.refresh_from_db()
    return (order.payment_status, order.fulfilment_status, order.total, order.lines.get().quantity_returned, order.events.count(),
            list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
            list(order.payments.values_list("status", "amount")))


def test_a_return_within_what_shipped_is_recorded_with_who_and_what(boots, manager):
    order = shipped(boots)
    line = order.lines.get()
    states, total = (order.payment_status, order.fulfilment_status), order.total

    event = record_return(order=order, lines={line.pk: 2}, restock=False, location_id=None, actor=STAFF,
                          user=manager, note="Wrong size.")

    line.refresh_from_db()
    order.refresh_from_db()
    assert line.quantity_returned == 2
    assert ((order.payment_status, order.fulfilment_status), order.total) == (states, total)  # no money, no state
    assert (event.kind, event.actor, event.user) == (OrderEvent.Kind.RETURN, STAFF, manager)
    assert event.data == {"lines": {str(line.pk): 2}, "restock": False, "location": None, "refund_due": "120.00"}
    assert event.message == "Returned 2 × BOOT-42; not restocked.\nWrong size."
    assert order.events.filter(kind=OrderEvent.Kind.RETURN).get() == event


@pytest.mark.parametrize("quantity", [3, 1])
def test_more_than_shipped_and_not_yet_returned_is_refused_and_nothing_changes(boots, manager, quantity):
    order = shipped(boots)  # 3 ordered, 2 shipped
    line = order.lines.get()
    if quantity == 1:  # two came back already: one more is too many
        record_return(order=order, lines={line.pk: 2}, restock=False, location_id=None, actor=STAFF, user=manager)
    before = state(order)
    warehouse = Location.objects.get(code="warehouse")

    with pytest.raises(OrderError) as refused:
        record_return(order=order, lines={line.pk: quantity}, restock=True, location_id=warehouse.pk, actor=STAFF,
                      user=manager)

    left = 2 if quantity == 3 else 0
    assert str(refused.value) == (f"BOOT-42: {left} shipped and not yet returned, so {quantity} cannot come back. "
                                  "Nothing was recorded.")
    assert state(order) == before


def test_restocking_raises_on_hand_at_the_chosen_location_and_creates_its_row(boots, manager):
    order = shipped(boots)
    line = order.lines.get()
    assert (on_hand(boots, "warehouse"), on_hand(boots, "outlet")) == (8, None)

    record_return(order=order, lines={line.pk: 1}, restock=True, location_id=Location.objects.get(code="outlet").pk,
                  actor=STAFF, user=manager)
    event = record_return(order=order, lines={line.pk: 1}, restock=True,
                          location_id=Location.objects.get(code="warehouse").pk, actor=STAFF, user=manager)

    assert (on_hand(boots, "warehouse"), on_hand(boots, "outlet")) == (9, 1)
    assert event.message == "Returned 1 × BOOT-42; restocked at Warehouse."
    assert StockLevel.objects.get(variant=boots, location__code="warehouse").reserved == 1  # the unshipped unit


def test_without_restocking_stock_stays_as_it_was(boots, manager):
    order = shipped(boots)
    stock_before = list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))

    record_return(order=order, lines={order.lines.get().pk: 2}, restock=False, location_id=None, actor=STAFF,
                  user=manager)

    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == stock_before


def test_bad_requests_are_refused_with_a_clear_message(boots, manager):
    order = shipped(boots)
    other = shipped(boots)
    line = order.lines.get()
    inactive = f.LocationFactory(code="closed", is_active=False)
    before = state(order)

    cases = [
        ({}, False, None, "Choose at least one returned item."),
        ({line.pk: 1}, True, None, "Choose the location the returned items go back to."),
        ({line.pk: 1}, True, inactive.pk, "That location does not exist or is not active; nothing was recorded."),
        ({other.lines.get().pk: 1}, False, None, f"Line {other.lines.get().pk} is not part of order {order.number}."),
        ({line.pk: -1}, False, None, "Returned quantities cannot be negative."),
    ]
    for lines, restock, location_id, message in cases:
        with pytest.raises(OrderError) as refused:
            record_return(order=order, lines=lines, restock=restock, location_id=location_id, actor=STAFF,
                          user=manager)
        assert str(refused.value) == message
    assert state(order) == before


def test_an_unshipped_order_has_nothing_to_return(boots, manager):
    order = pay(place((boots, 2)))

    with pytest.raises(OrderError):
        record_return(order=order, lines={order.lines.get().pk: 1}, restock=False, location_id=None, actor=STAFF,
                      user=manager)


def test_the_database_refuses_more_returned_than_shipped(boots):
    from django.db import IntegrityError, transaction

    order = shipped(boots)
    with pytest.raises(IntegrityError), transaction.atomic():
        order.lines.update(quantity_returned=3)


# --- The back office ---


def test_the_order_page_offers_record_return_once_something_shipped(client, boots, manager):
    client.force_login(manager)
    unshipped = pay(place((boots, 1)))
    order = shipped(boots)

    assert not html_tags(client.get(url("change", unshipped)).content, "a", id="return-link")
    assert html_tags(client.get(url("change", order)).content, "a", id="return-link")
    form = client.get(url("return", order))
    assert form.status_code == 200
    assert html_tags(form.content, "input", name=f"line_{order.lines.get().pk}")
    assert html_tags(form.content, "input", name="csrfmiddlewaretoken")


def test_staff_record_a_return_and_restock_from_the_order_page(client, boots, manager):
    client.force_login(manager)
    order = shipped(boots)
    line = order.lines.get()
    outlet = Location.objects.get(code="outlet")

    response = client.post(url("return", order), {f"line_{line.pk}": "2", "restock": "on", "location": outlet.pk,
                                                  "note": "Unworn."}, follow=True)

    assert ("success", f"Return of 2 items recorded for order {order.number}. The units are back in stock. Refund "
                       "the customer separately if money is due.") in messages_of(response)
    line.refresh_from_db()
    assert line.quantity_returned == 2 and on_hand(boots, "outlet") == 2
    assert order.events.get(kind=OrderEvent.Kind.RETURN).user == manager
    assert "Unworn." in response.content.decode()


def test_an_over_return_from_the_page_is_refused_and_changes_nothing(client, boots, manager):
    client.force_login(manager)
    order = shipped(boots)
    line = order.lines.get()
    before = state(order)

    too_many = client.post(url("return", order), {f"line_{line.pk}": "3", "location": ""})
    nothing = client.post(url("return", order), {f"line_{line.pk}": "0", "restock": "on", "location": ""})

    assert too_many.status_code == 200 and "Ensure this value is less than or equal to 2." in too_many.content.decode()
    assert "Enter how many units of at least one item came back." in nothing.content.decode()
    assert state(order) == before


def test_staff_without_the_order_change_permission_cannot_record_a_return(client, staff_groups, boots):
    order = shipped(boots)
    line = order.lines.get()
    before = state(order)
    staff_in(client, "Support")

    page = client.get(url("change", order))
    assert page.status_code == 200 and not html_tags(page.content, "a", id="return-link")
    assert client.get(url("return", order)).status_code == 403
    assert client.post(url("return", order), {f"line_{line.pk}": "1", "restock": "on",
                                              "location": Location.objects.get(code="warehouse").pk}).status_code == 403
    assert state(order) == before
