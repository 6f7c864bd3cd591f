"""Returns, step by step: the policy, each legal move once, bad input changing nothing, stock
back on hand through the ledger, money back through the refund service, an exchange reserved."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.utils import timezone

from catalog import stock
from catalog.models import StockLevel
from inventory.ledger import Cause
from inventory.models import Reason as StockReason
from inventory.models import StockMovement
from notifications.models import OutboundEmail
from orders.models import Order, OrderEvent, Shipment
from payments.models import Refund
from returns import services
from returns.exceptions import ReturnError
from returns.models import ExchangeLine, ExchangeShipment, Reason, ReturnEvent, ReturnPolicy, ReturnRequest
from returns.selectors import eligibility

from .helpers import paid_and_shipped, store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
S = ReturnRequest.Status


@pytest.fixture
def shop():
    return store()


@pytest.fixture
def manager(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)


def ask(order, *pairs, reason=Reason.WRONG_SIZE):
    lines = {line.sku: line.pk for line in order.lines.all()}
    return services.request_return(order=order, quantities={lines[sku]: qty for sku, qty in pairs}, reason=reason)


def received_shirt(sizes, location, manager):
    """An order of one SHIRT-M, asked back, approved and received (back in stock at `location`)."""
    order = paid_and_shipped((sizes["M"], 1))
    request = ask(order, ("SHIRT-M", 1))
    services.approve_return(request_id=request.pk, user=manager)
    line = request.lines.get()
    services.receive_return(request_id=request.pk, location_id=location.pk,
                            receipt=services.Receipt(restock={line.pk: 1}), user=manager)
    return order, request, line


def snapshot(order):
    return (list(ReturnRequest.objects.order_by("pk").values_list("status", flat=True)),
            ReturnEvent.objects.count(), order.events.count(),
            list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
            list(order.lines.order_by("pk").values_list("quantity_returned", flat=True)),
            list(Refund.objects.values_list("amount", flat=True)), OutboundEmail.objects.count())


def test_the_whole_way_a_return_asked_approved_received_at_a_shop_and_refunded(shop, manager,
                                                                              django_capture_on_commit_callbacks):
    warehouse, harbour, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 2))
    paid = order.total

    request = ask(order, ("SHIRT-M", 1))
    assert request.status == S.REQUESTED and request.lines.get().quantity == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_return(request_id=request.pk, user=manager, message="Thanks, send it back.")
    [email] = [m for m in mail.outbox if "approved" in m.subject]
    assert email.to == ["ada@example.com"] and f"R{request.pk}" in email.body and "Harbour Shop" in email.body

    services.receive_return(request_id=request.pk, location_id=harbour.pk,
                            receipt=services.Receipt(restock={request.lines.get().pk: 1}), user=manager)
    request.refresh_from_db()
    assert (request.status, request.received_location, request.refund_due) == (S.RECEIVED, harbour, Decimal("40.00"))
    # Bought online, returned in a shop: the unit is on hand at the shop now, with its ledger row.
    assert StockLevel.objects.get(variant=sizes["M"], location=harbour).on_hand == 1
    movement = StockMovement.objects.get(location=harbour)
    assert (movement.quantity, movement.reason, movement.order_id) == (1, StockReason.RETURN, order.pk)
    assert order.lines.get().quantity_returned == 1

    services.refund_return(request_id=request.pk, user=manager)
    request.refresh_from_db()
    order.refresh_from_db()
    assert request.status == S.REFUNDED
    refund = request.refunds.get()
    assert (refund.amount, refund.status) == (Decimal("40.00"), Refund.Status.SUCCEEDED)
    assert refund.payment.order == order and order.total == paid
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    # Every move in the return's history and the order's (so the CRM timeline has it).
    assert [(e.from_status, e.to_status) for e in request.events.all()] == [
        ("", S.REQUESTED), (S.REQUESTED, S.APPROVED), (S.APPROVED, S.RECEIVED), (S.RECEIVED, S.REFUNDED)]
    notes = order.events.filter(kind=OrderEvent.Kind.NOTE, data__return=request.pk)
    assert list(notes.values_list("data__return_status", flat=True)) == [S.REQUESTED, S.APPROVED, S.RECEIVED,
                                                                         S.REFUNDED]


def test_each_step_happens_once_a_second_click_changes_nothing(shop, manager):
    warehouse, harbour, sizes, _wrap = shop
    order, request, line = received_shirt(sizes, warehouse, manager)
    services.refund_return(request_id=request.pk, user=manager)
    before = snapshot(order)
    for step in (lambda: services.approve_return(request_id=request.pk, user=manager),
                 lambda: services.refuse_return(request_id=request.pk, user=manager, message="No."),
                 lambda: services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                                                 receipt=services.Receipt(restock={line.pk: 1}), user=manager),
                 lambda: services.refund_return(request_id=request.pk, user=manager)):
        with pytest.raises(ReturnError, match="refunded, so it cannot be"):
            step()
    assert snapshot(order) == before


def test_units_already_asked_for_cannot_be_asked_for_again_until_refused(shop, manager):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 2))
    first = ask(order, ("SHIRT-M", 2))
    before = snapshot(order)
    with pytest.raises(ReturnError, match="Already in a return you asked for"):
        ask(order, ("SHIRT-M", 1))
    assert snapshot(order) == before
    services.refuse_return(request_id=first.pk, user=manager, message="Worn.")
    assert ask(order, ("SHIRT-M", 1)).status == S.REQUESTED


@pytest.mark.parametrize("case", ["too many", "unknown line", "no units", "bad reason", "negative"])
def test_bad_input_is_refused_with_a_reason_and_nothing_changes(shop, case):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 2))
    other = paid_and_shipped((sizes["S"], 1), email="eve@example.com")
    line = order.lines.get()
    before = snapshot(order)
    quantities, reason, message = {
        "too many": ({line.pk: 3}, Reason.DAMAGED, "at most 2"),
        "unknown line": ({other.lines.get().pk: 1}, Reason.DAMAGED, "not part of order"),
        "no units": ({line.pk: 0}, Reason.DAMAGED, "at least one item"),
        "bad reason": ({line.pk: 1}, "because", "reason from the list"),
        "negative": ({line.pk: -1}, Reason.DAMAGED, "negative"),
    }[case]
    with pytest.raises(ReturnError, match=message):
        services.request_return(order=order, quantities=quantities, reason=reason)
    assert snapshot(order) == before


def test_the_policy_window_and_excluded_categories_are_checked_and_explained(shop):
    _w, _h, sizes, wrap = shop
    order = paid_and_shipped((sizes["M"], 1), (wrap, 1))
    policy = ReturnPolicy.current()
    # A category excluded by staff: its parent excluded counts too.
    parent = wrap.product.category.parent or wrap.product.category
    policy.excluded_categories.add(parent)
    rules = eligibility(order=order)
    by_sku = {item.line.sku: item for item in rules.lines}
    assert by_sku["WRAP"].available == 0 and "cannot be returned" in by_sku["WRAP"].blocked
    assert by_sku["SHIRT-M"].available == 1
    with pytest.raises(ReturnError, match="cannot be returned"):
        ask(order, ("WRAP", 1))
    # Past the window (counted from the last parcel), nothing can be asked for.
    policy.window_days = 14
    policy.save()
    Shipment.objects.filter(order=order).update(created_at=timezone.now() - timedelta(days=15))
    rules = eligibility(order=order)
    assert rules.closed.startswith("Returns can be asked for up to 14 days after the order was sent")
    assert not rules.any_available
    with pytest.raises(ReturnError, match="up to 14 days"):
        ask(order, ("SHIRT-M", 1))
    assert not ReturnRequest.objects.exists()


def test_nothing_sent_yet_means_nothing_to_return(shop):
    unsent = Order.objects.create(email="x@example.com", currency="USD", idempotency_key="unsent")
    assert "Nothing in this order has been sent yet" in eligibility(order=unsent).closed


def test_refusing_needs_a_message_and_emails_it(shop, manager, django_capture_on_commit_callbacks):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = ask(order, ("SHIRT-M", 1))
    with pytest.raises(ReturnError, match="Say why"):
        services.refuse_return(request_id=request.pk, user=manager, message="  ")
    with django_capture_on_commit_callbacks(execute=True):
        services.refuse_return(request_id=request.pk, user=manager, message="The shirt was worn and washed.")
    [email] = [m for m in mail.outbox if "not accepted" in m.subject]
    assert "The shirt was worn and washed." in email.body
    assert OutboundEmail.objects.get(kind="returns.refused").status == "sent"


def test_received_units_can_be_written_off_with_a_reason_and_stay_off_the_shelf(shop, manager):
    warehouse, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 3))
    request = ask(order, ("SHIRT-M", 3), reason=Reason.DAMAGED)
    services.approve_return(request_id=request.pk, user=manager)
    line = request.lines.get()
    level = StockLevel.objects.get(variant=sizes["M"], location=warehouse)
    on_hand = level.on_hand
    before = snapshot(order)
    with pytest.raises(ReturnError, match="written off"):
        services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                                receipt=services.Receipt(restock={line.pk: 1}), user=manager)
    with pytest.raises(ReturnError, match="between 0 and 3"):
        services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                                receipt=services.Receipt(restock={line.pk: 4}), user=manager)
    assert snapshot(order) == before

    services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                            receipt=services.Receipt(restock={line.pk: 1}, write_off_reason="Torn seams"),
                            user=manager)
    line.refresh_from_db()
    level.refresh_from_db()
    assert (line.restocked, line.written_off, line.write_off_reason) == (1, 2, "Torn seams")
    assert level.on_hand == on_hand + 1  # only the sellable unit is back
    assert order.lines.get().quantity_returned == 3
    request.refresh_from_db()
    assert request.refund_due == Decimal("120.00")  # written-off units are still owed


def test_an_exchange_reserves_the_new_size_and_ships_it_with_its_tracking(shop, manager,
                                                                        django_capture_on_commit_callbacks):
    warehouse, _h, sizes, _wrap = shop
    order, request, line = received_shirt(sizes, warehouse, manager)
    large = StockLevel.objects.get(variant=sizes["L"], location=warehouse)
    with pytest.raises(ReturnError, match="same product"):
        services.exchange_return(request_id=request.pk, variants={line.pk: _wrap.pk}, user=manager)

    services.exchange_return(request_id=request.pk, variants={line.pk: sizes["L"].pk}, user=manager)
    large.refresh_from_db()
    assert (large.on_hand, large.reserved) == (20, 1)
    assert ExchangeLine.objects.get().stock_level == large
    assert ReturnRequest.objects.get().status == S.EXCHANGED
    assert not Refund.objects.exists()

    with pytest.raises(ReturnError, match="carrier and the tracking number"):
        services.ship_exchange(request_id=request.pk, user=manager, carrier="DHL")
    with pytest.raises(ReturnError, match="web address"):
        services.ship_exchange(request_id=request.pk, user=manager, carrier="DHL", tracking_number="JD01",
                               tracking_url="javascript:alert(1)")
    large.refresh_from_db()
    assert (large.on_hand, large.reserved) == (20, 1)  # nothing moved

    with django_capture_on_commit_callbacks(execute=True):
        services.ship_exchange(request_id=request.pk, user=manager, carrier="DHL", tracking_number="JD014600",
                               tracking_url="https://track.example/JD014600")
    large.refresh_from_db()
    assert (large.on_hand, large.reserved) == (19, 0)
    shipment = ExchangeShipment.objects.get()
    assert (shipment.carrier, shipment.tracking_number, shipment.request) == ("DHL", "JD014600", request)
    assert ExchangeLine.objects.get().shipment == shipment
    # The shopper is emailed the tracking, once, through the outbox; the order's history says it.
    [email] = [m for m in mail.outbox if "on its way" in m.subject]
    assert email.to == [order.email] and "JD014600" in email.body and "https://track.example/JD014600" in email.body
    assert "1 × Linen Shirt (SHIRT-L)" in email.body
    note = order.events.filter(kind=OrderEvent.Kind.NOTE, data__return=request.pk).last()
    assert "with DHL, tracking number JD014600" in note.message
    with pytest.raises(ReturnError, match="already been sent"):
        services.ship_exchange(request_id=request.pk, user=manager, carrier="DHL", tracking_number="JD2")
    assert OutboundEmail.objects.filter(kind="returns.exchange_sent").count() == 1


def test_an_exchange_the_shopper_collects_at_a_shop_is_reserved_there_and_handed_over(shop, manager):
    warehouse, harbour, sizes, _wrap = shop
    order, request, line = received_shirt(sizes, warehouse, manager)
    with pytest.raises(ReturnError, match="not enough stock"):  # the shop holds no L yet
        services.exchange_return(request_id=request.pk, variants={line.pk: sizes["L"].pk}, user=manager,
                                 collect_at=harbour.pk)
    with transaction.atomic():  # two L found at the shop (a ledger movement, as an adjustment)
        stock.adjust(location_id=harbour.pk, deltas={sizes["L"].pk: 2},
                     cause=Cause(reason=StockReason.FOUND, actor_id=manager.pk))
    f_level = StockLevel.objects.get(variant=sizes["L"], location=harbour)

    services.exchange_return(request_id=request.pk, variants={line.pk: sizes["L"].pk}, user=manager,
                             collect_at=harbour.pk)
    f_level.refresh_from_db()
    assert f_level.reserved == 1
    services.ship_exchange(request_id=request.pk, user=manager, collected_at=harbour.pk)
    f_level.refresh_from_db()
    assert (f_level.on_hand, f_level.reserved) == (1, 0)
    shipment = ExchangeShipment.objects.get()
    assert shipment.collected_at == harbour and not OutboundEmail.objects.filter(kind="returns.exchange_sent")


def test_an_exchange_for_a_size_out_of_stock_is_refused_and_reserves_nothing(shop, manager):
    warehouse, _h, sizes, _wrap = shop
    order, request, line = received_shirt(sizes, warehouse, manager)
    StockLevel.objects.filter(variant=sizes["L"]).update(reserved=20)  # every L taken by orders
    with pytest.raises(ReturnError, match="not enough stock"):
        services.exchange_return(request_id=request.pk, variants={line.pk: sizes["L"].pk}, user=manager)
    assert ReturnRequest.objects.get().status == S.RECEIVED and not ExchangeLine.objects.exists()


def test_every_step_is_on_the_customers_crm_timeline(shop, manager):
    from customers.selectors.crm import customer_timeline

    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = ask(order, ("SHIRT-M", 1))
    services.refuse_return(request_id=request.pk, user=manager, message="Worn.")
    details = [entry.detail for entry in customer_timeline(customer=order.customer)]
    assert f"Return R{request.pk}: Requested. 1 × SHIRT-M, reason: Wrong size or fit." in details
    assert f"Return R{request.pk}: Refused. Worn." in details


def test_items_handed_in_at_a_counter_before_approval_are_approved_by_receiving_them(shop, manager):
    _w, harbour, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = ask(order, ("SHIRT-M", 1))
    services.receive_return(request_id=request.pk, location_id=harbour.pk,
                            receipt=services.Receipt(restock={request.lines.get().pk: 1}), user=manager)
    request.refresh_from_db()
    assert request.status == S.RECEIVED and request.decided_by == manager
    assert [(e.from_status, e.to_status) for e in request.events.all()] == [
        ("", S.REQUESTED), (S.REQUESTED, S.APPROVED), (S.APPROVED, S.RECEIVED)]
    assert "Approved on receipt at Harbour Shop." in request.events.get(to_status=S.APPROVED).message
    assert not OutboundEmail.objects.filter(kind__startswith="returns.").exists()


def test_the_outbox_retry_loop_sends_a_return_email_whose_task_never_ran(shop, manager):
    from notifications.services import send_due_emails

    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = ask(order, ("SHIRT-M", 1))
    services.approve_return(request_id=request.pk, user=manager)  # the after-commit task never runs here
    row = OutboundEmail.objects.get(kind="returns.approved")
    assert (row.key, row.status) == (f"returns.approved:{request.pk}", "pending")

    send_due_emails(now=timezone.now() + timedelta(hours=1))  # the order's own emails go too
    [email] = [m for m in mail.outbox if f"return R{request.pk}" in m.subject]
    assert email.to == ["ada@example.com"] and OutboundEmail.objects.get(pk=row.pk).status == "sent"
    assert send_due_emails(now=timezone.now() + timedelta(hours=2)).sent == 0  # once
