"""Sales by location (sold at its counter, collected there, shipped from its stock) and the
click-and-collect share, on the Sales over time page beside the channel split, with their
drill-downs to the order list."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from analytics import reports
from analytics.tests.helpers import refund
from analytics.tests.test_reports import JUNE_3, URL, at, numbers, order
from catalog.models import Location
from catalog.tests.factories import LocationFactory, StockLevelFactory, VariantFactory
from orders.models import Allocation
from saleschannels.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def allocate(made, *placed):
    """Allocations of `made`'s first line: (stock level, quantity[, released]) each."""
    line = made.lines.get()
    for level, quantity, *released in placed:
        Allocation.objects.create(line=line, stock_level=level, quantity=quantity,
                                  quantity_released=released[0] if released else 0)


@pytest.fixture
def omni():
    """June 3, all paid that day:
    - delivered 50.00, shipped from the warehouse;
    - shipped_split 40.00, one line of 2 units allocated 1 at Uptown and 1 at Downtown;
    - moved 12.00, allocated at the warehouse then moved by staff to Uptown;
    - unallocated 8.00, a delivered order with no allocation;
    - collect_up 30.00 (10.00 refunded), click and collect at Uptown;
    - sold 20.00 (2 units) at Downtown's counter, its stock from the warehouse (endless aisle);
    - collect_down 15.00, click and collect at Downtown."""
    uptown = LocationFactory(code="uptown", name="Uptown", kind=Location.Kind.SHOP, pickup_allowed=True)
    downtown = LocationFactory(code="downtown", name="Downtown", kind=Location.Kind.SHOP, pickup_allowed=True)
    warehouse = LocationFactory(code="central", name="Central warehouse")
    counter, _ = Channel.objects.get_or_create(code="pos-downtown", defaults={
        "name": "Downtown counter", "kind": Channel.Kind.POS, "location": downtown})
    variant = VariantFactory()
    at_up, at_down, at_warehouse = (StockLevelFactory(variant=variant, location=location)
                                    for location in (uptown, downtown, warehouse))
    delivered, _ = order(at=at(JUNE_3, 9), lines=[(variant, 1, "50.00")], paid="50.00")
    allocate(delivered, (at_warehouse, 1))
    shipped_split, _ = order(at=at(JUNE_3, 9, 30), lines=[(variant, 2, "40.00")], paid="40.00")
    allocate(shipped_split, (at_up, 1), (at_down, 1))
    moved, _ = order(at=at(JUNE_3, 9, 45), lines=[(variant, 1, "12.00")], paid="12.00")
    allocate(moved, (at_warehouse, 1, 1), (at_up, 1))
    unallocated, _ = order(at=at(JUNE_3, 9, 50), lines=[(variant, 1, "8.00")], paid="8.00")
    collect_up, payment = order(at=at(JUNE_3, 10), lines=[(variant, 1, "30.00")], paid="30.00")
    allocate(collect_up, (at_up, 1))
    refund(payment, amount="10.00", at=at(JUNE_3, 12))
    sold, _ = order(at=at(JUNE_3, 11), lines=[(variant, 2, "20.00")], paid="20.00")
    allocate(sold, (at_warehouse, 2))
    collect_down, _ = order(at=at(JUNE_3, 13), lines=[(variant, 1, "15.00")], paid="15.00")
    type(sold).objects.filter(pk__in=[collect_up.pk]).update(pickup_location=uptown)
    type(sold).objects.filter(pk=collect_down.pk).update(pickup_location=downtown)
    type(sold).objects.filter(pk=sold.pk).update(channel=counter, sale_location=downtown)
    return {"delivered": delivered, "shipped_split": shipped_split, "moved": moved, "unallocated": unallocated,
            "collect_up": collect_up, "sold": sold, "collect_down": collect_down,
            "uptown": uptown, "downtown": downtown, "warehouse": warehouse}


