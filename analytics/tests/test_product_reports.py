"""The Products report: every table on hand-built data (store days at their boundaries), the
drill-down to the orders and products behind the figures, CSV, who may see it and what it costs."""
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
from django.test.utils import CaptureQueriesContext

from analytics import product_reports, services
from analytics.models import Event, ProductDay
from carts.models import Cart, CartLine
from catalog.tests.factories import LocationFactory, ProductFactory, StockLevelFactory, VariantFactory
from orders.models import OrderEvent
from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]

NY = ZoneInfo("America/New_York")
JUNE_3, JUNE_4, JUNE_5 = datetime.date(2024, 6, 3), datetime.date(2024, 6, 4), datetime.date(2024, 6, 5)
NOW = datetime.datetime(2024, 6, 10, 12, 0, tzinfo=NY)
URL = "/admin/reports/products/"
RANGE = {"first": "2024-06-03", "last": "2024-06-04"}


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def order(*, when: datetime.datetime, lines: list[tuple]):
    """An order with `lines` [(variant, quantity, line_total)], paid in full at `when`."""
    total = sum((Decimal(t) for _v, _q, t in lines), Decimal("0"))
    made = OrderFactory(total=total, subtotal=total, paid_at=when)
    made_lines = [OrderLineFactory(order=made, variant=variant, product_title=variant.product.title, quantity=quantity,
                                   unit_price=Decimal(t) / quantity, line_total=Decimal(t))
                  for variant, quantity, t in lines]
    Payment.objects.create(order=made, provider="demo", amount=total, currency="USD",
                           status=Payment.Status.SUCCEEDED, succeeded_at=when)
    return made, made_lines


def views(product, when: datetime.datetime, count: int = 1) -> None:
    Event.objects.bulk_create(Event(name="product_viewed", occurred_at=when, visitor_id=f"{n:032x}",
                                    properties={"slug": product.slug, "product_id": product.pk}) for n in range(count))


def cart(when: datetime.datetime, *lines: tuple) -> Cart:
    made = Cart.objects.create()
    for variant, quantity in lines:
        CartLine.objects.create(cart=made, variant=variant, quantity=quantity, unit_price=variant.price)
    Cart.objects.filter(pk=made.pk).update(updated_at=when)
    return made


def search(query: str, results: int, when: datetime.datetime) -> None:
    Event.objects.create(name="search", occurred_at=when, visitor_id="f" * 32,
                         properties={"query": query, "results": results})


