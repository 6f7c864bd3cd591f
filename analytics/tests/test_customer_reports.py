"""Customers report: cohorts and retention, lifetime value by cohort and by acquisition source,
RFM segments over time, on hand-built data in New York (a first order at 23:30 on the last day of
a month is that month's); the page, its CSVs, the drill-down and who may see what; its cost."""
from __future__ import annotations

import csv
import datetime
import io
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import customer_reports
from analytics.models import Event
from analytics.tests.helpers import refund
from customers.models import Customer
from customers.services.rfm import score_customers
from customers.services.stats import refresh_customer_stats
from customers.tests.factories import CustomerFactory
from marketing.tests.factories import CampaignFactory
from orders.models import Order
from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment

NY = ZoneInfo("America/New_York")
NOW = datetime.datetime(2024, 6, 20, 15, 0, tzinfo=NY)
MARCH, APRIL, MAY, JUNE = (datetime.date(2024, m, 1) for m in (3, 4, 5, 6))
URL = "/admin/reports/customers/"
MEMBERS = "/admin/reports/customers/members/"
D = Decimal


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def ny(year, month, day, hour=12, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=NY)


def bought(customer, at: datetime.datetime, total: str, **fields):
    """A paid order of `customer` placed and paid at `at` (one succeeded payment)."""
    amount = D(total)
    order = OrderFactory(customer=customer, email=customer.email, total=amount, subtotal=amount, paid_at=at,
                         payment_status=fields.pop("payment_status", Order.PaymentStatus.PAID), **fields)
    Order.objects.filter(pk=order.pk).update(created_at=at)
    OrderLineFactory(order=order, quantity=1, unit_price=amount, line_total=amount)
    payment = Payment.objects.create(order=order, provider="demo", amount=amount, currency="USD",
                                     status=Payment.Status.SUCCEEDED, succeeded_at=at)
    return order, payment


def event(name, at, *, visitor, customer=None, verified=False, source="", campaign="", **properties):
    return Event.objects.create(name=name, occurred_at=at, visitor_id=visitor, customer=customer,
                                utm_source=source, utm_medium="email" if source else "", utm_campaign=campaign,
                                utm_verified=verified, properties=properties)


@pytest.fixture
def shop():
    """ann: first order March 31 23:30 New York (April 1 in UTC): the March cohort; again in April
    and June; 10.00 of the first refunded April 2. Acquired by the "Spring sale" campaign (a signed
    click March 30; an unsigned "ad" click before it does not count).
    bob: one order March 10; his only signed click came after it: direct.
    cat: first order April 30 23:00 (May 1 in UTC): April; again May 2. Acquired by an order email,
    clicked on another browser she signed in on.
    dan: first order in February (before the range), again March 5: in no cohort, in the RFM counts.
    eve: an unpaid order and a cancelled one in March: in nothing.
    """
    ann, bob, cat, dan, eve = (CustomerFactory(email=f"{n}@example.com") for n in ("ann", "bob", "cat", "dan", "eve"))
    spring = CampaignFactory(name="Spring sale")
    a1, pay_a1 = bought(ann, ny(2024, 3, 31, 23, 30), "100.00")
    refund(pay_a1, amount="10.00", at=ny(2024, 4, 2))
    bought(ann, ny(2024, 4, 15), "50.00")
    bought(ann, ny(2024, 6, 1), "30.00")
    bought(bob, ny(2024, 3, 10), "40.00")
    bought(cat, ny(2024, 4, 30, 23, 0), "20.00")
    bought(cat, ny(2024, 5, 2), "20.00")
    bought(dan, ny(2024, 2, 10), "60.00")
    bought(dan, ny(2024, 3, 5), "25.00")
    bought(eve, ny(2024, 3, 12), "70.00", payment_status=Order.PaymentStatus.UNPAID)
    Payment.objects.filter(order__customer=eve).update(status=Payment.Status.PENDING, succeeded_at=None)
    bought(eve, ny(2024, 3, 13), "80.00", payment_status=Order.PaymentStatus.REFUNDED,
           fulfilment_status=Order.FulfilmentStatus.CANCELLED)

    event("campaign_click", ny(2024, 3, 1), visitor="v-ann", source="ad", campaign="winter")  # unsigned
    event("campaign_click", ny(2024, 3, 30), visitor="v-ann", verified=True, source="campaign", campaign=str(spring.pk))
    event("order_placed", ny(2024, 3, 31, 23, 30), visitor="v-ann", customer=ann, order_id=a1.pk)
    event("order_placed", ny(2024, 3, 10), visitor="v-bob", customer=bob)
    event("campaign_click", ny(2024, 3, 15), visitor="v-bob", verified=True, source="campaign", campaign=str(spring.pk))
    event("campaign_click", ny(2024, 4, 20), visitor="v-cat-phone", verified=True, source="order_email",
          campaign="order_confirmation")
    event("product_viewed", ny(2024, 4, 21), visitor="v-cat-phone", customer=cat)
    event("order_placed", ny(2024, 4, 30, 23), visitor="v-cat-laptop", customer=cat)
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve, "spring": spring}


