"""A page of charts stays under 300 KB (issue 10): the sales report for 90 days by day, on
generated sales with every figure linked (the links are most of the weight), was 480 KB."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from analytics.services import store_today
from analytics.tests.generated import generated_sales
from conftest import html_tags

BUDGET = 300 * 1024
URL = "/admin/reports/sales/"


@pytest.fixture(scope="module")
def ninety_days(django_db_setup, django_db_blocker):
    """90 store days of generated sales (about 25 orders a day over 12 categories and 60 products),
    made once for the module and removed after it."""
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            last = store_today()
            first = last - datetime.timedelta(days=89)
            made = generated_sales(first=first, last=last, per_day=25, prefix="weight")
            yield first, last, made
            transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("dimension", ["category", "product"])
def test_the_sales_report_for_90_days_by_day_weighs_under_300_kb(client, ninety_days, dimension):
    first, last, made = ninety_days
    staff = get_user_model().objects.create_user("weigher", "weigher@example.com", is_staff=True)
    # Reports and the order list's permission: every figure is a link, the heaviest page.
    staff.groups.add(*Group.objects.filter(name__in=["Reports", "Order managers"]))
    client.force_login(staff)

    response = client.get(URL, {"first": first.isoformat(), "last": last.isoformat(), "grain": "day",
                                "dimension": dimension})

    assert response.status_code == 200
    page = response.content
    # the whole report is there: a row per day, the chart's bars with their links
    assert len([row for row in html_tags(page, "tr") if (row.get("data-period") or "all") != "all"]) == 90
    assert len(html_tags(page, "rect")) > 90 * 4
    assert len(html_tags(page, "a")) > 90 * 7
    assert made.orders > 90 * 6
    print(f"{dimension}: {len(page) / 1024:.0f} KB")
    assert len(page) < BUDGET, f"{len(page) / 1024:.0f} KB for 90 days by day by {dimension}"
