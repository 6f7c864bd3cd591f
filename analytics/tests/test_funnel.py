"""The funnel: checkout events, sessions on hand-built events (store days, the 30-minute gap, the
paid step), the daily rollup, the report and its page, CSV, who may see it and what it costs."""
from __future__ import annotations

import csv
import datetime
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import funnel, services
from analytics.models import Event, FunnelDay
from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
UTC = datetime.UTC
JUNE_3, JUNE_4 = datetime.date(2024, 6, 3), datetime.date(2024, 6, 4)
URL = "/admin/reports/funnel/"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def event(visitor: str, name: str, when: datetime.datetime, *, device: str = "desktop", **properties) -> Event:
    return Event.objects.create(name=name, occurred_at=when, visitor_id=visitor * 32 if len(visitor) == 1 else visitor,
                                device=device, properties=properties)


def steps(found: dict, channel: str = "web", device: str = "desktop") -> list[int]:
    return found.get((channel, device), funnel.Steps()).values()


@pytest.fixture
def june():
    """Hand-built visits on June 3 and 4, 2024 (New York).

    a (desktop), June 3: views at 10:00, adds 10:05, checks out 10:10, places a paid order 10:15;
       back at 11:00 (45 minutes later: a second session) for a listing.
    b (mobile), June 3: a view at 23:50 and an add at 00:10 on June 4 (both June 4 in UTC): one
       session each day, the add on June 4's.
    c (mobile), June 3: a view, checkout, an order placed but never paid.
    d (tablet), June 4 00:30: a search only. A payment webhook's order_paid (no visitor) counts no session.
    """
    paid = OrderFactory(paid_at=at(JUNE_3, 10, 16))
    unpaid = OrderFactory(paid_at=None)
    event("a", "product_viewed", at(JUNE_3, 10), product_id=1)
    event("a", "added_to_cart", at(JUNE_3, 10, 5), product_id=1)
    event("a", "checkout_started", at(JUNE_3, 10, 10))
    event("a", "checkout_step", at(JUNE_3, 10, 11), step="details")
    event("a", "order_placed", at(JUNE_3, 10, 15), order_id=paid.pk)
    event("a", "listing_viewed", at(JUNE_3, 11), path="shoes")
    event("b", "product_viewed", at(JUNE_3, 23, 50), device="mobile", product_id=2)
    event("b", "added_to_cart", at(JUNE_4, 0, 10), device="mobile", product_id=2)
    event("c", "product_viewed", at(JUNE_3, 12), device="mobile", product_id=2)
    event("c", "checkout_started", at(JUNE_3, 12, 5), device="mobile")
    event("c", "order_placed", at(JUNE_3, 12, 9), device="mobile", order_id=unpaid.pk)
    event("d", "search", at(JUNE_4, 0, 30), device="tablet", query="boots", results=0)
    Event.objects.create(name="order_paid", occurred_at=at(JUNE_3, 10, 16), visitor_id="", device="desktop",
                         properties={"order_id": paid.pk})
    return {"paid": paid, "unpaid": unpaid}


# --- Events ------------------------------------------------------------------------------------


def test_every_checkout_step_is_recorded_with_device_and_channel(client, storefront_catalog):
    variant = storefront_catalog.shell_red_s
    client.post(reverse("carts:add"), {"product": variant.product_id, "variant": variant.pk, "quantity": 1},
                HTTP_USER_AGENT=PHONE)
    client.get(reverse("checkout:details"), HTTP_USER_AGENT=PHONE)
    services.flush_events()
    rows = list(Event.objects.order_by("occurred_at", "pk").values_list("name", "properties", "device", "channel"))
    assert rows == [
        ("added_to_cart", {"product_id": variant.product_id, "variant_id": variant.pk, "quantity": 1}, "mobile", "web"),
        ("checkout_started", {}, "mobile", "web"),
        ("checkout_step", {"step": "details"}, "mobile", "web"),
    ]


def test_an_order_paid_takes_the_device_of_the_browser_that_placed_it():
    # given an order placed from a phone, already written, and one placed from a tablet in the same batch
    event("a", "order_placed", at(JUNE_3, 10), device="mobile", order_id=7)
    batch = [
        {"uid": "1" * 32, "name": "order_placed", "at": at(JUNE_3, 11).isoformat(), "visitor": "b" * 32,
         "device": "tablet", "properties": {"order_id": 8}},
        {"uid": "2" * 32, "name": "order_paid", "at": at(JUNE_3, 11, 1).isoformat(), "properties": {"order_id": 7}},
        {"uid": "3" * 32, "name": "order_paid", "at": at(JUNE_3, 11, 2).isoformat(), "properties": {"order_id": 8}},
        {"uid": "4" * 32, "name": "order_paid", "at": at(JUNE_3, 11, 3).isoformat(), "properties": {"order_id": 9}},
    ]
    # when the batch is written
    services.write_events(batch)
    # then each payment carries its placing browser's device, never its visitor
    paid = {e.properties["order_id"]: (e.device, e.channel, e.visitor_id) for e in Event.objects.filter(name="order_paid")}
    assert paid == {7: ("mobile", "web", ""), 8: ("tablet", "web", ""), 9: ("", "web", "")}


