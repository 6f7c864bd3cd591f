"""Sales over time: the split, the figures on hand-built data, reconciliation with the rollup,
the page and its CSV, the drill-down to the orders, who may see it, and what it costs."""
from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from analytics import reports, services
from analytics.models import DailyMetric
from analytics.reports import split_proportionally
from analytics.tests.helpers import refund
from catalog.tests.factories import BrandFactory, CategoryFactory, ProductFactory, VariantFactory
from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment, Refund

NY = ZoneInfo("America/New_York")
JUNE_1, JUNE_3, JUNE_4 = datetime.date(2024, 6, 1), datetime.date(2024, 6, 3), datetime.date(2024, 6, 4)
NOW = datetime.datetime(2024, 6, 20, 15, 0, tzinfo=NY)
URL = "/admin/reports/sales/"


# --- The split ---------------------------------------------------------------------------------


def test_split_gives_the_leftover_cents_to_the_largest_remainders():
    assert split_proportionally(Decimal("10.00"), [Decimal("3.00")] * 3) == [
        Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert split_proportionally(Decimal("30.00"), [Decimal("60.00"), Decimal("40.00")]) == [
        Decimal("18.00"), Decimal("12.00")]
    # 1.00 by 1:1:1:0 -> 0.333.. each: one extra cent, to the first of the tied remainders
    assert split_proportionally(Decimal("1.00"), [Decimal("1"), Decimal("1"), Decimal("1"), Decimal("0")]) == [
        Decimal("0.34"), Decimal("0.33"), Decimal("0.33"), Decimal("0.00")]
    assert split_proportionally(Decimal("-0.05"), [Decimal("1"), Decimal("1")]) == [Decimal("-0.03"), Decimal("-0.02")]
    assert split_proportionally(Decimal("5.00"), [Decimal("0"), Decimal("0")]) == [Decimal("2.50"), Decimal("2.50")]


def test_split_refuses_what_it_cannot_split():
    with pytest.raises(ValueError, match="whole number of cents"):
        split_proportionally(Decimal("1.005"), [Decimal("1")])
    with pytest.raises(ValueError, match="Nothing to split"):
        split_proportionally(Decimal("1.00"), [])


cents = st.integers(min_value=-10**9, max_value=10**9).map(lambda n: Decimal(n) / 100)
weights = st.lists(st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n) / 100), min_size=1, max_size=30)


@given(total=cents, weights=weights)
def test_split_parts_always_add_up_to_the_total(total, weights):
    parts = split_proportionally(total, weights)
    assert sum(parts, Decimal("0")) == total
    assert len(parts) == len(weights)
    assert all(part.as_tuple().exponent >= -2 for part in parts)
    # each part is within a cent of its exact share, and on the total's side of zero
    whole = sum(weights) or len(weights)
    for part, weight in zip(parts, weights):
        exact = total * (weight if sum(weights) else 1) / whole
        assert abs(part - exact) < Decimal("0.01")
        assert part * total >= 0


def test_buckets_cut_weeks_and_months_to_the_range():
    weeks = reports.buckets(datetime.date(2024, 5, 30), datetime.date(2024, 6, 12), reports.WEEK)
    assert [(b.first.isoformat(), b.last.isoformat()) for b in weeks] == [
        ("2024-05-30", "2024-06-02"), ("2024-06-03", "2024-06-09"), ("2024-06-10", "2024-06-12")]
    months = reports.buckets(datetime.date(2024, 1, 30), datetime.date(2024, 3, 5), reports.MONTH)
    assert [(b.first.day, b.last.day, b.label) for b in months] == [
        (30, 31, "2024-01"), (1, 29, "2024-02"), (1, 5, "2024-03")]


