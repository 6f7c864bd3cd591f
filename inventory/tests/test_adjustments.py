"""Adjustments (damage, theft, found) and stock counts: audited, through the admin, all or nothing."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from webtest import Upload

from catalog.exceptions import StockBelowReserved
from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from inventory import services
from inventory.exceptions import InventoryError
from inventory.models import Adjustment, StockMovement

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


@pytest.fixture
def shelf():
    """Two jacket sizes at the warehouse (M: 6 on hand, 2 reserved; L: 4) and a shop with none."""
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse", position=0)
    shop = f.LocationFactory(code="shop", name="Harbour shop", kind=Location.Kind.SHOP, position=1)
    medium = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    large = f.VariantFactory(sku="JKT-L", price=Decimal("80.00"), product=medium.product)
    f.StockLevelFactory(variant=medium, location=warehouse, on_hand=6, reserved=2)
    f.StockLevelFactory(variant=large, location=warehouse, on_hand=4)
    return warehouse, shop, medium, large


def _on_hand(variant, location):
    return StockLevel.objects.filter(variant=variant, location=location).values_list("on_hand", flat=True).first()


def test_damage_takes_units_away_and_is_audited_with_its_movements(shelf):
    warehouse, _shop, medium, large = shelf
    clerk = get_user_model().objects.create_user("clerk", "clerk@example.com", "pw")

    adjustment = services.adjust_stock(location_id=warehouse.pk, reason="damage", note="Roof leak", user=clerk, lines=[
        services.AdjustmentRequest(variant_id=medium.pk, quantity=-3),
        services.AdjustmentRequest(variant_id=large.pk, quantity=-1),
    ])

    assert (_on_hand(medium, warehouse), _on_hand(large, warehouse)) == (3, 3)
    assert list(adjustment.lines.values_list("variant__sku", "on_hand_before", "quantity", "on_hand_after")) == [
        ("JKT-M", 6, -3, 3), ("JKT-L", 4, -1, 3)]
    assert set(StockMovement.objects.filter(adjustment=adjustment).values_list("quantity", "reason", "actor")) == {
        (-3, "damage", clerk.pk), (-1, "damage", clerk.pk)}


def test_found_units_create_the_stock_row_a_location_did_not_have(shelf):
    _warehouse, shop, medium, _large = shelf
    services.adjust_stock(location_id=shop.pk, reason="found",
                          lines=[services.AdjustmentRequest(variant_id=medium.pk, quantity=2)])
    assert _on_hand(medium, shop) == 2


@pytest.mark.parametrize(("reason", "quantity", "message"), [
    ("damage", 2, "must be a number of units below 0"),
    ("found", -2, "must be a number of units above 0"),
    ("theft", -5, "reserved for orders"),  # 6 on hand, 2 reserved: at most 4 can go
])
def test_a_refused_adjustment_changes_nothing_and_says_why(shelf, reason, quantity, message):
    warehouse, _shop, medium, _large = shelf
    with pytest.raises((InventoryError, StockBelowReserved), match=message):
        services.adjust_stock(location_id=warehouse.pk, reason=reason,
                              lines=[services.AdjustmentRequest(variant_id=medium.pk, quantity=quantity)])
    assert _on_hand(medium, warehouse) == 6
    assert not Adjustment.objects.exists()


def test_staff_record_damage_from_the_admin(admin_app, shelf):
    warehouse, _shop, medium, _large = shelf
    page = admin_app.get("/admin/inventory/adjustment/add/")
    form = page.forms["adjustment_form"]
    form["location"] = str(warehouse.pk)
    form["reason"] = "damage"
    form["note"] = "Dropped pallet"
    form["lines-0-sku"] = "JKT-M"
    form["lines-0-quantity"] = "-1"
    form["lines-1-sku"] = "NOPE-1"
    form["lines-1-quantity"] = "-1"

    refused = form.submit()
    assert "No variant has the SKU “NOPE-1”." in refused.text
    assert _on_hand(medium, warehouse) == 6

    form = refused.forms["adjustment_form"]
    form["lines-1-sku"] = ""
    form["lines-1-quantity"] = ""
    done = form.submit().follow()

    assert "Stock adjusted" in done.text
    assert _on_hand(medium, warehouse) == 5
    adjustment = Adjustment.objects.get()
    assert (adjustment.reason, adjustment.note, adjustment.created_by.username) == ("damage", "Dropped pallet",
                                                                                   "webtest-admin")


def _upload_count(admin_app, location, content: bytes):
    page = admin_app.get("/admin/inventory/adjustment/count/")
    form = page.forms["count_upload_form"]
    form["location"] = str(location.pk)
    form["file"] = Upload("count.csv", content, "text/csv")
    return form.submit()


def test_a_stock_count_shows_the_differences_then_applies_them(admin_app, shelf):
    warehouse, _shop, medium, large = shelf
    preview = _upload_count(admin_app, warehouse, "\ufeffSKU,Counted\nJKT-M,5\nJKT-L,4\n".encode())

    rows = [[cell.text for cell in row.select("td")] for row in preview.html.select("#count-preview tbody tr")]
    assert rows == [["2", "JKT-M", "Storm Jacket", "6", "5", "-1"], ["3", "JKT-L", "Storm Jacket", "4", "4", "0"]]
    assert _on_hand(medium, warehouse) == 6  # nothing yet

    done = preview.forms["count_confirm_form"].submit("confirm").follow()

    assert "Stock count applied: 1 difference(s)." in done.text
    assert (_on_hand(medium, warehouse), _on_hand(large, warehouse)) == (5, 4)
    assert list(StockMovement.objects.filter(reason="count").values_list("variant__sku", "quantity")) == [("JKT-M", -1)]


def test_a_count_file_with_bad_rows_names_each_and_changes_nothing(admin_app, shelf):
    warehouse, *_rest = shelf
    content = b"sku,counted\nJKT-M,1\nJKT-L,2.5\nNOPE,3\nJKT-L,-1\n,4\nJKT-M,7\n"

    page = _upload_count(admin_app, warehouse, content)

    assert [item.text for item in page.html.select("#count-errors li")] == [
        "Line 2: JKT-M counted 1, but 2 units here are reserved for orders; move those orders' allocations first.",
        "Line 3: counted “2.5” is not a whole number.",
        "Line 4: no variant has the SKU “NOPE”.",
        "Line 5: JKT-L was already counted on line 3.",
        "Line 6: the SKU is empty.",
        "Line 7: JKT-M was already counted on line 2.",
    ]
    assert "count_confirm_form" not in page.forms
    assert not Adjustment.objects.exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"code,qty\nJKT-M,1\n", "The first line must name the columns “sku” and “counted”."),
    (b"sku,counted\n", "The file has no rows to count."),
    ("sku,counted\nJKT-M,1\n".encode("utf-16"), "The file is not UTF-8 text"),
])
def test_a_count_file_that_cannot_be_read_says_why(admin_app, shelf, content, message):
    page = _upload_count(admin_app, shelf[0], content)
    assert message in page.html.select_one("#count-errors").text


def test_a_count_confirmed_after_stock_moved_is_refused_and_changes_nothing(admin_app, shelf):
    warehouse, _shop, medium, _large = shelf
    preview = _upload_count(admin_app, warehouse, b"sku,counted\nJKT-M,9\n")
    services.adjust_stock(location_id=warehouse.pk, reason="found",
                          lines=[services.AdjustmentRequest(variant_id=medium.pk, quantity=1)])

    page = preview.forms["count_confirm_form"].submit("confirm").follow()

    assert "changed from 6 to 7 units on hand" in page.text
    assert _on_hand(medium, warehouse) == 7
    assert not Adjustment.objects.filter(reason="count").exists()


def test_an_altered_count_preview_is_refused(admin_app, shelf):
    preview = _upload_count(admin_app, shelf[0], b"sku,counted\nJKT-L,40\n")
    form = preview.forms["count_confirm_form"]
    form["payload"].force_value(form["payload"].value + "x")
    page = form.submit("confirm").follow()
    assert "too old or was altered" in page.text
    assert _on_hand(shelf[3], shelf[0]) == 4


@pytest.mark.parametrize("url", ["/admin/inventory/adjustment/", "/admin/inventory/stockmovement/",
                                 "/admin/inventory/adjustment/add/", "/admin/inventory/adjustment/count/"])
def test_stock_back_office_pages_stay_within_their_query_budget(admin_client, shelf, url,
                                                                django_assert_max_num_queries):
    warehouse, _shop, medium, large = shelf
    for variant in (medium, large):
        services.adjust_stock(location_id=warehouse.pk, reason="theft",
                              lines=[services.AdjustmentRequest(variant_id=variant.pk, quantity=-1)])
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
