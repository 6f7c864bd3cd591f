"""Money is written the currency's own way; rich text never carries script onto a page."""
import json
import re
from decimal import Decimal

import pytest

from catalog.models import Product
from shop.html import sanitize_html
from shop.money import format_money, quantize

# --- Money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("0.125"), "USD", "$0.13"),  # half up, once
        (Decimal("1234567.891"), "USD", "$1,234,567.89"),
        (Decimal("1234.5"), "JPY", "¥1,235"),
        (Decimal("12000"), "KRW", "₩12,000"),
        (Decimal("12000.49"), "KRW", "₩12,000"),
        (Decimal("9.99"), "EUR", "€9.99"),
    ],
)
def test_format_money_follows_each_currency(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_format_money_remembers_each_text_by_amount_currency_locale_and_sign():
    # Formatted once per process (shop/money.py): equal amounts share a text, nothing else does.
    for _twice in range(2):
        assert format_money(Decimal("1234.5"), "USD") == "$1,234.50"
        assert format_money(Decimal("1234.50000"), "USD") == "$1,234.50"
        assert format_money(Decimal("1234.5"), "EUR", "de_DE") == "1.234,50\xa0€"
        assert format_money(Decimal("1234.5"), "EUR", "fr_FR") == "1\u202f234,50\xa0€"
        assert format_money(Decimal("-0.001"), "USD") == "-$0.00"
        assert format_money(Decimal("0.001"), "USD") == "$0.00"


def test_format_money_of_nothing_is_empty():
    assert format_money(None) == ""


def test_quantize_rounds_to_the_minor_unit():
    assert quantize(Decimal("10.155"), "USD") == Decimal("10.16")
    assert quantize(Decimal("10.5"), "JPY") == Decimal("11")
    assert str(quantize(Decimal("1999.99"), "KRW")) == "2000"


@pytest.mark.parametrize(
    ("currency", "price", "shown", "not_shown", "ld_price"),
    [
        ("USD", "1234.50", "$1,234.50", None, "1234.50"),
        ("JPY", "1234.50", "¥1,235", "1,234.50", "1235"),
        ("KRW", "12000.00", "₩12,000", "12,000.00", "12000"),
    ],
)
def test_pages_show_prices_in_the_store_currency(client, db, settings, currency, price, shown, not_shown, ld_price):
    from catalog.tests.factories import product_with_stock

    settings.STORE_CURRENCY = currency
    product = product_with_stock(title="Kettle", slug="kettle", price=Decimal(price))

    product_page = client.get(product.get_absolute_url()).content.decode()
    category_page = client.get(f"/c/{product.category.slug}/").content.decode()

    for body in (product_page, category_page):
        assert shown in body
        if not_shown:
            assert not_shown not in body
    ld = json.loads(re.search(r'type="application/ld\+json"[^>]*>(.*?)</script>', product_page, re.S).group(1))
    assert ld["offers"]["price"] == ld_price
    assert ld["offers"]["priceCurrency"] == currency


# --- Rich text -----------------------------------------------------------------------------------

HOSTILE = (
    '<p>Warm <strong>wool</strong> <a href="https://example.com/care">care guide</a></p>'
    '<script>alert("script")</script>'
    '<img src="x" onerror="alert(\'img\')">'
    '<a href="javascript:alert(\'link\')">click</a>'
    '<a href="JaVaScRiPt:alert(\'mixed\')">again</a>'
    '<p style="background:url(javascript:alert(1))" onmouseover="alert(\'hover\')">hover</p>'
    '<iframe src="https://evil.example"></iframe><svg onload="alert(\'svg\')"></svg>'
    '<style>body{display:none}</style>'
)


def _assert_harmless(html: str) -> None:
    lowered = html.lower()
    for marker in ("<script>alert", "onerror=", "onmouseover=", "onload=", "javascript:", "<iframe", "evil.example",
                   "<style>body"):
        assert marker not in lowered, marker


def test_sanitize_html_keeps_formatting_and_drops_everything_that_runs():
    cleaned = sanitize_html(HOSTILE)

    _assert_harmless(cleaned)
    assert "<strong>wool</strong>" in cleaned
    assert 'href="https://example.com/care"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned


@pytest.mark.django_db
def test_hostile_description_saved_through_the_model_never_reaches_the_page(client):
    from catalog.tests.factories import product_with_stock

    product = product_with_stock(title="Sweater", slug="sweater", description=HOSTILE)

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    _assert_harmless(response.content.decode())
    assert "<strong>wool</strong>" in response.content.decode()


@pytest.mark.django_db
def test_hostile_description_written_around_the_model_is_sanitised_when_rendered(client):
    from catalog.tests.factories import product_with_stock

    product = product_with_stock(title="Sweater", slug="sweater")
    Product.objects.filter(pk=product.pk).update(description=HOSTILE)  # e.g. a raw import

    response = client.get(product.get_absolute_url())

    body = response.content.decode()
    _assert_harmless(body)
    assert "<strong>wool</strong>" in body
    # The meta description and the structured data carry plain text only.
    description = re.search(r'<meta name="description" content="([^"]*)"', body).group(1)
    assert "<" not in description
    ld = json.loads(re.search(r'type="application/ld\+json"[^>]*>(.*?)</script>', body, re.S).group(1))
    assert "<" not in ld["description"]


@pytest.mark.django_db
def test_category_description_is_sanitised(db):
    from catalog.tests.factories import CategoryFactory

    category = CategoryFactory(description=HOSTILE)

    category.refresh_from_db()
    _assert_harmless(category.description)


@pytest.mark.django_db
def test_titles_are_escaped_everywhere(client):
    from catalog.tests.factories import product_with_stock

    product = product_with_stock(title='<img src=x onerror="alert(1)">Mug', slug="mug")

    for url in (product.get_absolute_url(), "/", f"/c/{product.category.slug}/", "/search/?q=mug"):
        body = client.get(url).content.decode()
        assert "<img src=x" not in body, url
        assert "&lt;img src=x" in body, url