# --- Hand-built sales --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def order(*, at: datetime.datetime, lines: list[tuple], paid: str, country: str = "US", method: str = "Standard"):
    """An order with `lines` [(variant, quantity, line_total)], paid `paid` at `at`."""
    made = OrderFactory(total=Decimal(paid), paid_at=at, shipping_method_name=method,
                        shipping_address={"country": country} if country else {})
    for variant, quantity, line_total in lines:
        OrderLineFactory(order=made, variant=variant, product_title=variant.product.title if variant else "Gone",
                         quantity=quantity, unit_price=Decimal(line_total) / quantity, line_total=Decimal(line_total))
    payment = Payment.objects.create(order=made, provider="demo", amount=Decimal(paid), currency="USD",
                                     status=Payment.Status.SUCCEEDED, succeeded_at=at)
    return made, payment


@pytest.fixture
def sales():
    """June 3 and 4, 2024 in New York.

    o1 June 3 10:00: jacket 60.00 + 2 boots 40.00, paid 100.00; 30.00 refunded June 4 (18.00 jackets, 12.00 boots).
    o2 June 3 23:30 (June 4 in UTC): boot 3.00, clog 3.00, jacket 3.00 + shipping 1.00, paid 10.00
       (3.34 to the first line, 3.33 each to the others). Germany, Express.
    o3 June 4 00:30: jacket 25.00, paid 25.00.
    o4 June 1 (before the range): clog 50.00; 5.00 refunded June 4 (boots). A failed refund June 4.
    """
    jackets, boots = CategoryFactory(name="Jackets"), CategoryFactory(name="Boots")
    north = BrandFactory(name="North")
    jacket = VariantFactory(product=ProductFactory(title="Storm Shell", category=jackets, brand=north))
    boot = VariantFactory(product=ProductFactory(title="Hiker", category=boots, brand=north))
    clog = VariantFactory(product=ProductFactory(title="=HYPERLINK(\"http://x\")", category=boots, brand=None))
    o1, p1 = order(at=at(JUNE_3, 10), lines=[(jacket, 1, "60.00"), (boot, 2, "40.00")], paid="100.00")
    refund(p1, amount="30.00", at=at(JUNE_4, 9))
    o2, _ = order(at=at(JUNE_3, 23, 30), lines=[(boot, 1, "3.00"), (clog, 1, "3.00"), (jacket, 1, "3.00")],
                  paid="10.00", country="DE", method="Express")
    o3, _ = order(at=at(JUNE_4, 0, 30), lines=[(jacket, 1, "25.00")], paid="25.00")
    o4, p4 = order(at=at(JUNE_1, 12), lines=[(clog, 1, "50.00")], paid="50.00")
    refund(p4, amount="5.00", at=at(JUNE_4, 15))
    refund(p4, amount="7.00", at=at(JUNE_4, 16), status=Refund.Status.FAILED)
    return {"o1": o1, "o2": o2, "o3": o3, "o4": o4, "jackets": jackets, "boots": boots, "north": north,
            "clog": clog.product}


def figures(report: reports.SalesReport) -> dict:
    """{(day, label): (net sales, orders, units)} for every non-empty cell, and (day, "All")."""
    found = {}
    for i, bucket in enumerate(report.buckets):
        for row in report.rows:
            cell = row.cells[i]
            if not cell.empty:
                found[(bucket.first.day, row.label)] = (cell.net_sales, cell.orders, cell.units)
        total = report.totals[i]
        found[(bucket.first.day, "All")] = (total.net_sales, total.orders, total.units)
    return found


