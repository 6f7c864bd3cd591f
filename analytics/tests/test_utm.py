"""Signed campaign parameters: verified only when the store signed them, and invisible to the page cache."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import RequestFactory
from django.urls import reverse

import analytics
from analytics import services, utm
from analytics.models import Event

from conftest import html_tags

pytestmark = pytest.mark.django_db


def signed_query(campaign: str = "12") -> dict[str, str]:
    url = utm.tag_url("https://shop.example/p/x/", source="campaign", medium="email", campaign=campaign)
    return dict(parse_qsl(urlsplit(url).query))


def test_a_signed_link_verifies_and_a_changed_one_does_not():
    params = signed_query()
    assert set(params) == {"utm_source", "utm_medium", "utm_campaign", "utm_sig"} and len(params["utm_sig"]) == 16
    assert utm.verified(params)
    assert not utm.verified({**params, "utm_campaign": "13"})  # another campaign's click, made up
    assert not utm.verified({**params, "utm_sig": "x" * 16})
    assert not utm.verified({key: value for key, value in params.items() if key != "utm_sig"})


def test_tagging_keeps_the_links_own_parameters_and_replaces_old_utm():
    url = utm.tag_url("https://shop.example/c/gear/?colour=red&utm_source=old&page=2",
                      source="order_email", medium="email", campaign="order_shipped")
    query = parse_qsl(urlsplit(url).query)
    assert [key for key, _ in query] == ["colour", "page", "utm_source", "utm_medium", "utm_campaign", "utm_sig"]
    assert utm.verified(dict(query)) and dict(query)["utm_source"] == "order_email"


def test_only_links_to_the_store_are_tagged_in_html_and_text():
    tag = utm.tagger(origin="https://shop.example/", source="campaign", medium="email", campaign="3",
                     leave=frozenset({"https://shop.example/account/unsubscribe/t/"}))
    markup = ('<a href="https://shop.example/p/lamp/?a=1&amp;b=2">Lamp</a> <a href="https://elsewhere.example/">x</a>'
              ' <a href="https://shop.example/account/unsubscribe/t/">Leave</a>')
    tagged = utm.tag_hrefs(markup, tag)
    [lamp, other, leave] = html_tags(tagged, "a")
    assert dict(parse_qsl(urlsplit(lamp["href"]).query))["b"] == "2" and utm.verified(
        dict(parse_qsl(urlsplit(lamp["href"]).query)))
    assert other["href"] == "https://elsewhere.example/"
    assert leave["href"] == "https://shop.example/account/unsubscribe/t/"
    text = utm.tag_text_links("See https://shop.example/p/lamp/. Or (https://shop.example/c/gear/)",
                              origin="https://shop.example/", tag=tag)
    assert text.startswith("See https://shop.example/p/lamp/?utm_source=campaign&") and "&utm_sig=" in text
    assert text.count("utm_sig") == 2 and ". Or (" in text and text.endswith(")")


def test_the_recorder_marks_signed_parameters_verified_and_keeps_unsigned_ones_unverified():
    analytics.record(RequestFactory().get("/p/x/", signed_query("12")), "campaign_click")
    analytics.record(RequestFactory().get("/p/x/", {**signed_query("12"), "utm_campaign": "99"}), "campaign_click")
    analytics.record(RequestFactory().get("/p/x/?utm_source=facebook&utm_medium=social"), "campaign_click")
    analytics.record(RequestFactory().get("/p/x/"), "product_viewed")
    services.flush_events()

    rows = sorted(Event.objects.values_list("utm_source", "utm_campaign", "utm_verified"))
    assert rows == [("", "", False), ("campaign", "12", True), ("campaign", "99", False), ("facebook", "", False)]


def test_a_link_with_campaign_parameters_is_served_from_the_same_cache_entry_and_still_counted(
    client, storefront_catalog
):
    page = reverse("catalog:product", args=["storm-shell"])
    # the first visitor, through a campaign link, fills the cache
    first = client.get(page, signed_query("12"))
    assert first["X-Cache"] == "miss"
    # nothing of that link reached the copy everyone is served (a form's "next", say)
    assert b"utm_" not in first.content
    plain = client.get(page)
    assert plain["X-Cache"] == "hit"
    other_campaign = client.get(page, signed_query("13"))
    assert other_campaign["X-Cache"] == "hit"
    # a real filter is still part of the key
    assert client.get(page, {"colour": "blue"})["X-Cache"] == "miss"

    services.flush_events()
    clicks = Event.objects.filter(name="campaign_click").order_by("utm_campaign")
    assert list(clicks.values_list("utm_campaign", "utm_verified", "properties")) == [
        ("12", True, {"page": "catalog:product"}), ("13", True, {"page": "catalog:product"}),
    ]
    views = Event.objects.filter(name="product_viewed")
    assert sorted(views.values_list("utm_campaign", flat=True)) == ["", "", "12", "13"]


def test_a_listing_rendered_for_a_campaign_link_keeps_its_filters_but_not_the_link(client, storefront_catalog):
    listing = reverse("catalog:category", args=["clothing"])
    first = client.get(listing, {"sort": "price", **signed_query("12")})
    assert first["X-Cache"] == "miss" and b"utm_" not in first.content
    assert client.get(listing, {"sort": "price"})["X-Cache"] == "hit"
