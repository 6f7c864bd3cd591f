"""One shopper's journey in a real Chromium: home, category, facet, product, variant, search.

Playwright drives Debian's Chromium (never a downloaded one) against pytest-django's live server.
Every wait is on a condition (Playwright's auto-waiting `expect`), never on a clock.
"""
import re

import pytest


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_a_shopper_browses_filters_picks_a_variant_and_searches(page, storefront_catalog):
    from playwright.sync_api import expect

    # Home: featured products and the categories.
    page.goto("/")
    expect(page.locator('a[href="/p/storm-shell/"]').first).to_be_visible()

    # To a category.
    page.locator('a[href="/c/clothing/"]').first.click()
    expect(page).to_have_url(re.compile(r"/c/clothing/$"))
    results = page.locator("#listing-results")
    expect(results.locator('a[href="/p/harbour-parka/"]').first).to_be_visible()

    # Apply a facet: htmx swaps the results in place (no page load) and the URL keeps the filter.
    page.evaluate("window.__sameDocument = true")
    page.locator('input[type="checkbox"][name="brand"][value="northwind"]').check()
    expect(page).to_have_url(re.compile(r"[?&]brand=northwind"))
    expect(results.locator('a[href="/p/harbour-parka/"]')).to_have_count(0)
    expect(results.locator('a[href="/p/storm-shell/"]').first).to_be_visible()
    expect(results.locator('a[href="/p/trail-tee/"]').first).to_be_visible()
    expect(page.locator('input[type="checkbox"][name="brand"][value="northwind"]')).to_be_checked()
    assert page.evaluate("window.__sameDocument === true"), "the facet reloaded the whole page"

    # Open a product.
    results.locator('a[href="/p/storm-shell/"]').first.click()
    expect(page).to_have_url(re.compile(r"/p/storm-shell/$"))
    purchase = page.locator("#product-purchase")
    expect(purchase).to_contain_text("$120.00")
    expect(purchase).to_contain_text("SHELL-RED-S")
    expect(page.locator("h1")).to_contain_text("Storm Shell")

    # Pick a variant: the price, SKU and availability update, and the URL records the choice.
    page.evaluate("window.__sameDocument = true")
    purchase.locator('a[href*="colour=blue"]').first.click()
    expect(purchase).to_contain_text("SHELL-BLUE-S")
    expect(purchase).to_contain_text("$130.00")
    expect(purchase).to_contain_text(re.compile(r"only 3 left", re.I))
    expect(page).to_have_url(re.compile(r"colour=blue"))
    assert page.evaluate("window.__sameDocument === true"), "the variant picker reloaded the whole page"

    # Search: suggestions while typing, then the results page.
    box = page.locator("#site-search")
    box.click()
    box.press_sequentially("parka", delay=20)
    suggestions = page.locator("#search-suggestions")
    expect(suggestions.locator('a[href="/p/harbour-parka/"]').first).to_be_visible()
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=parka"))
    expect(page.locator('#listing-results a[href="/p/harbour-parka/"]').first).to_be_visible()
    expect(page.locator('#listing-results a[href="/p/storm-shell/"]')).to_have_count(0)


def test_the_store_works_without_javascript(new_page, storefront_catalog):
    """Plain links and forms: the facet form submits as a GET, the picker is links."""
    from playwright.sync_api import expect

    tab = new_page(java_script_enabled=False)
    tab.goto("/c/clothing/")
    summit = tab.locator('input[type="checkbox"][name="brand"][value="summit"]')
    summit.check()
    summit.locator("xpath=ancestor::form").locator('[type="submit"]').first.click()
    expect(tab).to_have_url(re.compile(r"brand=summit"))
    expect(tab.locator('#listing-results a[href="/p/harbour-parka/"]').first).to_be_visible()
    expect(tab.locator('#listing-results a[href="/p/storm-shell/"]')).to_have_count(0)

    tab.goto("/p/storm-shell/")
    tab.locator('#product-purchase a[href*="colour=blue"]').first.click()
    expect(tab).to_have_url(re.compile(r"colour=blue"))
    expect(tab.locator("#product-purchase")).to_contain_text("SHELL-BLUE-S")
