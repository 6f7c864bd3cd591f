"""Marketing report: revenue per campaign by the last verified click within the window, on
hand-built data in New York (an order paid at 23:30 on the range's last day is in it, one paid at
23:30 the evening before its first day is not); the page with its rule, CSV, the click-through to
the orders, who may see what, and what it costs."""
from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import attribution
from analytics.tests.helpers import refund
from analytics.tests.test_customer_reports import NY, bought, event, ny, staff
from customers.tests.factories import CustomerFactory
from marketing.models import Campaign
from marketing.tests.factories import CampaignFactory

D = Decimal
JUNE_1, JUNE_20 = datetime.date(2024, 6, 1), datetime.date(2024, 6, 20)
NOW = datetime.datetime(2024, 6, 21, 9, 0, tzinfo=NY)
URL = "/admin/reports/marketing/"
ORDERS = "/admin/reports/marketing/orders/"
RANGE = {"first": "2024-06-01", "last": "2024-06-20"}


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"
    settings.ANALYTICS_ATTRIBUTION_WINDOW_DAYS = 7


def placed(customer, at, total, *, visitor, paid_at=None):
    order, payment = bought(customer, at, total)
    if paid_at:
        type(order).objects.filter(pk=order.pk).update(paid_at=paid_at)
    event("order_placed", at, visitor=visitor, customer=customer, order_id=order.pk)
    return order, payment


def sent(name: str, at: datetime.datetime) -> Campaign:
    campaign = CampaignFactory(name=name)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT, sent_at=at)
    return campaign


@pytest.fixture
def clicks():
    """Summer (sent June 2) and Spring (sent in May), Quiet (sent June 5, no clicks):

    o1 (v1) clicked Summer June 3, Spring June 4, ordered June 5: Spring (the last click); 80.00,
       20.00 refunded: 60.00.
    o2 (v2) clicked Summer June 1 09:00, ordered June 9 09:01: 8 days, outside 7: not attributed.
    o3 (v3) an unsigned Summer click June 10, ordered the same day: not attributed.
    o4 the customer clicked Summer signed in on a phone June 11, ordered on a laptop June 12: Summer.
    o5 (v5) clicked an order email June 19, ordered June 20 23:30 (June 21 in UTC): order email.
    o6 (v6) clicked Summer May 31, ordered and paid May 31 23:30 (June 1 in UTC): before the range.
    """
    summer, spring = sent("Summer", ny(2024, 6, 2)), sent("Spring", ny(2024, 5, 2))
    quiet = sent("Quiet", ny(2024, 6, 5))
    shopper = CustomerFactory()
    s, p = str(summer.pk), str(spring.pk)
    event("campaign_click", ny(2024, 6, 3), visitor="v1", verified=True, source="campaign", campaign=s)
    event("campaign_click", ny(2024, 6, 4), visitor="v1", verified=True, source="campaign", campaign=p)
    o1, pay1 = placed(CustomerFactory(), ny(2024, 6, 5), "80.00", visitor="v1")
    refund(pay1, amount="20.00", at=ny(2024, 6, 25))
    event("campaign_click", ny(2024, 6, 1, 9), visitor="v2", verified=True, source="campaign", campaign=s)
    o2, _ = placed(CustomerFactory(), ny(2024, 6, 9, 9, 1), "40.00", visitor="v2")
    event("campaign_click", ny(2024, 6, 10), visitor="v3", source="campaign", campaign=s)
    o3, _ = placed(CustomerFactory(), ny(2024, 6, 10, 13), "30.00", visitor="v3")
    event("campaign_click", ny(2024, 6, 11), visitor="v4-phone", customer=shopper, verified=True, source="campaign",
          campaign=s)
    o4, _ = placed(shopper, ny(2024, 6, 12), "50.00", visitor="v4-laptop")
    event("campaign_click", ny(2024, 6, 19), visitor="v5", verified=True, source="order_email", campaign="order_shipped")
    o5, _ = placed(CustomerFactory(), ny(2024, 6, 20, 23, 30), "15.00", visitor="v5")
    event("campaign_click", ny(2024, 5, 31), visitor="v6", verified=True, source="campaign", campaign=s)
    o6, _ = placed(CustomerFactory(), ny(2024, 5, 31, 23, 30), "99.00", visitor="v6")
    return {"summer": summer, "spring": spring, "quiet": quiet,
            "orders": {"o1": o1, "o2": o2, "o3": o3, "o4": o4, "o5": o5, "o6": o6}}


def by_label(report):
    return {row.label: (row.clicks, row.orders, row.revenue) for row in report.rows}


@pytest.mark.django_db
def test_each_order_goes_to_the_last_verified_click_within_the_window(clicks):
    with time_machine.travel(NOW, tick=False):
        report = attribution.marketing_report(first=JUNE_1, last=JUNE_20)
    assert by_label(report) == {
        "Campaign: Spring": (1, 1, D("60.00")),
        "Campaign: Summer": (3, 1, D("50.00")),  # three signed clicks in June (v1, v2, the phone)
        "Order email: order shipped": (1, 1, D("15.00")),
        "Campaign: Quiet": (0, 0, D("0")),  # sent in the range: shown with nothing
    }
    assert (report.not_attributed.orders, report.not_attributed.revenue) == (2, D("70.00"))
    # one order, one campaign: everything paid in the range, o6 (paid May 31 in New York) not
    assert (report.total_orders, report.total_revenue) == (5, D("195.00"))
    assert {o.order_id for o in report.orders_of("")} == {clicks["orders"]["o2"].pk, clicks["orders"]["o3"].pk}
    assert report.orders_of(f"campaign|{clicks['summer'].pk}")[0].clicked_at == ny(2024, 6, 11)
    assert [row.label for row in report.rows][:2] == ["Campaign: Spring", "Campaign: Summer"]