@pytest.fixture
def shop():
    """June 3 and 4, 2024 in New York; now is June 10, noon.

    Orders: o1 June 3 10:00 shell ×1 (60.00) + boot ×2 (40.00); o2 June 4 23:30 (June 5 in UTC)
    shell ×3 (90.00); o3 June 5 00:30 boot ×5 (50.00, after the range); o0 June 2 23:30 sock ×1.
    Views: sock 25 in the range (one at 23:50 June 4), one at 00:10 June 5 and one June 2 23:59
    (outside); shell 30; boot 5. Carts: clog in two carts (June 3, June 4), a boot in the second.
    A boot of o1 returned June 4; a shell of o1 returned June 5 (after the range).
    Searches: "Raincoat" and "raincoat" with none found, "boots" with 3, "umbrella" June 5 with none.
    Stock: shell 10 on hand, 2 reserved; boot 3 (and 100 in a closed warehouse).
    """
    shell_p, boot_p, clog_p, sock_p = (ProductFactory(title=t) for t in ("Storm Shell", "Hiker", "Clog", "=Sock()"))
    shell, boot, clog, sock = (VariantFactory(product=p, sku=f"SKU-{p.title[:4]}") for p in
                               (shell_p, boot_p, clog_p, sock_p))
    o1, (o1_shell, o1_boot) = order(when=at(JUNE_3, 10), lines=[(shell, 1, "60.00"), (boot, 2, "40.00")])
    o2, _ = order(when=at(JUNE_4, 23, 30), lines=[(shell, 3, "90.00")])
    o3, _ = order(when=at(JUNE_5, 0, 30), lines=[(boot, 5, "50.00")])
    o0, _ = order(when=at(datetime.date(2024, 6, 2), 23, 30), lines=[(sock, 1, "5.00")])
    views(sock_p, at(JUNE_3, 9), 24)
    views(sock_p, at(JUNE_4, 23, 50))
    views(sock_p, at(JUNE_5, 0, 10))
    views(sock_p, at(datetime.date(2024, 6, 2), 23, 59))
    views(shell_p, at(JUNE_3, 8), 30)
    views(boot_p, at(JUNE_4, 8), 5)
    Event.objects.create(name="added_to_cart", occurred_at=at(JUNE_3, 9, 5), visitor_id="0" * 32,
                         properties={"product_id": sock_p.pk, "variant_id": sock.pk, "quantity": 1})
    Event.objects.create(name="removed_from_cart", occurred_at=at(JUNE_4, 9), visitor_id="1" * 32,
                         properties={"product_id": clog_p.pk, "variant_id": clog.pk})
    cart(at(JUNE_3, 15), (clog, 1))
    cart(at(JUNE_4, 23, 45), (clog, 2), (boot, 1))
    cart(at(JUNE_5, 0, 15), (shell, 4))  # after the range
    for line, when in ((o1_boot, at(JUNE_4, 11)), (o1_shell, at(JUNE_5, 11))):
        made = OrderEvent.objects.create(order=o1, kind=OrderEvent.Kind.RETURN, actor=OrderEvent.Actor.STAFF,
                                         data={"lines": {str(line.pk): 1}, "restock": False, "location": None})
        OrderEvent.objects.filter(pk=made.pk).update(created_at=when)
    search("Raincoat", 0, at(JUNE_3, 10))
    search("raincoat", 0, at(JUNE_4, 23, 59))
    search("boots", 3, at(JUNE_4, 10))
    search("umbrella", 0, at(JUNE_5, 0, 1))
    warehouse, closed = LocationFactory(code="main"), LocationFactory(code="closed", is_active=False)
    StockLevelFactory(variant=shell, location=warehouse, on_hand=10, reserved=2)
    StockLevelFactory(variant=boot, location=warehouse, on_hand=3)
    StockLevelFactory(variant=boot, location=closed, on_hand=100)
    return {"o1": o1, "o2": o2, "o3": o3, "shell": shell_p, "boot": boot_p, "clog": clog_p, "sock": sock_p}


def values(table: product_reports.Table) -> list[list]:
    return [[cell.value for cell in row] for row in table.rows]


def roll_up(first=datetime.date(2024, 6, 1), last=datetime.date(2024, 6, 9)):
    day = first
    while day <= last:
        services.rollup_day(day=day)
        day += datetime.timedelta(days=1)


@pytest.fixture
def report(shop):
    roll_up()
    return product_reports.products_report(first=JUNE_3, last=JUNE_4, now=NOW)


def test_views_come_from_the_daily_rollup_and_today_live(shop):
    # given June 3 rolled up twice (idempotent) and June 4 not yet, "today" being June 4, 23:55
    product_reports.rollup_product_day(day=JUNE_3)
    product_reports.rollup_product_day(day=JUNE_3)
    services.rollup_day(day=datetime.date(2024, 6, 2))
    services.rollup_day(day=JUNE_3)
    assert ProductDay.objects.get(day=JUNE_3, product_id=shop["sock"].pk).views == 24
    found = product_reports.product_events(first=datetime.date(2024, 6, 2), last=JUNE_4, now=at(JUNE_4, 23, 55))
    # the sock: 1 view June 2 (23:59), 24 June 3, 1 June 4 at 23:50 (today, live); not June 5's
    assert found["product_viewed"][str(shop["sock"].pk)] == 26
    assert found["added_to_cart"] == {str(shop["sock"].pk): 1}
    assert found["removed_from_cart"] == {str(shop["clog"].pk): 1}
    # a day before today without a rollup is named on the report
    later = product_reports.products_report(first=datetime.date(2024, 6, 1), last=JUNE_4, now=at(JUNE_4, 23, 55))
    assert later.missing_days == [datetime.date(2024, 6, 1)]