@pytest.mark.django_db
def test_figures_by_category_by_day_on_store_days(sales):
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_4, grain=reports.DAY, dimension="category")
    assert figures(report) == {
        (3, "Jackets"): (Decimal("63.33"), 2, 2),   # 60.00 + 3.33; o1 and o2 (23:30 in New York is still June 3)
        (3, "Boots"): (Decimal("46.67"), 2, 4),     # 40.00 + 3.34 + 3.33; 2 + 1 + 1 units
        (3, "All"): (Decimal("110.00"), 2, 6),
        (4, "Jackets"): (Decimal("7.00"), 1, 1),    # o3's 25.00 - 18.00 of o1's partial refund
        (4, "Boots"): (Decimal("-17.00"), 0, 0),    # -12.00 of o1's refund, o4's 5.00 (paid before the range)
        (4, "All"): (Decimal("-10.00"), 1, 1),      # the failed refund is not money that moved
    }
    assert report.total.net_sales == Decimal("100.00")
    assert [row.label for row in report.rows] == ["Jackets", "Boots"]  # largest net sales first
    assert report.rows[0].total.orders == 3


@pytest.mark.django_db
def test_figures_by_the_other_dimensions(sales):
    def whole(dimension):
        report = reports.sales_over_time(first=JUNE_3, last=JUNE_4, grain=reports.MONTH, dimension=dimension)
        assert len(report.buckets) == 1
        return {row.label: (row.total.net_sales, row.total.orders, row.total.units) for row in report.rows}

    assert whole("brand") == {"North": (Decimal("101.67"), 3, 6), "No brand": (Decimal("-1.67"), 1, 1)}
    assert whole("product") == {"Storm Shell": (Decimal("70.33"), 3, 3), "Hiker": (Decimal("31.34"), 2, 3),
                                '=HYPERLINK("http://x")': (Decimal("-1.67"), 1, 1)}
    assert whole("country") == {"US": (Decimal("90.00"), 2, 4), "DE": (Decimal("10.00"), 1, 3)}
    assert whole("shipping") == {"Standard": (Decimal("90.00"), 2, 4), "Express": (Decimal("10.00"), 1, 3)}
    assert whole("channel") == {"Web store": (Decimal("100.00"), 3, 7)}


@pytest.mark.django_db
def test_the_rest_of_the_values_are_one_other_row_counting_each_order_once(sales):
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_4, grain=reports.MONTH, dimension="product")
    shown, other = report.top(1)
    assert [row.label for row in shown] == ["Storm Shell"]
    # Hiker and the clog: o1 (a Hiker line) and o2 (a Hiker and a clog line: once)
    assert (other.label, other.total.net_sales, other.total.orders, other.total.units) == (
        "Other (2)", Decimal("29.67"), 2, 4)
    assert other.total.net_sales + shown[0].total.net_sales == report.total.net_sales
    assert report.top(3) == (report.rows, None)


@pytest.mark.django_db
def test_the_report_reconciles_with_the_daily_rollup(sales):
    # given more days of sales and refunds rolled up
    variant = VariantFactory()
    for n in range(12):
        day = JUNE_1 + datetime.timedelta(days=n % 6)
        _, payment = order(at=at(day, 8 + n), lines=[(variant, 1, "7.00"), (None, 2, "4.99")], paid=f"{17 + n}.31")
        if n % 3 == 0:
            refund(payment, amount="2.05", at=at(day + datetime.timedelta(days=1), 1))
    for n in range(8):
        services.rollup_day(day=JUNE_1 + datetime.timedelta(days=n))
    rolled = DailyMetric.objects.filter(day__gte=JUNE_1, day__lte=datetime.date(2024, 6, 8))
    # then each split gives the rollup's totals
    for dimension, _label in reports.DIMENSIONS:
        for grain, _name in reports.GRAINS:
            report = reports.sales_over_time(first=JUNE_1, last=datetime.date(2024, 6, 8), grain=grain,
                                             dimension=dimension)
            assert report.total.net_sales == rolled.filter(metric="net_sales").aggregate(s=Sum("value"))["s"]
            assert sum((row.total.net_sales for row in report.rows), Decimal("0")) == report.total.net_sales
            assert report.total.orders == rolled.filter(metric="orders").aggregate(s=Sum("value"))["s"]
            assert report.total.units == rolled.filter(metric="units").aggregate(s=Sum("value"))["s"]
    # and day by day
    report = reports.sales_over_time(first=JUNE_1, last=datetime.date(2024, 6, 8), grain=reports.DAY,
                                     dimension="product")
    for bucket, total in zip(report.buckets, report.totals):
        assert total.net_sales == rolled.get(day=bucket.first, metric="net_sales").value


