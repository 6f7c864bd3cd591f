"""Sales by shop (sold at a counter or collected there) and the click-and-collect share, on the
Sales over time page beside the channel split, with their drill-downs to the order list."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from analytics import reports
from analytics.tests.helpers import refund
from analytics.tests.test_reports import JUNE_3, URL, at, numbers, order
from catalog.models import Location
from catalog.tests.factories import LocationFactory, VariantFactory
from saleschannels.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _new_york(settings):
    settings.TIME_ZONE = "America/New_York"


@pytest.fixture
def omni():
    """June 3: a delivered web order 50.00; a click-and-collect order at Uptown 30.00 (10.00 refunded);
    a counter sale at Downtown 20.00; a click-and-collect order at Downtown 15.00."""
    uptown = LocationFactory(code="uptown", name="Uptown", kind=Location.Kind.SHOP, pickup_allowed=True)
    downtown = LocationFactory(code="downtown", name="Downtown", kind=Location.Kind.SHOP, pickup_allowed=True)
    counter, _ = Channel.objects.get_or_create(code="pos-downtown", defaults={
        "name": "Downtown counter", "kind": Channel.Kind.POS, "location": downtown})
    variant = VariantFactory()
    delivered, _ = order(at=at(JUNE_3, 9), lines=[(variant, 1, "50.00")], paid="50.00")
    collect_up, payment = order(at=at(JUNE_3, 10), lines=[(variant, 1, "30.00")], paid="30.00")
    refund(payment, amount="10.00", at=at(JUNE_3, 12))
    sold, _ = order(at=at(JUNE_3, 11), lines=[(variant, 2, "20.00")], paid="20.00")
    collect_down, _ = order(at=at(JUNE_3, 13), lines=[(variant, 1, "15.00")], paid="15.00")
    type(sold).objects.filter(pk__in=[collect_up.pk]).update(pickup_location=uptown)
    type(sold).objects.filter(pk=collect_down.pk).update(pickup_location=downtown)
    type(sold).objects.filter(pk=sold.pk).update(channel=counter, sale_location=downtown)
    return {"delivered": delivered, "collect_up": collect_up, "sold": sold, "collect_down": collect_down,
            "uptown": uptown, "downtown": downtown}


def test_sales_by_shop_put_counter_sales_and_collections_at_their_shop(omni):
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="location")

    rows = {row.label: (row.total.net_sales, row.total.orders, row.total.units) for row in report.rows}
    assert rows == {"None (delivered)": (Decimal("50.00"), 1, 1), "Downtown": (Decimal("35.00"), 2, 3),
                    "Uptown": (Decimal("20.00"), 1, 1)}
    assert report.total.net_sales == Decimal("105.00")


def test_click_and_collect_share(omni):
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="handover")

    rows = {row.key: (row.total.net_sales, row.total.orders) for row in report.rows}
    assert rows == {"collect": (Decimal("35.00"), 2), "delivery": (Decimal("50.00"), 1),
                    "counter": (Decimal("20.00"), 1)}
    # 35 of 105 net sales, 2 of 4 orders
    assert report.share(reports.COLLECT) == (Decimal("33.3"), Decimal("50.0"))
    assert report.share("nothing") == (Decimal("0"), Decimal("0"))


def test_the_page_shows_both_and_each_figure_leads_to_its_orders(admin_app, omni):
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "handover"})
    assert page.html.select_one("#collect-share").text.strip() == (
        "Click and collect: 33.3% of net sales and 50.0% of orders in this range.")
    collect = page.html.select_one('#sales-totals tr[data-key="collect"] td[data-figure="orders"] a')["href"]
    assert numbers(admin_app.get(collect)) == {omni["collect_up"].number, omni["collect_down"].number}

    by_shop = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "location"})
    downtown = by_shop.html.select_one(f'#sales-totals tr[data-key="{omni["downtown"].pk}"] td[data-figure="orders"] a')
    assert numbers(admin_app.get(downtown["href"])) == {omni["sold"].number, omni["collect_down"].number}
    delivered = by_shop.html.select_one('#sales-totals tr[data-key="none"] td[data-figure="orders"] a')
    assert numbers(admin_app.get(delivered["href"])) == {omni["delivered"].number}
    assert "collect-share" not in by_shop.text