# --- Sessions on hand-built events -------------------------------------------------------------


def test_sessions_and_steps_of_a_store_day(june):
    found = funnel.day_sessions(JUNE_3)
    # a: two sessions (a 45-minute pause), the first reaching every step and paid
    assert steps(found, device="desktop") == [2, 1, 1, 1, 1]
    # b's 23:50 view (June 4 in UTC) and c's unpaid order: mobile, no add to cart on June 3
    assert steps(found, device="mobile") == [2, 2, 0, 1, 0]
    assert set(found) == {("web", "desktop"), ("web", "mobile")}


def test_a_session_is_cut_at_the_store_s_midnight_not_utc_s(june):
    found = funnel.day_sessions(JUNE_4)
    # b's add at 00:10 is a new session on June 4; d's search; no product view
    assert steps(found, device="mobile") == [1, 0, 1, 0, 0]
    assert steps(found, device="tablet") == [1, 0, 0, 0, 0]
    # in UTC, b's view and add (03:50 and 04:10 UTC) would have been one June 4 session with a view
    assert (Event.objects.get(name="product_viewed", visitor_id="b" * 32).occurred_at.astimezone(UTC).date()
            == JUNE_4)


def test_the_rollup_replaces_a_day_and_a_late_payment_counts_when_the_day_is_redone(june):
    services.rollup_day(day=JUNE_3)
    services.rollup_day(day=JUNE_3)
    rows = {(r.device, r.sessions, r.product_views, r.carts, r.checkouts, r.paid) for r in FunnelDay.objects.filter(day=JUNE_3)}
    assert rows == {("desktop", 2, 1, 1, 1, 1), ("mobile", 2, 2, 0, 1, 0)}
    # c pays later: redoing the day (the hourly rollup redoes yesterday) counts it
    june["unpaid"].paid_at = at(JUNE_4, 1)
    june["unpaid"].save(update_fields=["paid_at"])
    services.rollup_day(day=JUNE_3)
    assert FunnelDay.objects.get(day=JUNE_3, device="mobile").paid == 1


def test_a_day_without_visits_is_rolled_up_as_zeros():
    funnel.rollup_funnel_day(day=JUNE_3)
    assert list(FunnelDay.objects.values_list("day", "channel", "device", "sessions")) == [(JUNE_3, "web", "", 0)]


def test_days_without_funnel_rows_are_backfilled(june):
    # given June 3 rolled up before the funnel existed (its daily figures, no funnel rows)
    services.rollup_day(day=JUNE_3)
    FunnelDay.objects.all().delete()
    # when the hourly rollup runs on June 5
    done = services.rollup_recent(now=at(datetime.date(2024, 6, 5), 9), backfill_days=3)
    # then June 3 is done again, funnel included
    assert JUNE_3 in done
    assert FunnelDay.objects.filter(day=JUNE_3).exists()


# --- The report --------------------------------------------------------------------------------


def test_the_report_adds_rolled_up_days_and_today_live(june):
    services.rollup_day(day=JUNE_3)
    with time_machine.travel(at(JUNE_4, 9), tick=False):
        report = funnel.funnel_report(first=datetime.date(2024, 6, 2), last=JUNE_4)
    assert report.total.steps.values() == [2 + 2 + 2, 1 + 2, 1 + 1, 1 + 1, 1]
    assert report.missing_days == [datetime.date(2024, 6, 2)]
    figures = {f.key: (f.count, f.of_sessions, f.drop_off) for f in report.total.figures}
    assert figures["sessions"][2] is None
    assert figures["product_views"] == (3, 50, 50)
    assert str(figures["paid"][1]) == "16.7" and str(figures["paid"][2]) == "50.0"
    assert [(s.key, s.steps.sessions) for s in report.devices] == [("mobile", 3), ("tablet", 1), ("desktop", 2)]
    assert [(s.key, s.steps.sessions) for s in report.channels] == [("web", 6)]
    mobile = {f.key: f.drop_off for f in report.devices[0].figures}
    assert mobile["carts"] == 50 and str(mobile["checkouts"]) == "0.0"


# --- The page ----------------------------------------------------------------------------------


def staff(name: str, *groups: str):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def test_the_page_shows_each_chart_with_its_table(django_app, june):
    services.rollup_day(day=JUNE_3)
    django_app.set_user(staff("reporter", "Reports"))
    page = django_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03"})
    assert page.status_code == 200
    for chart, table in [("funnel-chart", "funnel-table"), ("device-chart", "device-table"),
                         ("channel-chart", "channel-table")]:
        svg = page.html.select_one(f"#{chart} svg")
        assert svg["role"] == "img" and svg["aria-labelledby"] == f"{chart}-caption"
        assert page.html.select_one(f"#{table}") is not None
    assert len(page.html.select("#funnel-chart rect")) == 5
    assert len(page.html.select("#device-chart rect")) == 10  # desktop and mobile
    row = {td["data-step"]: (td["data-value"], td["data-drop-off"])
           for td in page.html.select('#device-table tr[data-segment="desktop"] td')}
    assert row == {"sessions": ("2", ""), "product_views": ("1", "50.0"), "carts": ("1", "0.0"),
                   "checkouts": ("1", "0.0"), "paid": ("1", "0.0")}
    assert page.html.select_one("#missing-days") is None
    # more sessions checked out (2) than added to cart (1): said as a gain, not hidden
    checkouts = page.html.select_one('#funnel-table td[data-step="checkouts"]')
    assert checkouts["data-drop-off"] == "-100.0"
    assert "100.0% more than the step before" in checkouts.get_text(" ", strip=True)