def report(**kwargs):
    return customer_reports.customers_report(first=MARCH, last=JUNE, now=NOW, **kwargs)


@pytest.mark.django_db
def test_cohorts_by_first_paid_month_in_the_store_time_zone(shop):
    cohorts = {c.label: c for c in report().cohorts}
    assert list(cohorts) == ["2024-03", "2024-04", "2024-05", "2024-06"]
    march, april = cohorts["2024-03"], cohorts["2024-04"]
    assert (march.size, march.active, march.repeat) == (2, [2, 1, 0, 1], 1)
    assert march.retention == [D("100.0"), D("50.0"), D("0.0"), D("50.0")]
    assert march.repeat_rate == D("50.0")
    assert (april.size, april.active, april.repeat) == (1, [1, 1, 0], 1)
    assert (cohorts["2024-05"].size, cohorts["2024-05"].active, cohorts["2024-05"].retention) == (0, [0, 0], [None, None])


@pytest.mark.django_db
def test_lifetime_value_by_cohort_is_the_ledger_by_month(shop):
    cohorts = {c.label: c for c in report().cohorts}
    march, april = cohorts["2024-03"], cohorts["2024-04"]
    # March: ann 100 + bob 40; April: ann 50 - the 10 refunded; June: ann 30
    assert march.revenue == [D("140.00"), D("40.00"), D("0"), D("30.00")]
    assert (march.total_revenue, march.ltv) == (D("210.00"), D("105.00"))
    assert march.ltv_by_month == [D("70.00"), D("90.00"), D("90.00"), D("105.00")]
    assert (april.total_revenue, april.ltv, april.ltv_by_month) == (D("40.00"), D("40.00"),
                                                                    [D("20.00"), D("40.00"), D("40.00")])
    # a past range stops at its last month's end: the June order is not in a March-May report
    earlier = customer_reports.customers_report(first=MARCH, last=MAY, now=NOW)
    assert earlier.cohorts[0].revenue == [D("140.00"), D("40.00"), D("0")]


@pytest.mark.django_db
def test_lifetime_value_by_acquisition_source(shop):
    sources = {s.label: s for s in report().sources}
    assert set(sources) == {"Campaign: Spring sale", "Order email: order confirmation", "Direct (no campaign click)"}
    spring = sources["Campaign: Spring sale"]
    assert (spring.key, spring.customers, spring.repeat, spring.revenue, spring.ltv) == (
        f"campaign|{shop['spring'].pk}", 1, 1, D("170.00"), D("170.00"))
    email = sources["Order email: order confirmation"]
    assert (email.customers, email.revenue) == (1, D("40.00"))
    direct = sources["Direct (no campaign click)"]
    assert (direct.key, direct.customers, direct.repeat, direct.revenue) == ("direct", 1, 0, D("40.00"))
    assert [s.label for s in report().sources][0] == "Campaign: Spring sale"  # largest revenue first


@pytest.mark.django_db
def test_rfm_segments_at_each_month_end_by_the_crm_rules(shop):
    months = {m.label: m for m in report().segments}
    assert list(months) == ["2024-03", "2024-04", "2024-05", "2024-06"]
    # March 31 (midnight April 1, New York): ann (0 days, 1 order, 100), bob (22 days, 1, 40),
    # dan (27 days, 2 orders, 85): R 4/2/1, F 1/1/4, M 4/1/2 -> ann and bob new, dan at risk.
    assert months["2024-03"].counts == {"new": 2, "at_risk": 1}
    assert months["2024-03"].as_of == datetime.datetime(2024, 4, 1, tzinfo=NY)
    # the month in progress is as of now, and gives what the CRM's own scoring stores now
    assert months["2024-06"].as_of == NOW
    refresh_customer_stats()
    score_customers(now=NOW)
    stored = Counter(Customer.objects.exclude(rfm_segment="").values_list("rfm_segment", flat=True))
    assert months["2024-06"].counts == dict(stored)
    assert months["2024-06"].total == 4  # eve never paid