@pytest.mark.django_db
def test_the_window_is_a_setting(clicks, settings):
    settings.ANALYTICS_ATTRIBUTION_WINDOW_DAYS = 10
    report = attribution.marketing_report(first=JUNE_1, last=JUNE_20)
    assert by_label(report)["Campaign: Summer"] == (3, 2, D("90.00"))  # o2's 8-day-old click now counts
    settings.ANALYTICS_ATTRIBUTION_WINDOW_DAYS = 0
    assert attribution.marketing_report(first=JUNE_1, last=JUNE_20).not_attributed.orders == 5


@pytest.mark.django_db
def test_the_report_costs_five_queries_whatever_the_orders(clicks, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        attribution.marketing_report(first=JUNE_1, last=JUNE_20)
    with django_assert_max_num_queries(5):
        attribution.marketing_report(first=datetime.date(2023, 1, 1), last=datetime.date(2023, 1, 31))


@pytest.mark.django_db
def test_the_page_states_the_rule_and_links_each_campaign_to_its_orders(django_app, clicks):
    django_app.set_user(staff("both", "Reports", "Support"))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get(URL, RANGE)
        rule = page.html.select_one("#attribution-rule").text
        assert "last campaign click" in rule and "7 days" in rule and "signed" in rule
        row = page.html.select_one(f'#campaigns-table tr[data-campaign="campaign|{clicks["summer"].pk}"]')
        assert row.select_one('td[data-figure="revenue"]')["data-value"] == "50.00"
        assert row.select_one("th a")["href"] == f"/admin/marketing/campaign/{clicks['summer'].pk}/change/"
        listed = django_app.get(row.select_one('td[data-figure="orders"] a')["href"])
        assert [tr["data-order"] for tr in listed.html.select("#attributed-orders tbody tr")] == [
            str(clicks["orders"]["o4"].pk)]
        order_page = listed.click(href=f"/admin/orders/order/{clicks['orders']['o4'].pk}/change/")
        assert clicks["orders"]["o4"].number in order_page.text
        none = page.html.select_one('#campaigns-table tfoot tr[data-campaign=""] a')
        listed = django_app.get(none["href"])
        assert {tr["data-order"] for tr in listed.html.select("#attributed-orders tbody tr")} == {
            str(clicks["orders"]["o2"].pk), str(clicks["orders"]["o3"].pk)}
        total = page.html.select_one('#campaigns-table tr[data-campaign="all"] td[data-figure="revenue"]')
        assert total["data-value"] == "195.00"


@pytest.mark.django_db
def test_csv_is_the_table(django_app, clicks):
    django_app.set_user(staff("reporter", "Reports"))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get(URL, RANGE)
        response = django_app.get(page.html.select_one("#csv-link")["href"])
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["Campaign", "utm_source", "utm_campaign", "Clicks", "Orders", "Revenue"]
    assert rows[1] == ["Campaign: Spring", "campaign", str(clicks["spring"].pk), "1", "1", "60.00"]
    assert rows[-1] == ["Not attributed", "", "", "", "2", "70.00"]


@pytest.mark.django_db
def test_who_may_see_the_report_and_its_orders(django_app, clicks):
    django_app.set_user(staff("support", "Support"))
    assert django_app.get(URL, expect_errors=True).status_code == 403
    assert django_app.get(ORDERS, {**RANGE, "campaign": ""}, expect_errors=True).status_code == 403
    django_app.set_user(staff("reporter", "Reports"))
    with time_machine.travel(NOW, tick=False):
        page = django_app.get(URL, RANGE)
    assert page.html.select('#campaigns-table td a') == []  # no order permission: figures only
    assert django_app.get(ORDERS, {**RANGE, "campaign": ""}, expect_errors=True).status_code == 403
    assert django_app.get("/admin/").html.select_one("#reports-marketing a")["href"] == URL


@pytest.mark.django_db
def test_the_page_costs_the_same_queries_whatever_the_range(client, clicks, django_assert_max_num_queries):
    client.force_login(staff("both", "Reports", "Support"))
    counts = []
    for params in (RANGE, {"first": "2023-07-01", "last": "2024-06-20"}):
        with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(12), \
                CaptureQueriesContext(connection) as queries:
            assert client.get(URL, params).status_code == 200
        counts.append(len(queries))
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(12):
        assert client.get(ORDERS, {**RANGE, "campaign": ""}).status_code == 200
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_a_bad_range_gets_a_clear_message(django_app):
    django_app.set_user(staff("reporter", "Reports"))
    page = django_app.get(URL, {"first": "2024-06-20", "last": "2024-06-01"})
    assert "The start date is after the end date." in page.html.select_one("#report-errors").text
    page = django_app.get(URL, {"first": "2022-01-01", "last": "2024-06-01"})
    assert "At most 366 days" in page.html.select_one("#report-errors").text