def test_best_sellers_count_orders_paid_on_store_days(report):
    # o2 at 23:30 June 4 is in; o3 at 00:30 June 5 and o0 at 23:30 June 2 are not
    assert values(report.table("best_sellers")) == [
        ["Storm Shell", 4, Decimal("150.00"), 2],
        ["Hiker", 2, Decimal("40.00"), 1],
    ]
    assert report.best_sellers[0][:2] == ("Storm Shell", 4)


def test_most_viewed_with_low_conversion(report):
    # store average: 2 orders / 60 views; the shell converts above it, the boot has too few views
    assert values(report.table("low_conversion")) == [["=Sock()", 25, 1, 0, Decimal("0.0")]]
    assert "3.3%" in report.table("low_conversion").note


def test_most_abandoned_in_carts(report):
    assert values(report.table("abandoned")) == [["Clog", 2, 3, 1], ["Hiker", 1, 1, 0]]


def test_a_cart_is_abandoned_only_a_day_after_its_last_change(shop):
    roll_up()
    early = product_reports.products_report(first=JUNE_3, last=JUNE_4, now=at(JUNE_5, 10))
    # the June 4 23:45 cart was changed less than 24 hours before: not abandoned yet
    assert values(early.table("abandoned")) == [["Clog", 1, 1, 1]]


def test_most_returned(report):
    assert values(report.table("returned")) == [["Hiker", 1, 1, 2, Decimal("50.0")]]


def test_searches_with_no_results(report):
    rows = values(report.table("no_results"))
    assert [row[:2] for row in rows] == [["raincoat", 2]]
    assert rows[0][2].startswith("2024-06-05T03:59")  # 23:59 New York time, stored in UTC


def test_stock_cover_and_what_to_reorder(report):
    # the last 30 days to June 10, whatever the range: the sock sold 1 (June 2) and has no stock;
    # the boot 7 (3 available, the closed warehouse not counted: 12.9 days, under 14: reorder 7 - 3);
    # the shell 4 (8 available: 60 days); the clog sold none: no cover to speak of
    assert values(report.table("stock_cover")) == [
        ["SKU-=Soc", "=Sock()", 0, 1, Decimal("0.03"), Decimal("0.0")],
        ["SKU-Hike", "Hiker", 3, 7, Decimal("0.23"), Decimal("12.9")],
        ["SKU-Stor", "Storm Shell", 8, 4, Decimal("0.13"), Decimal("60.0")],
    ]
    assert values(report.table("reorder")) == [
        ["SKU-=Soc", "=Sock()", 0, 1, Decimal("0.03"), Decimal("0.0"), 1],
        ["SKU-Hike", "Hiker", 3, 7, Decimal("0.23"), Decimal("12.9"), 4],
    ]


def test_the_report_costs_a_fixed_number_of_queries(shop, django_assert_max_num_queries):
    roll_up()
    for first, last in ((JUNE_4, JUNE_4), (JUNE_3 - datetime.timedelta(days=365), datetime.date(2024, 6, 10))):
        with django_assert_max_num_queries(15):
            product_reports.products_report(first=first, last=last, now=NOW)


# --- The page ----------------------------------------------------------------------------------


def staff(name: str, *groups: str):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def listed_orders(page) -> set[str]:
    return {a.get_text(strip=True) for a in page.html.select("#result_list tbody th a, #result_list tbody td a")}


def row_of(page, table: str, heading: str):
    return next(tr for tr in page.html.select(f"#table-{table} tbody tr") if tr.th.get_text(strip=True) == heading)