@pytest.mark.django_db
def test_a_closed_months_segments_are_scored_once_a_day(shop, monkeypatch):
    stored = []
    set_many = cache.set_many
    monkeypatch.setattr(cache, "set_many", lambda values, timeout: (
        stored.append(({key.split("rfm-month-end:")[1][:10] for key in values}, timeout)), set_many(values, timeout))[1])
    report()
    # an order paid in March, found later (a late manual payment): March is as it was for the day,
    # June (the month in progress) counts it at once
    bought(CustomerFactory(), ny(2024, 3, 20), "5.00")
    months = {m.label: m for m in report().segments}
    assert months["2024-03"].total == 3
    assert months["2024-06"].total == 5
    # once the entry expires (a day), March is scored again
    assert stored == [({"2024-04-01", "2024-05-01", "2024-06-01"}, 24 * 3600)]  # closed months, kept a day
    cache.clear()
    assert report().segments[0].total == 4


@pytest.mark.django_db
def test_rfm_leaves_erased_customers_out(shop):
    Customer.objects.filter(pk=shop["dan"].pk).update(erased_at=NOW)
    assert report().segments[0].counts == {"new": 2}


@pytest.mark.django_db
def test_the_report_costs_the_same_queries_whatever_the_data(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(9), CaptureQueriesContext(connection) as few:
        report()
    for n in range(15):
        customer = CustomerFactory()
        bought(customer, ny(2024, 3 + n % 3, 1 + n), "12.00")
        bought(customer, ny(2024, 6, 2), "5.00")
        event("campaign_click", ny(2024, 3, 1), visitor=f"v{n}", verified=True, source="x", campaign=f"c{n}")
        event("order_placed", ny(2024, 6, 2), visitor=f"v{n}", customer=customer)
    with CaptureQueriesContext(connection) as many:
        assert report().size == 18
    assert len(many) == len(few)


# --- The page ----------------------------------------------------------------------------------


def staff(name: str, *groups: str):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


RANGE = {"first": "2024-03", "last": "2024-06"}


@pytest.mark.django_db
def test_the_page_shows_every_table_with_its_chart(django_app, shop):
    django_app.set_user(staff("reporter", "Reports"))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get(URL, RANGE)
    html = page.html
    march = html.select_one('#cohort-table tr[data-cohort="2024-03"]')
    assert march.select_one('td[data-figure="size"]')["data-value"] == "2"
    assert [td["data-percent"] for td in march.select("td[data-month]")] == ["100.0", "50.0", "0.0", "50.0"]
    assert march.select_one('td[data-month="1"]')["class"][0].startswith("heat-")  # shaded by share (admin-reports.css)
    assert len(html.select("#retention-chart polyline")) == 2  # March and April have a month after
    assert html.select_one('#ltv-table tr[data-cohort="2024-03"] td[data-figure="ltv"]')["data-value"] == "105.00"
    assert html.select_one(f'#sources-table tr[data-source="campaign|{shop["spring"].pk}"] td[data-figure="revenue"]'
                           )["data-value"] == "170.00"
    assert html.select_one('#segments-table tr[data-month="2024-03"] td[data-figure="total"]')["data-value"] == "3"
    assert html.select("#segments-chart rect[fill]")
    # Reports alone: no customer data, so no way into the customers
    assert "You see totals only" in page.text
    assert html.select("#cohort-table a, #sources-table a") == []
    assert django_app.get(MEMBERS, {**RANGE, "cohort": "2024-03"}, expect_errors=True).status_code == 403


@pytest.mark.django_db
def test_the_page_works_without_parameters_and_refuses_a_bad_range(django_app, shop):
    django_app.set_user(staff("reporter", "Reports"))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get(URL)
        assert page.html.select_one("#id_first")["value"] == "2023-07"
        assert page.html.select_one('#cohort-table tr[data-cohort="2024-03"]')
        bad = django_app.get(URL, {"first": "2024-06", "last": "2024-03"})
        assert "The first month is after the last month." in bad.html.select_one("#report-errors").text
        long = django_app.get(URL, {"first": "2020-01", "last": "2024-06"})
        assert "at most 36" in long.html.select_one("#report-errors").text


@pytest.mark.django_db
def test_each_table_downloads_as_csv(django_app, shop):
    django_app.set_user(staff("reporter", "Reports"))
    shop["spring"].name = "=HYPERLINK(1)"
    shop["spring"].save()
    # bob came through a signed link whose source a spreadsheet would run
    event("campaign_click", ny(2024, 3, 9), visitor="v-bob", verified=True, source="=cmd()", campaign="x")

    def table(name):
        with time_machine.travel(NOW, tick=False):
            response = django_app.get(URL, {**RANGE, "format": "csv", "table": name})
        assert response.content_type == "text/csv"
        return list(csv.reader(io.StringIO(response.text)))

    cohorts = table("cohorts")
    assert cohorts[0][:4] == ["Cohort", "Customers", "Repeat customers", "Month 0"]
    assert cohorts[1] == ["2024-03", "2", "1", "2", "1", "0", "1"]
    assert table("ltv")[1] == ["2024-03", "2", "210.00", "105.00", "70.00", "90.00", "90.00", "105.00"]
    sources = {row[0]: row for row in table("sources")[1:]}
    assert sources["Campaign: =HYPERLINK(1)"][1:] == ["1", "1", "170.00", "170.00"]
    assert sources["'=cmd() / x"][1:] == ["1", "0", "40.00", "40.00"]  # a name a spreadsheet would run stays text
    segments = table("segments")
    assert segments[0][-1] == "All" and segments[1][0] == "2024-03" and segments[1][-1] == "3"
    with time_machine.travel(NOW, tick=False):
        assert django_app.get(URL, {**RANGE, "format": "csv", "table": "nope"}, expect_errors=True).status_code == 404


@pytest.mark.django_db
def test_with_the_crm_permission_a_cell_drills_down_to_its_customers(django_app, shop):
    # Support may view customers (the CRM's permission)
    django_app.set_user(staff("both", "Reports", "Support"))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get(URL, RANGE)
        cell = page.html.select_one('#cohort-table tr[data-cohort="2024-03"] td[data-month="3"] a')
        members = django_app.get(cell["href"])
        assert [tr["data-customer"] for tr in members.html.select("#members tbody tr")] == [str(shop["ann"].pk)]
        assert members.html.select_one("#members a")["href"] == f"/admin/customers/customer/{shop['ann'].pk}/change/"
        whole = page.html.select_one('#cohort-table tr[data-cohort="2024-03"] td[data-figure="size"] a')
        assert {tr["data-customer"] for tr in django_app.get(whole["href"]).html.select("#members tbody tr")} == {
            str(shop["ann"].pk), str(shop["bob"].pk)}
        direct = page.html.select_one('#sources-table tr[data-source="direct"] a')
        assert [tr["data-customer"] for tr in django_app.get(direct["href"]).html.select("#members tbody tr")] == [
            str(shop["bob"].pk)]


@pytest.mark.django_db
def test_only_the_reports_group_opens_the_page(django_app, shop):
    django_app.set_user(staff("support", "Support"))
    assert django_app.get(URL, expect_errors=True).status_code == 403
    assert django_app.get(URL, {**RANGE, "format": "csv"}, expect_errors=True).status_code == 403
    assert django_app.get(MEMBERS, {**RANGE, "cohort": "2024-03"}, expect_errors=True).status_code == 403
    assert django_app.get("/admin/").html.select_one("#reports-customers") is None
    django_app.set_user(staff("reporter", "Reports"))
    index = django_app.get("/admin/")
    assert index.html.select_one("#reports-customers a")["href"] == URL
    assert index.html.select_one(f'#reports-nav a[href="{URL}"]')


@pytest.mark.django_db
def test_the_page_costs_the_same_queries_however_many_customers(client, shop, django_assert_max_num_queries):
    client.force_login(staff("both", "Reports", "Support"))
    counts = []
    for extra in (0, 12):
        for n in range(extra):
            bought(CustomerFactory(), ny(2024, 3 + n % 4, 2), "9.00")
        with time_machine.travel(NOW, tick=False):
            with django_assert_max_num_queries(11), CaptureQueriesContext(connection) as page:
                assert client.get(URL, RANGE).status_code == 200
            with django_assert_max_num_queries(13), CaptureQueriesContext(connection) as members:
                assert client.get(MEMBERS, {**RANGE, "cohort": "2024-03"}).status_code == 200
        counts.append((len(page), len(members)))
    assert counts[0] == counts[1], counts