@pytest.mark.django_db
def test_the_report_costs_four_queries_whatever_the_range(sales, django_assert_max_num_queries):
    variant = VariantFactory()
    for n in range(40):
        _, payment = order(at=at(JUNE_1 - datetime.timedelta(days=n), 9), lines=[(variant, 1, "9.00")], paid="9.00")
        refund(payment, amount="1.00", at=at(JUNE_1 - datetime.timedelta(days=n), 10))
    for first, grain in [(JUNE_4, reports.DAY), (JUNE_1 - datetime.timedelta(days=90), reports.DAY),
                         (JUNE_1 - datetime.timedelta(days=365), reports.WEEK)]:
        for dimension, _label in reports.DIMENSIONS:
            with django_assert_max_num_queries(4):
                reports.sales_over_time(first=first, last=JUNE_4, grain=grain, dimension=dimension, links=False)


# --- The page ----------------------------------------------------------------------------------


def staff(name: str, *groups: str):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def numbers(page) -> set[str]:
    return {a.get_text(strip=True) for a in page.html.select("#result_list tbody th a, #result_list tbody td a")
            if a.get_text(strip=True)}


@pytest.mark.django_db
def test_drill_down_lands_on_exactly_the_orders_behind_each_figure(admin_app, sales):
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04", "dimension": "category"})
    assert page.status_code == 200
    # the period table: a row per day, a column per category, each cell the chart's bar
    net = page.html.select_one('#sales-table tr[data-period="2024-06-04"] td[data-key="%s"]' % sales["boots"].pk)
    assert net["data-value"] == "-17.00"
    # net sales: the orders whose money moved that day with a boot line (o1's refund, o4's refund)
    orders = admin_app.get(net.select_one("a")["href"])
    assert orders.status_code == 200
    assert numbers(orders) >= {sales["o1"].number, sales["o4"].number}
    assert len(orders.html.select("#result_list tbody tr")) == 2
    # orders: jackets on June 3 (o1 at 10:00, o2 at 23:30 New York time), in the one day's report
    june_3 = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "category"})
    link = june_3.html.select_one('#sales-totals tr[data-key="%s"] td[data-figure="orders"] a' % sales["jackets"].pk)
    assert link.get_text(strip=True) == "2"
    orders = admin_app.get(link["href"])
    assert len(orders.html.select("#result_list tbody tr")) == 2
    assert {sales["o1"].number, sales["o2"].number} <= numbers(orders)
    # the whole range's total: 3 orders paid (o1, o2, o3)
    total = page.html.select_one('#sales-totals tfoot td[data-figure="orders"] a')
    assert total.get_text(strip=True) == "3"
    assert len(admin_app.get(total["href"]).html.select("#result_list tbody tr")) == 3
    # by country: Germany's net sales are o2's
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04", "dimension": "country", "grain": "month"})
    germany = page.html.select_one('#sales-totals tr[data-key="DE"] td[data-figure="net_sales"] a')
    orders = admin_app.get(germany["href"])
    assert sales["o2"].number in numbers(orders)
    assert len(orders.html.select("#result_list tbody tr")) == 1
    # by brand: the orders with a line of no brand (o2's clog, o4)
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04", "dimension": "brand", "grain": "month"})
    none = page.html.select_one('#sales-totals tr[data-key="none"] td[data-figure="net_sales"] a')
    assert len(admin_app.get(none["href"]).html.select("#result_list tbody tr")) == 2


