"""Today on the dashboard without counting raw events on page load: money live from the ledger,
visitors and conversion from the rollup the flush task keeps (bench/analytics_events.py: at 10
million events counting a day's events cost a second or more)."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import analytics
from analytics import selectors, services, tasks
from analytics.models import DailyMetric, Event
from analytics.tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def visit(visitor: str, *names: str) -> None:
    request = RequestFactory().get("/p/x/", HTTP_COOKIE=f"sv={visitor}")
    for name in names:
        analytics.record(request, name)


def figure(period: selectors.Period, key: str) -> selectors.Figure:
    return next(f for f in period.figures if f.key == key)


def test_the_flush_task_rolls_up_today_and_the_dashboard_reads_it():
    # given two visitors today, one of whom ordered, flushed by the task
    visit("a" * 32, "product_viewed", "order_placed")
    visit("b" * 32, "product_viewed")
    assert tasks.flush_events_task() == 3
    today = services.store_today()
    assert DailyMetric.objects.get(day=today, metric="visitors").value == 2

    conversion = figure(selectors.dashboard()[0], "conversion")
    assert conversion.value == Decimal("50.00")

    # a later event counts once the next flush has rolled it up, not before
    visit("c" * 32, "product_viewed")
    Event.objects.create(name="product_viewed", visitor_id="d" * 32, occurred_at=timezone.now())
    assert figure(selectors.dashboard()[0], "conversion").value == Decimal("50.00")
    assert tasks.flush_events_task() == 1
    assert figure(selectors.dashboard()[0], "conversion").value == Decimal("25.00")  # 1 of a, b, c, d


def test_a_flush_with_nothing_to_write_rolls_nothing_up():
    assert tasks.flush_events_task() == 0
    assert not DailyMetric.objects.exists()


def test_today_s_money_is_live_even_after_the_day_was_rolled_up():
    paid_order(at=timezone.now() - datetime.timedelta(minutes=1), total="10.00")
    services.rollup_day(day=services.store_today())
    paid_order(at=timezone.now(), total="5.00")  # after the rollup
    today = selectors.dashboard()[0]
    assert figure(today, "net_sales").value == Decimal("15.00")
    assert figure(today, "orders").value == 2


def test_the_dashboard_page_reads_no_raw_event(client):
    staff = get_user_model().objects.create_user("reporter", "reporter@example.com", is_staff=True)
    staff.groups.add(Group.objects.get(name="Reports"))
    client.force_login(staff)
    visit("a" * 32, "product_viewed", "order_placed")
    tasks.flush_events_task()

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")

    assert response.status_code == 200
    assert 'data-figure="conversion"' in response.text
    assert not [q["sql"] for q in queries.captured_queries if "analytics_event" in q["sql"]]
