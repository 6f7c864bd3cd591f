"""The events list in the admin at millions of rows: no SELECT DISTINCT or COUNT over every event
(at 10 million they took 7 s together, bench/analytics_events.py)."""
from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import admin as analytics_admin
from analytics.models import Event

pytestmark = pytest.mark.django_db
URL = "/admin/analytics/event/"


@pytest.fixture
def events():
    now = timezone.now()
    for n in range(5):
        Event.objects.create(name="search", visitor_id=f"{n:032d}", occurred_at=now - datetime.timedelta(hours=n))
    Event.objects.create(name="added_to_cart", occurred_at=now - datetime.timedelta(minutes=5))
    Event.objects.create(name="gone_event", occurred_at=now - datetime.timedelta(days=30))


def test_the_list_counts_at_most_the_cap_and_filters_by_recent_names(admin_client, events, monkeypatch):
    monkeypatch.setattr(analytics_admin, "EVENT_LIST_COUNT_CAP", 3)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 3  # of 7
    names = [choice["display"] for choice in response.context["cl"].filter_specs[0].choices(response.context["cl"])]
    assert names == ["All", "added_to_cart", "search"]  # a name not seen for a day is not offered
    event_sql = [q["sql"] for q in queries.captured_queries if "analytics_event" in q["sql"]]
    assert all("occurred_at" in sql.split("WHERE", 1)[-1] or "LIMIT" in sql for sql in event_sql), event_sql

    # any name still filters, offered while in use
    response = admin_client.get(URL, {"name": "gone_event"})
    assert [e.name for e in response.context["cl"].result_list] == ["gone_event"]
    response = admin_client.get(URL, {"name": "search"})
    assert response.context["cl"].result_count == 3  # the count stops at the cap...
    assert len(response.context["cl"].result_list) == 5  # ...the page still lists its rows
