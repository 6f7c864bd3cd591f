"""The stock movement ledger: every change to on-hand stock is a movement, and they add up."""
import importlib
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from catalog import services as catalog_services
from catalog.models import Location, StockLevel
from catalog.services import StockChange
from catalog.tests import factories as f
from inventory import ledger
from inventory.models import Reason, StockMovement
from inventory.selectors import ledger_discrepancies
from orders.services import PlacementLine, ShipmentRequest, ShippingChoice, confirm_payment, create_shipment, place_order
from orders.services import record_return

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))


@pytest.fixture
def jacket():
    variant = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"))
    warehouse = f.LocationFactory(code="warehouse", position=0)
    f.LocationFactory(code="shop", kind=Location.Kind.SHOP, pickup_allowed=True, position=1)
    f.StockLevelFactory(variant=variant, location=warehouse, on_hand=5)
    return variant


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)


def _movements(variant):
    return list(StockMovement.objects.filter(variant=variant).order_by("pk").values_list(
        "location__code", "quantity", "reason"))


def test_a_shipment_and_a_return_are_movements_naming_the_order_and_who(jacket, staff):
    order = place_order(lines=[PlacementLine(jacket.pk, 3)], email="ada@example.com", idempotency_key="k1",
                        shipping=DELIVERY)
    assert _movements(jacket) == [("warehouse", 5, "opening")]  # a reservation moves nothing
    confirm_payment(order_id=order.pk, amount=order.total, actor="webhook", reference="pay-1")
    line = order.lines.get()

    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={line.pk: 3}), user=staff)
    shop = Location.objects.get(code="shop")
    record_return(order=order, lines={line.pk: 2}, restock=True, location_id=shop.pk, actor="staff", user=staff)

    assert _movements(jacket) == [("warehouse", 5, "opening"), ("warehouse", -3, "sale"), ("shop", 2, "return")]
    sale, back = StockMovement.objects.filter(variant=jacket).exclude(reason=Reason.OPENING).order_by("pk")
    assert (sale.order_id, sale.actor_id, back.order_id, back.actor_id) == (order.pk, staff.pk, order.pk, staff.pk)


def test_setting_creating_and_removing_stock_rows_are_movements(jacket, staff):
    shop = Location.objects.get(code="shop")
    warehouse = Location.objects.get(code="warehouse")
    cause = ledger.Cause(reason=Reason.SET, actor_id=staff.pk)

    catalog_services.set_stock_levels(changes=[
        StockChange(variant_id=jacket.pk, location_id=warehouse.pk, on_hand=8),
        StockChange(variant_id=jacket.pk, location_id=shop.pk, on_hand=4),
    ], cause=cause)
    catalog_services.set_stock_levels(changes=[StockChange(variant_id=jacket.pk, location_id=shop.pk, remove=True)])

    assert _movements(jacket) == [("warehouse", 5, "opening"), ("warehouse", 3, "set"), ("shop", 4, "set"),
                                  ("shop", -4, "set")]
    assert ledger.balance(variant_id=jacket.pk, location_id=shop.pk) == 0
    assert not StockLevel.objects.filter(location=shop).exists()


def test_a_refused_stock_change_writes_no_movement(jacket):
    warehouse = Location.objects.get(code="warehouse")
    with pytest.raises(Exception):
        catalog_services.set_stock_levels(changes=[
            StockChange(variant_id=jacket.pk, location_id=warehouse.pk, on_hand=1, expected_on_hand=4),
        ])
    assert _movements(jacket) == [("warehouse", 5, "opening")]


def test_an_imported_stock_file_is_a_movement_per_changed_row(jacket):
    from catalog.importing.files import FileFormat, ImportKind
    from catalog.services import import_catalog_file

    report = import_catalog_file(kind=ImportKind.STOCK, file=b"sku,location,on_hand\nJKT-M,warehouse,7\nJKT-M,shop,2\n",
                                 file_format=FileFormat.CSV)

    assert not report.errors
    assert _movements(jacket) == [("warehouse", 5, "opening"), ("warehouse", 2, "import"), ("shop", 2, "import")]


def test_the_check_names_every_stock_level_the_ledger_does_not_add_up_to(jacket, capsys):
    call_command("check_stock_ledger")
    assert "adds up" in capsys.readouterr().out

    # given: stock changed behind the services' back
    StockLevel.objects.filter(variant=jacket).update(on_hand=9)
    orphan = f.VariantFactory(sku="GONE-1")
    StockMovement.objects.create(variant=orphan, location=Location.objects.get(code="shop"), quantity=2,
                                 reason=Reason.FOUND)

    with pytest.raises(CommandError, match="2 stock level"):
        call_command("check_stock_ledger")
    assert capsys.readouterr().err.splitlines() == [
        "JKT-M at Warehouse: on hand 9, movements add up to 5",
        "GONE-1 at Shop: on hand 0, movements add up to 2",
    ]
    # put right again for the fixture's own check
    StockLevel.objects.filter(variant=jacket).update(on_hand=5)
    StockMovement.objects.filter(variant=orphan).delete()


def test_opening_balances_open_the_ledger_for_stock_that_predates_it(jacket):
    from django.apps import apps

    other = f.StockLevelFactory(variant=jacket, location=Location.objects.get(code="shop"), on_hand=3)
    empty = f.StockLevelFactory(on_hand=0)
    StockMovement.objects.all().delete()
    migration = importlib.import_module("inventory.migrations.0001_stock_ledger")

    class Editor:
        pass

    Editor.connection = connection
    migration.open_balances(apps, Editor())

    assert sorted(StockMovement.objects.values_list("variant_id", "location_id", "quantity", "reason")) == sorted([
        (jacket.pk, Location.objects.get(code="warehouse").pk, 5, "opening"),
        (jacket.pk, other.location_id, 3, "opening"),
    ])
    assert not StockMovement.objects.filter(variant=empty.variant).exists()
    assert ledger_discrepancies() == []
    assert ledger.record_opening_balances() == 0  # nothing left to open


def test_the_demo_store_opens_the_ledger_for_the_stock_it_seeds(demo_catalog):
    from saleschannels.models import Channel

    demo_catalog(products=3)

    assert ledger_discrepancies() == []
    assert StockMovement.objects.filter(reason=Reason.OPENING).count() == StockLevel.objects.exclude(
        on_hand=0).count() > 0
    assert sorted(Channel.objects.filter(kind="pos").values_list("code", flat=True)) == [
        "pos-shop-harbour-street", "pos-shop-pine-avenue"]
