"""The dashboard and the sales report in a real Chromium, as a Reports staff member reads them:
sign in, the dashboard on the back office's first page, the report, a figure through to the
orders behind it, and one of those orders."""
import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.utils import timezone

from analytics import services
from analytics.tests.helpers import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_open_the_dashboard_and_the_report_and_drill_down_to_an_order(new_page, django_user_model):
    from playwright.sync_api import expect

    # given two orders paid today and one yesterday (rolled up, as the hourly task does)
    now = timezone.now()
    today = services.store_today(now)
    start_of_today, _ = services.day_bounds(today)
    first, _payment = paid_order(at=max(start_of_today, now - datetime.timedelta(minutes=30)), total="40.00")
    second, _payment = paid_order(at=max(start_of_today, now - datetime.timedelta(minutes=20)), total="25.50",
                                  units=3)
    paid_order(at=start_of_today - datetime.timedelta(hours=2), total="12.00")
    services.rollup_day(day=today - datetime.timedelta(days=1))
    # and a staff member of Reports who may read orders (not a superuser: no authenticator code)
    user = django_user_model.objects.create_user("reader", "reader@example.com", "pw-reader-12345", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=["Reports", "Order managers"]))
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)

    # when they sign in to the back office
    admin = new_page()
    admin.goto("/admin/login/")
    admin.locator("#id_login").fill(user.email)
    admin.locator("#id_password").fill("pw-reader-12345")
    admin.get_by_role("button", name="Sign in").click()

    # then the first page is the dashboard: today's net sales are the two orders'
    expect(admin).to_have_url(re.compile(r"/admin/$"))
    today_sales = admin.locator("#period-today tr[data-figure=net_sales] td").first
    expect(today_sales).to_have_text("$65.50")
    expect(admin.locator("#period-7d tr[data-figure=orders] td").first).to_have_text("3")

    # the report, from the dashboard's list of reports
    admin.locator("#reports-nav").get_by_role("link", name="Sales over time").click()
    expect(admin.locator("h1")).to_have_text("Sales over time")
    expect(admin.locator("#sales-chart svg rect").first).to_be_visible()
    today_row = admin.locator(f'#sales-table tr[data-period="{today.isoformat()}"]')
    expect(today_row.locator('td[data-figure="orders"]')).to_have_text("2")

    # a figure through to the orders behind it: today's orders
    today_row.locator('td[data-figure="orders"] a').click()
    expect(admin).to_have_url(re.compile(r"/admin/orders/order/\?"))
    expect(admin.locator("#result_list tbody tr")).to_have_count(2)

    # and one of them opens
    admin.locator("#result_list").get_by_role("link", name=second.number).click()
    expect(admin).to_have_url(re.compile(rf"/admin/orders/order/{second.pk}/change/"))
    expect(admin.locator("#content")).to_contain_text(second.number)
    assert first.number != second.number