def test_csv_holds_every_segment_and_step(django_app, june):
    services.rollup_day(day=JUNE_3)
    django_app.set_user(staff("reporter", "Reports"))
    page = django_app.get(URL, {"first": "2024-06-03", "last": "2024-06-03"})
    response = django_app.get(page.html.select_one("#csv-link")["href"])
    assert response.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:5] == ["From", "To", "Split", "Segment", "Step"]
    assert ["2024-06-03", "2024-06-03", "All", "All sessions", "Paid", "1", "25.0", "50.0"] in rows
    assert ["2024-06-03", "2024-06-03", "Device", "Mobile", "Added to cart", "0", "0.0", "100.0"] in rows
    assert len(rows) == 1 + 5 * (1 + 2 + 1)


def test_a_bad_range_gets_a_clear_message(admin_app):
    page = admin_app.get(URL, {"first": "2024-06-04", "last": "2024-06-01"})
    assert "The start date is after the end date." in page.html.select_one("#report-errors").get_text()
    page = admin_app.get(URL, {"first": "2020-01-01", "last": "2024-06-01"})
    assert "At most 366 days" in page.html.select_one("#report-errors").get_text()
    assert page.html.select_one("#funnel-table") is None


def test_only_the_reports_permission_opens_the_funnel(django_app):
    django_app.set_user(staff("support", "Support"))
    assert django_app.get(URL, expect_errors=True).status_code == 403
    assert django_app.get(URL, {"format": "csv"}, expect_errors=True).status_code == 403
    assert django_app.get("/admin/").html.select_one("#reports-funnel") is None
    django_app.set_user(staff("reporter", "Reports"))
    index = django_app.get("/admin/")
    assert index.html.select_one("#reports-funnel a")["href"] == URL
    assert URL in [a["href"] for a in index.html.select("#reports-nav a")]
    assert django_app.get(URL).status_code == 200


def test_the_page_costs_the_same_queries_whatever_the_range(client, june, django_assert_max_num_queries):
    for n in range(10):
        services.rollup_day(day=JUNE_3 - datetime.timedelta(days=n))
    client.force_login(staff("reporter", "Reports"))
    counts = []
    with time_machine.travel(at(JUNE_4, 9), tick=False):
        for params in [{"first": "2024-06-04", "last": "2024-06-04"}, {"first": "2024-05-20", "last": "2024-06-04"},
                       {"first": "2023-06-05", "last": "2024-06-04"}]:
            with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as queries:
                assert client.get(URL, params).status_code == 200
            counts.append(len(queries))
    assert len(set(counts)) == 1, counts


# --- The rules combined ------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Minutes from June 3 20:00 New York (June 4 00:00 UTC) over the next eight hours: midnight in New
# York falls inside, at minute 240.
START = at(JUNE_3, 20)
# Five-minute steps, so gaps of exactly 30 minutes (still one session) come up often.
visits = st.lists(st.tuples(st.sampled_from("abc"), st.integers(min_value=0, max_value=96).map(lambda n: n * 5),
                            st.sampled_from(["listing_viewed", "product_viewed", "added_to_cart", "checkout_started"])),
                  max_size=25)


def reference_sessions(events) -> dict[datetime.date, int]:
    """Sessions per store day, written out the plain way: per visitor, in time order, a new session
    after more than 30 minutes or on a new New York day."""
    found: dict[datetime.date, int] = {}
    for visitor in {v for v, _m, _n in events}:
        times = sorted(START + datetime.timedelta(minutes=m) for v, m, _n in events if v == visitor)
        for i, when in enumerate(times):
            before = times[i - 1] if i else None
            if (before is None or when - before > funnel.SESSION_GAP
                    or before.astimezone(NY).date() != when.astimezone(NY).date()):
                found[when.astimezone(NY).date()] = found.get(when.astimezone(NY).date(), 0) + 1
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=visits)
def test_sessions_follow_the_gap_and_the_store_s_midnight(events):
    Event.objects.all().delete()
    for visitor, minutes, name in events:
        event(visitor, name, START + datetime.timedelta(minutes=minutes))
    expected = reference_sessions(events)
    for day in (JUNE_3, JUNE_4):
        found = funnel.day_sessions(day)
        sessions = sum(s.sessions for s in found.values())
        assert sessions == expected.get(day, 0)
        # no step is reached by more sessions than there are
        for steps_of in found.values():
            assert all(count <= steps_of.sessions for count in steps_of.values())
