"""One shopper's journey in a real Chromium: home, category, facet, product, variant, search.

Playwright drives Debian's Chromium (never a downloaded one) against pytest-django's live server.
Every wait is on a condition (Playwright's auto-waiting `expect`), never on a clock.
"""
import os
import re
import shutil

import pytest

import conftest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture
def page(monkeypatch, live_server):
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        conftest.missing_service(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - requirements-dev.txt pins it
        conftest.missing_service("Playwright is not installed (pip install -r requirements-dev.txt)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the live
    # server's test set-up and teardown here are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield tab
        finally:
            context.close()
            browser.close()
        assert errors == [], f"JavaScript errors on the page: {errors}"


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


def test_the_store_works_without_javascript(monkeypatch, live_server, storefront_catalog):
    """Plain links and forms: the facet form submits as a GET, the picker is links."""
    if not os.path.exists(CHROMIUM):
        conftest.missing_service(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
        context.set_default_timeout(15_000)
        tab = context.new_page()
        try:
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
        finally:
            context.close()
            browser.close()
