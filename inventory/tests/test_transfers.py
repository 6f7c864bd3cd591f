"""Transfers between locations: draft -> in transit -> received, from the admin, with history."""
from decimal import Decimal

import pytest

from catalog.exceptions import StockBelowReserved
from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from inventory import services
from inventory.exceptions import InventoryError
from inventory.models import StockMovement, Transfer, TransferEvent
from inventory.selectors import in_transit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
S = Transfer.Status


@pytest.fixture
def places():
    """The warehouse holds 10 jackets (2 reserved) and 4 tees; the shop holds 1 tee."""
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse", position=0)
    shop = f.LocationFactory(code="shop", name="Harbour shop", kind=Location.Kind.SHOP, position=1)
    jacket = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"))
    tee = f.VariantFactory(sku="TEE-S", price=Decimal("20.00"))
    f.StockLevelFactory(variant=jacket, location=warehouse, on_hand=10, reserved=2)
    f.StockLevelFactory(variant=tee, location=warehouse, on_hand=4)
    f.StockLevelFactory(variant=tee, location=shop, on_hand=1)
    return warehouse, shop, jacket, tee


def _stock(variant, location):
    row = StockLevel.objects.filter(variant=variant, location=location).values_list("on_hand", "reserved").first()
    return row or (0, 0)


def _draft(places, jackets=5, tees=3):
    warehouse, shop, jacket, tee = places
    return services.create_transfer(source_id=warehouse.pk, destination_id=shop.pk, lines=[
        services.TransferRequest(variant_id=jacket.pk, quantity=jackets),
        services.TransferRequest(variant_id=tee.pk, quantity=tees),
    ])


def test_shipped_units_are_on_hand_nowhere_until_received_in_parts(places):
    warehouse, shop, jacket, tee = places
    transfer = _draft(places)
    assert _stock(jacket, warehouse) == (10, 2)  # a draft moves nothing

    services.ship_transfer(transfer_id=transfer.pk)
    assert (_stock(jacket, warehouse), _stock(jacket, shop), _stock(tee, warehouse)) == ((5, 2), (0, 0), (1, 0))
    assert in_transit() == {(jacket.pk, shop.pk): 5, (tee.pk, shop.pk): 3}

    lines = {line.variant_id: line for line in transfer.lines.all()}
    services.receive_transfer(transfer_id=transfer.pk, received={lines[jacket.pk].pk: 2})
    transfer.refresh_from_db()
    assert transfer.status == S.PARTIALLY_RECEIVED
    assert _stock(jacket, shop) == (2, 0)

    services.receive_transfer(transfer_id=transfer.pk, received={lines[jacket.pk].pk: 3, lines[tee.pk].pk: 3})
    transfer.refresh_from_db()
    assert (transfer.status, _stock(jacket, shop), _stock(tee, shop)) == (S.RECEIVED, (5, 0), (4, 0))
    assert in_transit() == {}
    assert list(transfer.events.values_list("kind", flat=True)) == ["created", "shipped", "received", "received"]
    assert sorted(StockMovement.objects.filter(transfer=transfer).values_list("reason", "quantity")) == sorted([
        ("transfer_out", -5), ("transfer_out", -3), ("transfer_in", 2), ("transfer_in", 3), ("transfer_in", 3)])


def test_closing_a_receipt_short_records_what_never_arrived(places):
    _warehouse, shop, jacket, tee = places
    transfer = _draft(places)
    services.ship_transfer(transfer_id=transfer.pk)
    lines = {line.variant_id: line for line in transfer.lines.all()}

    services.receive_transfer(transfer_id=transfer.pk, received={lines[jacket.pk].pk: 4}, close=True)

    transfer.refresh_from_db()
    assert transfer.status == S.RECEIVED
    assert {line.variant.sku: (line.quantity_received, line.quantity_missing) for line in transfer.lines.all()} == {
        "JKT-M": (4, 1), "TEE-S": (0, 3)}
    closed = transfer.events.get(kind=TransferEvent.Kind.CLOSED)
    assert closed.message == "JKT-M: 1 missing, TEE-S: 3 missing"
    assert _stock(jacket, shop) == (4, 0)