@pytest.mark.django_db
def test_the_page_has_a_chart_with_its_table_and_works_without_parameters(admin_app, sales):
    with time_machine.travel(datetime.datetime(2024, 6, 10, 12, tzinfo=NY), tick=False):
        page = admin_app.get(URL)
    assert page.status_code == 200
    # the default: the last 30 store days by day, split by category
    assert page.forms["report-form"]["first"].value == "2024-05-12"
    assert len(page.html.select("#sales-table tbody tr")) == 30
    svg = page.html.select_one("#sales-chart svg")
    assert svg["role"] == "img" and svg["aria-labelledby"] == "sales-chart-caption"
    bars = svg.select("rect")
    assert len(bars) == 5  # June 1: boots; June 3: jackets, boots; June 4: jackets up, boots down
    assert all(bar.parent.name == "a" for bar in bars)  # each bar links to its orders


@pytest.mark.django_db
def test_a_bad_range_gets_a_clear_message(admin_app):
    page = admin_app.get(URL, {"first": "2024-06-04", "last": "2024-06-01"})
    assert "The start date is after the end date." in page.html.select_one("#report-errors").get_text()
    assert page.html.select_one("#sales-table") is None
    page = admin_app.get(URL, {"first": "2020-01-01", "last": "2024-06-01", "grain": "day"})
    assert "at most 366" in page.html.select_one("#report-errors").get_text()


@pytest.mark.django_db
def test_csv_is_the_table_with_names_made_inert(admin_app, sales):
    response = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04", "dimension": "product",
                                   "format": "csv"})
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["Period start", "Period end", "Product", "Net sales", "Orders", "Units"]
    assert ["2024-06-03", "2024-06-03", "'=HYPERLINK(\"http://x\")", "3.33", "1", "1"] in rows
    assert ["2024-06-04", "2024-06-04", "'=HYPERLINK(\"http://x\")", "-5.00", "0", "0"] in rows
    assert ["2024-06-04", "2024-06-04", "All", "-10.00", "1", "1"] in rows
    # the page links to exactly this file
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04", "dimension": "product"})
    assert admin_app.get(page.html.select_one("#csv-link")["href"]).text == response.text


@pytest.mark.django_db
def test_only_the_reports_permission_opens_the_report(django_app, sales):
    django_app.set_user(staff("support", "Support"))
    assert django_app.get("/admin/").html.select_one("#reports-salesovertime") is None
    assert django_app.get(URL, expect_errors=True).status_code == 403
    assert django_app.get(URL, {"format": "csv"}, expect_errors=True).status_code == 403
    # Reports alone: the figures, but no way into the orders (that is Support's permission)
    django_app.set_user(staff("reporter", "Reports"))
    page = django_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04"})
    assert page.html.select_one('#sales-totals tfoot td[data-figure="net_sales"]')["data-value"] == "100.00"
    assert page.html.select("#sales-table a, #sales-totals a, #sales-chart a") == []
    # the dashboard and the list of apps (and so the side bar) list the report
    index = django_app.get("/admin/")
    assert index.html.select_one("#reports-nav a")["href"] == URL
    assert index.html.select_one("#reports-salesovertime a")["href"] == URL
    # with Support too, the figures link to the orders
    django_app.set_user(staff("both", "Reports", "Support"))
    page = django_app.get(URL, {"first": "2024-06-03", "last": "2024-06-04"})
    assert page.html.select("#sales-table a")


@pytest.mark.django_db
def test_the_page_costs_the_same_queries_whatever_the_range(client, sales, django_assert_max_num_queries):
    client.force_login(staff("both", "Reports", "Support"))
    counts = []
    for params in [{"first": "2024-06-04", "last": "2024-06-04"},
                   {"first": "2023-06-05", "last": "2024-06-04", "dimension": "product"},
                   {"first": "2022-01-01", "last": "2024-06-04", "grain": "week", "dimension": "country"}]:
        with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as queries:
            assert client.get(URL, params).status_code == 200
        counts.append(len(queries))
    assert len(set(counts)) == 1, counts


