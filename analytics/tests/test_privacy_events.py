"""A customer's storefront events are in "Download my data" and go with an erasure, buffered ones too."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from analytics import recorder, services
from analytics.models import Event
from customers.services.data_export import export_customer_data
from customers.services.privacy import erase_customer
from customers.tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def shopper(username: str):
    user = UserFactory(username=username)
    return CustomerFactory(user=user, email=user.email)


def browser_request(visitor: str, *, user=None, query: str = ""):
    """A request from a browser whose visitor cookie is `visitor`, signed in as `user` if given."""
    request = RequestFactory().get(f"/p/lantern/{query}", HTTP_USER_AGENT=BROWSER)
    request.COOKIES[recorder.VISITOR_COOKIE] = visitor
    if user is not None:
        request._cached_user = user  # what the auth middleware leaves once something asked
    return request


ADA_BROWSER, SHARED_BROWSER, STRANGER = "a" * 32, "b" * 32, "c" * 32


@pytest.fixture
def histories():
    """Ada browsed anonymously and then signed in on her laptop, and signed in once on a browser
    she shares with Bob, who also signed in there; a stranger browsed too. All flushed."""
    ada, bob = shopper("ada"), shopper("bob")
    recorder.record(browser_request(ADA_BROWSER, query="?utm_source=news"), "product_viewed", slug="lantern")
    recorder.record(browser_request(ADA_BROWSER, user=ada.user), "added_to_cart", product_id=1)
    recorder.record(browser_request(SHARED_BROWSER, user=ada.user), "search", query="lanterns")
    recorder.record(browser_request(SHARED_BROWSER, user=bob.user), "search", query="bob's secret")
    recorder.record(browser_request(STRANGER), "product_viewed", slug="tent")
    assert services.flush_events() == 5
    return ada, bob


def test_the_export_holds_the_customers_events_and_their_browsers_but_not_another_customers(histories):
    ada, _bob = histories

    events = export_customer_data(customer=ada)["storefront_events"]

    assert sorted((e["event"], e["visitor_id"], e["signed_in"]) for e in events) == [
        ("added_to_cart", ADA_BROWSER, True),
        ("product_viewed", ADA_BROWSER, False),  # before she signed in, on her browser
        ("search", SHARED_BROWSER, True),
    ]
    viewed = next(e for e in events if e["event"] == "product_viewed")
    assert viewed["utm_source"] == "news" and viewed["details"] == {"slug": "lantern"}
    assert "bob's secret" not in str(events)


def test_erasure_leaves_no_event_linked_to_the_person_or_their_visitor_ids(histories):
    ada, bob = histories

    erase_customer(customer=ada, actor=None)

    assert not Event.objects.filter(customer=ada).exists()
    assert not Event.objects.filter(visitor_id=ADA_BROWSER).exists()
    # the shared browser keeps Bob's own event; the stranger's is untouched
    assert list(Event.objects.filter(visitor_id=SHARED_BROWSER).values_list("customer", "name")) == [(bob.pk, "search")]
    assert Event.objects.filter(visitor_id=STRANGER).count() == 1


def test_events_still_in_the_buffer_at_erasure_are_deleted_with_the_rest(histories):
    ada, _bob = histories
    recorder.record(browser_request(ADA_BROWSER, user=ada.user), "checkout_started")  # not flushed yet

    erase_customer(customer=ada, actor=None)
    services.flush_events()

    assert not Event.objects.filter(visitor_id=ADA_BROWSER).exists()
    assert not Event.objects.filter(customer=ada).exists()


def test_a_buffered_event_flushed_after_the_erasure_is_not_relinked(histories):
    """Events another process was still holding, or that sat in the buffer while a flush held
    the lock, reach the flush after the erasure: they are dropped, not written."""
    ada, _bob = histories
    late_signed_in = recorder.build_event(browser_request(ADA_BROWSER, user=ada.user), "added_to_cart", {"product_id": 2})
    late_anonymous = recorder.build_event(browser_request(ADA_BROWSER), "product_viewed", {"slug": "tent"})
    late_order = recorder.build_event(None, "order_placed", {"order_id": 9, "customer_id": ada.pk})
    user_id = ada.user_id
    cache.add(services.LOCK_KEY, 1)  # the beat's flush is running: the erasure's own flush cannot

    erase_customer(customer=ada, actor=None)
    cache.delete(services.LOCK_KEY)
    for event in (late_signed_in, late_anonymous, late_order):
        recorder.append(event)
    recorder.record(browser_request(STRANGER), "search", query="tents")
    services.flush_events()

    assert not Event.objects.filter(visitor_id=ADA_BROWSER).exists()
    assert not Event.objects.filter(customer=ada).exists()
    assert not Event.objects.filter(name="order_placed").exists()
    assert late_signed_in["user"] == user_id
    # the rest of the batch is written
    assert Event.objects.filter(visitor_id=STRANGER, name="search").exists()


def test_an_erasure_that_rolled_back_leaves_no_mark_that_drops_the_customers_events(histories):
    from django.db import transaction

    ada, _bob = histories

    with pytest.raises(RuntimeError), transaction.atomic():
        erase_customer(customer=ada, actor=None)
        raise RuntimeError("the erasure's transaction fails after the marks were set")
    recorder.record(browser_request(ADA_BROWSER, user=ada.user), "checkout_started")
    services.flush_events()

    ada.refresh_from_db()
    assert ada.erased_at is None
    assert Event.objects.filter(customer=ada, name="checkout_started", visitor_id=ADA_BROWSER).exists()
    assert Event.objects.filter(customer=ada).count() == 3


def test_with_the_cache_down_the_erasure_changes_nothing_rather_than_leave_buffered_events_behind(
    histories, monkeypatch
):
    ada, _bob = histories

    def down(*args, **kwargs):
        raise ConnectionError("cache unavailable")

    monkeypatch.setattr(recorder.cache, "set_many", down)
    with pytest.raises(ConnectionError):
        erase_customer(customer=ada, actor=None)

    ada.refresh_from_db()
    assert ada.erased_at is None and ada.email == "ada@example.com"
    assert Event.objects.filter(customer=ada).count() == 2


def test_after_an_erasure_the_other_person_on_a_shared_browser_is_still_counted(histories):
    ada, bob = histories

    erase_customer(customer=ada, actor=None)
    recorder.record(browser_request(SHARED_BROWSER, user=bob.user), "added_to_cart", product_id=3)
    recorder.record(browser_request(SHARED_BROWSER), "product_viewed", slug="lamp")  # nobody signed in
    services.flush_events()

    assert sorted(Event.objects.filter(visitor_id=SHARED_BROWSER).values_list("customer", "name")) == [
        (bob.pk, "added_to_cart"), (bob.pk, "search"),
    ]
