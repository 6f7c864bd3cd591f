"""The dashboard on the admin index: its figures, its links to the orders, who sees it, its cost."""
from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import selectors, services
from analytics.models import DailyMetric, Event
from analytics.tests.helpers import paid_order, refund
from conftest import html_tags
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
TODAY = datetime.date(2024, 6, 20)
NOW = datetime.datetime(2024, 6, 20, 15, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def at(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def days_ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


@pytest.fixture
def sales():
    """Today: 2 orders (one by a returning customer), 3 visitors of whom 1 ordered, a refund.
    3 days ago: 1 order. 10 days ago: 1 order (in the 7 days before the last 7). Past days rolled up."""
    regular = CustomerFactory()
    paid_order(at=at(days_ago(40), 12), total="5.00", customer=regular)
    _, today_payment = paid_order(at=at(TODAY, 9), total="100.00", units=2, customer=regular)
    paid_order(at=at(TODAY, 10), total="60.00", units=1, customer=CustomerFactory())
    refund(today_payment, amount="30.00", at=at(TODAY, 11))
    paid_order(at=at(days_ago(3), 12), total="40.00", units=4)
    paid_order(at=at(days_ago(10), 12), total="90.00", units=1)
    # 23:30 yesterday in New York, 03:30 UTC today: yesterday's
    paid_order(at=at(days_ago(1), 23).replace(minute=30), total="7.00", units=1)
    for visitor, name in [("a" * 32, "product_viewed"), ("a" * 32, "order_placed"), ("b" * 32, "product_viewed"),
                          ("c" * 32, "search")]:
        Event.objects.create(name=name, visitor_id=visitor, occurred_at=at(TODAY, 8))
    services.rollup_day(day=TODAY)  # today so far, as the flush task keeps it
    for n in range(1, 181):
        services.rollup_day(day=days_ago(n))


def figure(period: selectors.Period, key: str) -> selectors.Figure:
    return next(f for f in period.figures if f.key == key)


def test_every_figure_against_the_period_before(sales):
    today, week, month, quarter = selectors.dashboard(now=NOW)

    assert figure(today, "net_sales").value == Decimal("130.00")  # 160 charged - 30 refunded
    assert figure(today, "net_sales").previous == Decimal("7.00")  # yesterday, late at night
    assert figure(today, "orders").value == 2
    assert figure(today, "aov").value == Decimal("80.00")
    assert figure(today, "units").value == 3
    assert figure(today, "new_customers").value == 1
    assert figure(today, "returning_customers").value == 1
    assert figure(today, "conversion").value == Decimal("33.33")  # 1 of 3 visitors
    assert figure(today, "conversion").previous is None  # no visitors yesterday: nothing to compare

    assert figure(week, "net_sales").value == Decimal("177.00")  # today, yesterday's 7, 3 days ago's 40
    assert figure(week, "net_sales").previous == Decimal("90.00")
    assert figure(week, "net_sales").change == Decimal("96.7")
    assert figure(week, "orders").value == 4 and figure(week, "orders").previous == 1
    assert figure(week, "units").value == 8
    assert figure(week, "aov").value == Decimal("51.75")  # 207 of order value over 4 orders
    assert figure(month, "net_sales").value == Decimal("267.00")
    assert figure(month, "orders").previous == 1  # the one 40 days ago
    assert figure(quarter, "net_sales").value == Decimal("272.00")
    assert figure(quarter, "net_sales").previous == Decimal("0")

    # sparklines: today's covers the week; each period's covers its days
    assert len(today.trend_days) == 7 and today.trend_days[-1] == TODAY
    assert len(figure(month, "orders").series) == 30
    assert figure(week, "net_sales").series[-1] == Decimal("130.00")


def test_sparkline_points_fit_the_box():
    points = selectors.sparkline_points([Decimal("0"), Decimal("10"), Decimal("5")]).split()
    coordinates = [tuple(map(float, p.split(","))) for p in points]
    assert [x for x, _ in coordinates] == [0.0, 60.0, 120.0]
    assert coordinates[1][1] < coordinates[2][1] < coordinates[0][1]  # higher value, higher on screen
    assert all(0 <= y <= selectors.SPARK_HEIGHT for _, y in coordinates)
    flat = selectors.sparkline_points([Decimal("3")] * 4).split()
    assert {p.split(",")[1] for p in flat} == {"14.0"}


def reports_staff(name: str = "reporter", *, groups=("Reports",)):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def test_staff_in_reports_see_the_dashboard_and_follow_a_figure_to_its_orders(django_app, sales):
    # given a member of Reports who may also read orders (Support)
    django_app.set_user(reports_staff(groups=("Reports", "Support")))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get("/admin/")
    # then the index shows each period's table, the apps list still below it
    assert [t["id"] for t in html_tags(page.text, "table") if t.get("id", "").startswith("period-")] == [
        "period-today", "period-7d", "period-30d", "period-90d"]
    row = page.html.select_one("#period-7d tr[data-figure=net_sales]")
    assert row.select_one("td").get_text(strip=True) == "$177.00"
    assert row.select("td")[1].get_text(strip=True) == "$90.00"
    assert row.select("td")[2].get_text(strip=True) == "+96.7%"
    # each trend line is an image with a name, and its numbers are in a table
    svg = row.select_one("svg")
    assert svg["role"] == "img" and "Net sales" in svg["aria-label"]
    daily = page.html.select("#daily-7d tbody tr")
    assert len(daily) == 7
    assert daily[-1].select("td")[0].get_text(strip=True) == "$130.00"
    assert page.html.select_one("#content-main") is not None  # the apps, as before
    # when they follow "orders, last 7 days"
    link = page.html.select_one("#period-7d tr[data-figure=orders] td a")
    assert link.get_text(strip=True) == "4"
    orders = django_app.get(link["href"])
    # then the order list shows exactly the 4 orders paid in those 7 store days
    assert orders.status_code == 200
    assert len(orders.html.select("#result_list tbody tr")) == 4


def test_staff_without_the_permission_see_the_plain_index(django_app, sales):
    django_app.set_user(reports_staff("support-only", groups=("Support",)))
    page = django_app.get("/admin/")
    assert page.status_code == 200
    assert page.html.select_one("#dashboard") is None
    assert page.html.select_one("#content-main") is not None


def test_the_reports_group_exists_with_its_permissions():
    group = Group.objects.get(name="Reports")
    assert set(group.permissions.values_list("codename", flat=True)) == {"view_reports", "view_dailymetric"}


def _queries_for_dashboard(client) -> int:
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")
    assert response.status_code == 200 and b'id="dashboard"' in response.content
    return len(queries)


def test_the_dashboard_costs_the_same_queries_however_much_data(client, django_assert_max_num_queries):
    client.force_login(reports_staff())
    # given one order and a day rolled up
    paid_order(at=at(TODAY, 9), total="10.00")
    services.rollup_day(day=days_ago(1))
    few = _queries_for_dashboard(client)
    # when there are many more orders, refunds, events and 180 rolled-up days
    for n in range(30):
        _, payment = paid_order(at=at(days_ago(n % 5), 9), total="20.00", customer=CustomerFactory())
        refund(payment, amount="1.00", at=at(TODAY, 10))
        Event.objects.create(name="product_viewed", visitor_id=f"{n:032d}", occurred_at=at(TODAY, 8))
    for n in range(1, 181):
        services.rollup_day(day=days_ago(n))
    # then the page costs the same
    assert _queries_for_dashboard(client) == few
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(25):
        client.get("/admin/")
    assert DailyMetric.objects.filter(day=days_ago(180)).exists()


def test_net_sales_lead_to_the_orders_whose_money_moved_including_an_older_order_refunded_now(django_app, sales):
    # given an order paid 20 days ago and refunded today: today's net sales lose its refund
    _, old_payment = paid_order(at=at(days_ago(20), 12), total="25.00")
    refund(old_payment, amount="5.00", at=at(TODAY, 12))
    django_app.set_user(reports_staff(groups=("Reports", "Support")))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get("/admin/")
        # when staff follow today's net sales
        net = page.html.select_one("#period-today tr[data-figure=net_sales] td a")
        orders = django_app.get(net["href"])
        # and, for comparison, today's orders
        paid = django_app.get(page.html.select_one("#period-today tr[data-figure=orders] td a")["href"])
    # then the list holds the two orders paid today and the older one refunded today: the orders
    # behind the figure, not only the orders paid today
    assert len(orders.html.select("#result_list tbody tr")) == 3
    assert len(paid.html.select("#result_list tbody tr")) == 2
