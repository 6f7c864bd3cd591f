"""One address formatter (shop/addresses.py): each country's order, nothing typed dropped, HTML
escaped. That every page, email and document uses it: checkout/tests/test_address_rendering.py."""
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.utils import translation

from shop.addresses import address_html, address_inline, address_lines

PERSON = {"name": "Ada Lovelace", "company": "Analytical Ltd", "line1": "12 Engine Row", "line2": "Flat 3"}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize("country,place,expected", [
    # The US and Canada: city, state or province, then the ZIP or postal code, on one line.
    ("US", {"city": "Springfield", "region": "IL", "postal_code": "62701"},
     ["Ada Lovelace", "Analytical Ltd", "12 Engine Row", "Flat 3", "Springfield, IL 62701", "United States"]),
    ("CA", {"city": "Ottawa", "region": "ON", "postal_code": "K1A 0B1"},
     ["Ada Lovelace", "Analytical Ltd", "12 Engine Row", "Flat 3", "Ottawa ON K1A 0B1", "Canada"]),
    # Germany and France: the postcode before the city; France puts the company first.
    ("DE", {"city": "Berlin", "postal_code": "10115"},
     ["Ada Lovelace", "Analytical Ltd", "12 Engine Row", "Flat 3", "10115 Berlin", "Germany"]),
    ("FR", {"city": "Paris", "postal_code": "75001"},
     ["Analytical Ltd", "Ada Lovelace", "12 Engine Row", "Flat 3", "75001 Paris", "France"]),
    # The UK: the town, then the postcode on a line of its own.
    ("GB", {"city": "London", "postal_code": "SW1A 1AA"},
     ["Ada Lovelace", "Analytical Ltd", "12 Engine Row", "Flat 3", "London", "SW1A 1AA", "United Kingdom"]),
])
def test_each_country_writes_its_own_order(country, place, expected):
    assert address_lines({**PERSON, **place, "country": country}) == expected


def test_japan_and_korea_in_their_script_go_from_large_to_small():
    japan = {"name": "山田太郎", "line1": "渋谷1-2-3", "city": "渋谷区", "region": "東京都", "postal_code": "150-0002",
             "country": "JP"}
    korea = {"name": "김철수", "line1": "세종대로 110", "city": "중구", "region": "서울특별시", "postal_code": "04524",
             "country": "KR"}

    assert address_lines(japan) == ["〒150-0002", "東京都", "渋谷区渋谷1-2-3", "山田太郎", "Japan"]
    assert address_lines(korea) == ["서울특별시 중구", "세종대로 110", "김철수", "04524", "South Korea"]


def test_a_japanese_address_in_latin_letters_is_written_small_to_large():
    japan = {"name": "Taro Yamada", "line1": "1-2-3 Shibuya", "city": "Shibuya-ku", "region": "Tokyo",
             "postal_code": "150-0002", "country": "JP"}

    assert address_lines(japan) == ["Taro Yamada", "1-2-3 Shibuya, Shibuya-ku, Tokyo", "150-0002", "Japan"]


def test_nothing_typed_is_dropped_and_empty_parts_leave_no_stray_commas():
    # A region in a country whose format has none still shows (after the town, as a UK county).
    assert address_lines({"name": "Ada", "line1": "1 High St", "city": "Leeds", "region": "West Yorkshire",
                          "postal_code": "LS1 1AA", "country": "GB"}) == [
        "Ada", "1 High St", "Leeds", "West Yorkshire", "LS1 1AA", "United Kingdom"]
    # A US shop without a state: no dangling comma or double space.
    assert address_lines({"line1": "1 Main St", "city": "Springfield", "postal_code": "62701", "country": "us"}) == [
        "1 Main St", "Springfield, 62701", "United States"]
    # Click and collect keeps only a name and country.
    assert address_lines({"name": "Ada", "country": "DE"}) == ["Ada", "Germany"]
    assert address_lines({}) == [] and address_lines(None) == []


def test_the_country_name_follows_the_language():
    with translation.override("de"):
        assert address_lines({"name": "Ada", "city": "Wien", "postal_code": "1010", "country": "AT"})[-1] == "Österreich"


def test_a_pick_up_location_is_its_street_address_under_its_own_name():
    shop = SimpleNamespace(name="Downtown shop", address_line1="1 Market Street", address_line2="", city="Portland",
                           postal_code="97204", country="US")

    assert address_lines(shop) == ["1 Market Street", "Portland, 97204", "United States"]
    assert address_inline(shop) == "1 Market Street, Portland, 97204, United States"


def test_html_is_escaped_in_the_tag_and_in_python():
    hostile = {"name": "<script>alert(1)</script>", "company": "Smith & Sons", "line1": '1 "Quoted" Rd',
               "city": "Berlin", "postal_code": "10115", "country": "DE"}

    rendered = Template('{% load addresses %}{% address a id="x" %}|{{ a|address_text }}').render(
        Context({"a": hostile}))
    html, text = rendered.split("|")

    assert html == ('<address class="address" id="x">&lt;script&gt;alert(1)&lt;/script&gt;<br>Smith &amp; Sons<br>'
                    '1 &quot;Quoted&quot; Rd<br>10115 Berlin<br>Germany</address>')
    assert html == address_html(hostile, id="x")
    assert "<script>" not in html
    # Plain text is escaped like any other value unless the template turns autoescaping off (emails do).
    assert text.splitlines()[0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
