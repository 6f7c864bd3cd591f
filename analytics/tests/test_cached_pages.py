"""Views of shared cached pages with the buffering as production runs it (ANALYTICS_BUFFER_EVENTS
50, ANALYTICS_BUFFER_SECONDS 2; the other analytics tests put each event in its own entry), and
Do Not Track / Global Privacy Control on those pages (docs/privacy.md)."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from analytics import recorder, services
from analytics.models import Event

pytestmark = pytest.mark.django_db

SHELL = reverse("catalog:product", args=["storm-shell"])


@pytest.fixture(autouse=True)
def _production_buffer(settings):
    settings.ANALYTICS_BUFFER_EVENTS, settings.ANALYTICS_BUFFER_SECONDS = 50, 2.0


@pytest.fixture
def web_process(monkeypatch, settings):
    """This process as a gunicorn worker: events wait in its memory, and a timer hands them over
    (the flush runs in another process, a worker, which cannot reach this one's memory)."""
    settings.ANALYTICS_BUFFER_SECONDS = 0.05
    monkeypatch.setattr(recorder, "_in_web_process", lambda: True)
    yield
    if recorder._timer is not None:
        recorder._timer.cancel()


def test_each_browser_on_a_cached_page_counts_one_view_under_its_own_visitor_id(client, storefront_catalog):
    # given the page cached by a first visitor
    first = client.get(SHELL)
    assert first["X-Cache"] == "miss"
    # when two other browsers are served the cached copy
    seconds = [Client(), Client()]
    responses = [browser.get(SHELL) for browser in seconds]

    # then each is a hit with a cookie of its own (never the first visitor's, from the shared copy)
    assert [r["X-Cache"] for r in responses] == ["hit", "hit"]
    ids = [first.cookies[recorder.VISITOR_COOKIE].value] + [r.cookies[recorder.VISITOR_COOKIE].value for r in responses]
    assert len(set(ids)) == 3
    # and the three views wait in this process until the flush hands them over and writes them
    assert cache.get(recorder.SEQ_KEY) is None
    assert services.flush_events() == 3
    views = Event.objects.filter(name="product_viewed")
    assert sorted(views.values_list("visitor_id", flat=True)) == sorted(ids)
    assert set(views.values_list("properties__product_id", flat=True)) == {storefront_catalog.shell.pk}


def test_a_web_process_hands_a_lone_cached_view_over_without_waiting_for_another_event(
    client, storefront_catalog, web_process
):
    client.get(SHELL)
    services.flush_events()  # the miss, and the page is cached
    Event.objects.all().delete()

    # a single view of the cached page, and then nothing more in this process
    assert client.get(SHELL)["X-Cache"] == "hit"
    timer = recorder._timer
    assert timer is not None
    timer.join(timeout=5)

    # the view reached the shared buffer on its own: a flush in any process writes it
    assert recorder._pending == []
    assert cache.get(recorder.SEQ_KEY) == 2
    assert services.write_events(cache.get(recorder.EVENT_KEY.format(2))) == 1
    assert Event.objects.get().name == "product_viewed"


def test_outside_a_web_process_no_timer_is_started(client, storefront_catalog):
    client.get(SHELL)
    assert len(recorder._pending) == 1
    assert recorder._timer is None or not recorder._timer.is_alive()


@pytest.mark.parametrize("header", [{"HTTP_DNT": "1"}, {"HTTP_SEC_GPC": "1"}])
def test_do_not_track_and_gpc_on_a_cached_page_record_nothing_and_set_no_cookie(client, storefront_catalog, header):
    # given the page cached for everyone by an ordinary visitor
    assert Client().get(SHELL)["X-Cache"] == "miss"
    services.flush_events()
    Event.objects.all().delete()

    # when a browser that asks not to be tracked opens it, from a campaign link too
    response = client.get(SHELL + "?utm_source=news&utm_medium=email&utm_campaign=1", **header)

    # then it is served the cached copy, gets no visitor cookie, and nothing is recorded
    assert response["X-Cache"] == "hit"
    assert recorder.VISITOR_COOKIE not in response.cookies
    assert "Set-Cookie" not in response.headers or recorder.VISITOR_COOKIE not in response.headers["Set-Cookie"]
    assert recorder._pending == []
    assert services.flush_events() == 0
    assert not Event.objects.exists()


def test_a_known_visitor_who_turns_on_do_not_track_is_no_longer_counted(client, storefront_catalog):
    client.get(SHELL)
    assert client.cookies[recorder.VISITOR_COOKIE].value
    client.get(SHELL, HTTP_DNT="1")
    client.get(reverse("catalog:search") + "?q=shell", HTTP_SEC_GPC="1")
    assert services.flush_events() == 1