@pytest.mark.django_db
def test_drill_down_by_shipping_method_includes_orders_without_one(admin_app):
    variant = VariantFactory()
    picked_up, _ = order(at=at(JUNE_3, 9), lines=[(variant, 1, "5.00")], paid="5.00", method="", country="")
    sent, _ = order(at=at(JUNE_3, 10), lines=[(variant, 1, "8.00")], paid="8.00")
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "shipping"})
    none = page.html.select_one('#sales-totals tr[data-key="none"]')
    assert none.select_one('td[data-figure="net_sales"]')["data-value"] == "5.00"
    orders = admin_app.get(none.select_one('td[data-figure="orders"] a')["href"])
    assert len(orders.html.select("#result_list tbody tr")) == 1
    assert picked_up.number in numbers(orders)
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "country"})
    orders = admin_app.get(page.html.select_one('#sales-totals tr[data-key="none"] td[data-figure="orders"] a')["href"])
    assert numbers(orders) & {picked_up.number, sent.number} == {picked_up.number}


@pytest.mark.django_db
def test_a_clock_change_day_is_one_store_day():
    # 10 March 2024: New York's clocks went forward (a 23-hour day)
    variant = VariantFactory()
    day = datetime.date(2024, 3, 10)
    order(at=at(day, 0, 30), lines=[(variant, 1, "1.00")], paid="1.00")
    order(at=at(day, 23, 30), lines=[(variant, 1, "2.00")], paid="2.00")
    order(at=at(day + datetime.timedelta(days=1), 0, 30), lines=[(variant, 1, "4.00")], paid="4.00")
    report = reports.sales_over_time(first=day - datetime.timedelta(days=1), last=day + datetime.timedelta(days=1),
                                     grain=reports.DAY, dimension="channel")
    assert [(t.net_sales, t.orders) for t in report.totals] == [
        (Decimal("0"), 0), (Decimal("3.00"), 2), (Decimal("4.00"), 1)]


@pytest.mark.django_db
def test_orders_from_another_channel_are_split_out_in_the_report_the_rollup_and_the_drill_down(admin_app):
    # given a web order and a phone order on the same day (orders carry their channel: saleschannels)
    variant = VariantFactory()
    web, _ = order(at=at(JUNE_3, 9), lines=[(variant, 1, "5.00")], paid="5.00")
    phone, phone_payment = order(at=at(JUNE_3, 10), lines=[(variant, 2, "8.00")], paid="8.00")
    Order = type(phone)
    Order.objects.filter(pk=phone.pk).update(channel_id="phone")
    refund(phone_payment, amount="3.00", at=at(JUNE_3, 11))
    # then the daily rollup keeps each channel's money, orders and units apart
    services.rollup_day(day=JUNE_3)
    rows = {(r.channel, r.metric): r.value for r in DailyMetric.objects.filter(day=JUNE_3)}
    assert rows[("web", "net_sales")] == Decimal("5.00") and rows[("phone", "net_sales")] == Decimal("5.00")
    assert rows[("phone", "refunded")] == Decimal("3.00") and rows[("web", "refunded")] == Decimal("0")
    assert (rows[("web", "orders")], rows[("phone", "orders")]) == (1, 1)
    assert (rows[("web", "units")], rows[("phone", "units")]) == (1, 2)
    # and Sales over time by channel has a row for each, named
    report = reports.sales_over_time(first=JUNE_3, last=JUNE_3, grain=reports.DAY, dimension="channel")
    assert {row.key: (row.label, row.total.net_sales, row.total.orders) for row in report.rows} == {
        "web": ("Web store", Decimal("5.00"), 1), "phone": ("Phone and back office", Decimal("5.00"), 1)}
    # and each channel's orders figure leads to that channel's order only
    page = admin_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03", "dimension": "channel"})
    orders = admin_app.get(page.html.select_one('#sales-totals tr[data-key="phone"] td[data-figure="orders"] a')["href"])
    assert numbers(orders) == {phone.number}