def test_sales_by_location_separate_counter_sales_collections_and_shipments_from_each(omni):
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="location")

    rows = {row.label: (row.total.net_sales, row.total.orders, row.total.units) for row in report.rows}
    assert rows == {
        "Central warehouse: shipped from there": (Decimal("50.00"), 1, 1),
        # half of the split line (by units) and the order moved here from the warehouse
        "Uptown: shipped from there": (Decimal("32.00"), 2, 2),
        "Downtown: shipped from there": (Decimal("20.00"), 1, 1),
        "Not allocated (delivered)": (Decimal("8.00"), 1, 1),
        "Uptown: collected there": (Decimal("20.00"), 1, 1),
        # the counter's shop, whatever stock it sold from
        "Downtown: sold at the counter": (Decimal("20.00"), 1, 2),
        "Downtown: collected there": (Decimal("15.00"), 1, 1),
    }
    keys = {row.label: row.key for row in report.rows}
    assert keys["Uptown: shipped from there"] == f"{omni['uptown'].pk}-shipped"
    assert keys["Not allocated (delivered)"] == "none"
    assert report.total.net_sales == Decimal("165.00")
    assert sum(row.total.net_sales for row in report.rows) == report.total.net_sales


def test_a_cancelled_orders_refund_counts_where_its_line_was_allocated(admin_app):
    shop = LocationFactory(code="harbour", name="Harbour", kind=Location.Kind.SHOP)
    level = StockLevelFactory(location=shop)
    cancelled, payment = order(at=at(JUNE_3, 9), lines=[(level.variant, 1, "9.00")], paid="9.00")
    allocate(cancelled, (level, 1, 1))  # released when cancelled
    refund(payment, amount="9.00", at=at(JUNE_3, 10))

    report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="location")

    assert [(row.label, row.total.net_sales, row.total.orders) for row in report.rows] == [
        ("Harbour: shipped from there", Decimal("0.00"), 1)]
    link = reports.order_list_url(basis="paid", first=JUNE_3, last=JUNE_3, dimension="location",
                                  key=f"{shop.pk}-shipped")
    assert numbers(admin_app.get(link)) == {cancelled.number}


def test_the_location_split_costs_four_queries_however_many_orders_each_location_has(
        omni, django_assert_max_num_queries):
    variant = omni["delivered"].lines.get().variant
    level = variant.stock_levels.get(location=omni["uptown"])
    for n in range(30):
        made, _ = order(at=at(JUNE_3, 14, n), lines=[(variant, 1, "3.00")], paid="3.00")
        allocate(made, (level, 1))
    with django_assert_max_num_queries(4):
        report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="location")
    row = next(row for row in report.rows if row.key == f"{omni['uptown'].pk}-shipped")
    assert (row.total.net_sales, row.total.orders) == (Decimal("122.00"), 32)


def test_click_and_collect_share(omni):
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="handover")

    rows = {row.key: (row.total.net_sales, row.total.orders) for row in report.rows}
    assert rows == {"collect": (Decimal("35.00"), 2), "delivery": (Decimal("110.00"), 4),
                    "counter": (Decimal("20.00"), 1)}
    # 35 of 165 net sales, 2 of 7 orders
    assert report.share(reports.COLLECT) == (Decimal("21.2"), Decimal("28.6"))
    assert report.share("nothing") == (Decimal("0"), Decimal("0"))


def test_the_page_shows_both_and_each_figure_leads_to_its_orders(admin_app, omni):
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "handover"})
    assert page.html.select_one("#collect-share").text.strip() == (
        "Click and collect: 21.2% of net sales and 28.6% of orders in this range.")
    collect = page.html.select_one('#sales-totals tr[data-key="collect"] td[data-figure="orders"] a')["href"]
    assert numbers(admin_app.get(collect)) == {omni["collect_up"].number, omni["collect_down"].number}

    by_location = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "location"})
    assert "collect-share" not in by_location.text
    uptown, downtown, warehouse = omni["uptown"].pk, omni["downtown"].pk, omni["warehouse"].pk
    expected = {
        f"{downtown}-counter": {"sold"},
        f"{downtown}-collect": {"collect_down"},
        f"{uptown}-collect": {"collect_up"},
        f"{uptown}-shipped": {"shipped_split", "moved"},
        f"{downtown}-shipped": {"shipped_split"},
        f"{warehouse}-shipped": {"delivered"},
        "none": {"unallocated"},
    }
    for key, names in expected.items():
        link = by_location.html.select_one(f'#sales-totals tr[data-key="{key}"] td[data-figure="orders"] a')
        assert numbers(admin_app.get(link["href"])) == {omni[name].number for name in names}, key


def test_an_older_link_by_shop_alone_still_finds_what_was_sold_or_collected_there(admin_app, omni):
    link = reports.order_list_url(basis="paid", first=JUNE_3, last=JUNE_3, dimension="location",
                                  key=str(omni["downtown"].pk))
    assert numbers(admin_app.get(link)) == {omni["sold"].number, omni["collect_down"].number}