def test_shipping_never_takes_units_reserved_for_orders_and_changes_nothing(places):
    warehouse, _shop, jacket, _tee = places
    transfer = _draft(places, jackets=9)  # 10 on hand, 2 reserved: 8 can go

    with pytest.raises(StockBelowReserved):
        services.ship_transfer(transfer_id=transfer.pk)

    transfer.refresh_from_db()
    assert (transfer.status, _stock(jacket, warehouse)) == (S.DRAFT, (10, 2))


@pytest.mark.parametrize(("step", "message"), [
    ("ship twice", "is in transit: it cannot be shipped"),
    ("receive too many", r"JKT-M: 5 unit\(s\) still expected, not 6"),
    ("cancel shipped", "is in transit: it cannot be cancelled"),
])
def test_illegal_moves_are_refused_and_change_nothing(places, step, message):
    warehouse, _shop, jacket, _tee = places
    transfer = _draft(places)
    services.ship_transfer(transfer_id=transfer.pk)
    line = transfer.lines.get(variant=jacket)
    with pytest.raises(InventoryError, match=message):
        if step == "ship twice":
            services.ship_transfer(transfer_id=transfer.pk)
        elif step == "receive too many":
            services.receive_transfer(transfer_id=transfer.pk, received={line.pk: 6})
        else:
            services.cancel_transfer(transfer_id=transfer.pk)
    assert _stock(jacket, warehouse) == (5, 2)
    assert transfer.events.count() == 2


def test_staff_draft_ship_and_receive_a_transfer_from_the_admin(admin_app, places):
    warehouse, shop, jacket, tee = places
    page = admin_app.get("/admin/inventory/transfer/add/")
    form = page.forms["transfer_form"]
    form["source"] = str(warehouse.pk)
    form["destination"] = str(warehouse.pk)
    form["lines-0-variant"].force_value(str(jacket.pk))
    form["lines-0-quantity"] = "3"
    refused = form.submit("_save")
    assert "choose two different ones" in refused.text
    assert not Transfer.objects.exists()

    form = refused.forms["transfer_form"]
    form["destination"] = str(shop.pk)
    page = form.submit("_continue").follow()
    transfer = Transfer.objects.get()
    assert (transfer.status, transfer.created_by.username) == (S.DRAFT, "webtest-admin")

    ship = [form for form in page.forms.values() if form.action.endswith(f"/{transfer.pk}/ship/")][0]
    page = ship.submit().follow()
    assert "Shipped: the units are in transit." in page.text
    assert _stock(jacket, warehouse) == (7, 2)

    receive = page.click(linkid="receive-transfer")
    form = receive.forms["receive_form"]
    form[f"line_{transfer.lines.get().pk}"] = "2"
    form["close"].checked = True
    page = form.submit().follow()

    assert "Receipt recorded." in page.text
    transfer.refresh_from_db()
    assert (transfer.status, _stock(jacket, shop)) == (S.RECEIVED, (2, 0))
    history = [cell.text.strip() for cell in page.html.select("#events-group td.field-kind")]
    assert history == ["Created", "Shipped", "Received", "Closed short"]


def test_shipping_is_a_post_only_button(admin_client, places):
    transfer = _draft(places)
    assert admin_client.get(f"/admin/inventory/transfer/{transfer.pk}/ship/").status_code == 403
    transfer.refresh_from_db()
    assert transfer.status == S.DRAFT


@pytest.mark.parametrize("page", ["list", "change", "receive"])
def test_transfer_pages_stay_within_their_query_budget(admin_client, places, page, django_assert_max_num_queries):
    transfer = _draft(places)
    services.ship_transfer(transfer_id=transfer.pk)
    url = {"list": "/admin/inventory/transfer/", "change": f"/admin/inventory/transfer/{transfer.pk}/change/",
           "receive": f"/admin/inventory/transfer/{transfer.pk}/receive/"}[page]
    with django_assert_max_num_queries(16):
        response = admin_client.get(url)
    assert response.status_code == 200