@time_machine.travel(NOW, tick=False)
def test_each_figure_clicks_through_to_the_orders_or_product_behind_it(admin_app, shop):
    roll_up()
    page = admin_app.get(URL, RANGE)
    assert page.status_code == 200
    # units of the shell: o1 and o2 (o2 paid 23:30 June 4, New York)
    shell = row_of(page, "best_sellers", "Storm Shell")
    orders = admin_app.get(shell.select_one('td[data-column="1"] a')["href"])
    assert len(orders.html.select("#result_list tbody tr")) == 2
    assert {shop["o1"].number, shop["o2"].number} <= listed_orders(orders)
    # the product name opens the product
    product = admin_app.get(shell.th.a["href"])
    assert product.forms["product_form"]["title"].value == "Storm Shell"
    # returned boots: o1 (the return recorded June 4), not o3 (a boot order paid after the range)
    hiker = row_of(page, "returned", "Hiker")
    orders = admin_app.get(hiker.select_one('td[data-column="1"] a')["href"])
    assert len(orders.html.select("#result_list tbody tr")) == 1
    assert shop["o1"].number in listed_orders(orders)
    # the boots sold in the last 30 days (stock cover): o1 and o3, whatever the range picked
    hiker = row_of(page, "stock_cover", "SKU-Hike")
    orders = admin_app.get(hiker.select_one('td[data-column="3"] a')["href"])
    assert listed_orders(orders) >= {shop["o1"].number, shop["o3"].number}
    assert len(orders.html.select("#result_list tbody tr")) == 2
    # a search with no results opens the storefront's search for it
    raincoat = row_of(page, "no_results", "raincoat")
    assert raincoat.th.a["href"] == "/search/?q=raincoat"
    # the chart of best sellers links each bar to its orders, and has its table
    svg = page.html.select_one("#best-sellers-chart svg")
    assert svg["role"] == "img" and [rect.parent.name for rect in svg.select("rect")] == ["a", "a"]


@time_machine.travel(NOW, tick=False)
def test_csv_of_a_table_makes_names_inert(admin_app, shop):
    roll_up()
    page = admin_app.get(URL, RANGE)
    response = admin_app.get(page.html.select_one("#csv-low_conversion")["href"])
    assert response.content_type == "text/csv"
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["Product", "Views", "Added to cart", "Orders", "Orders per view"], ["'=Sock()", "25", "1", "0", "0.0"]]
    response = admin_app.get(page.html.select_one("#csv-reorder")["href"])
    assert list(csv.reader(io.StringIO(response.text)))[1:] == [
        ["SKU-=Soc", "'=Sock()", "0", "1", "0.03", "0.0", "1"], ["SKU-Hike", "Hiker", "3", "7", "0.23", "12.9", "4"]]
    assert admin_app.get(URL, {**RANGE, "format": "csv", "table": "nope"}, expect_errors=True).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_only_the_reports_permission_opens_the_page_and_links_follow_their_own(django_app, shop):
    roll_up()
    django_app.set_user(staff("support", "Support"))
    assert django_app.get(URL, expect_errors=True).status_code == 403
    assert django_app.get(URL, {"format": "csv", "table": "best_sellers"}, expect_errors=True).status_code == 403
    # Reports alone: the figures, no way into orders or products
    django_app.set_user(staff("reporter", "Reports"))
    page = django_app.get(URL, RANGE)
    assert row_of(page, "best_sellers", "Storm Shell").select_one('td[data-column="1"]')["data-value"] == "4"
    assert [a["href"] for a in page.html.select("#content-main table a")] == ["/search/?q=raincoat"]
    index = django_app.get("/admin/")
    assert index.html.select_one("#reports-products a")["href"] == URL
    assert URL in [a["href"] for a in index.html.select("#reports-nav a")]


def test_the_page_costs_the_same_queries_whatever_the_range(client, shop, django_assert_max_num_queries):
    roll_up()
    client.force_login(staff("reporter", "Reports", "Support"))
    counts = []
    with time_machine.travel(NOW, tick=False):
        for params in [{"first": "2024-06-04", "last": "2024-06-04"}, RANGE,
                       {"first": "2023-06-11", "last": "2024-06-09"}]:
            with django_assert_max_num_queries(20), CaptureQueriesContext(connection) as queries:
                assert client.get(URL, params).status_code == 200
            counts.append(len(queries))
    assert len(set(counts)) == 1, counts


def test_a_deleted_product_keeps_its_figures_without_a_link(shop):
    # given the sock's views rolled up, then the sock deleted
    roll_up()
    shop["sock"].delete()
    report = product_reports.products_report(first=JUNE_3, last=JUNE_4, now=NOW)
    row = report.table("low_conversion").rows[0]
    assert (row[0].shown, row[1].value, row[0].link, row[1].link) == ("Unknown (product deleted)", 25, "", "")
