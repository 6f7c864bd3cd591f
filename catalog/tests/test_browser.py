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

    # A price range: typed, then "Apply filters" (the form's own GET).
    tab.goto("/c/clothing/")
    tab.locator("#f-price-min").fill("15")
    tab.locator("#f-price-max").fill("150")
    tab.get_by_role("button", name="Apply filters").click()
    expect(tab).to_have_url(re.compile(r"(?=.*price_min=15)(?=.*price_max=150)"))
    expect(tab.locator('#listing-results a[href="/p/harbour-parka/"]')).to_have_count(0)
    expect(tab.locator('#listing-results a[href="/p/storm-shell/"]').first).to_be_visible()

    tab.goto("/p/storm-shell/")
    tab.locator('#product-purchase a[href*="colour=blue"]').first.click()
    expect(tab).to_have_url(re.compile(r"colour=blue"))
    expect(tab.locator("#product-purchase")).to_contain_text("SHELL-BLUE-S")


# --- Typing a price range -------------------------------------------------------------------------

# (min, max) pairs typed one after the other; each digit 120 ms apart, as a person types.
PRICE_RANGES = [("25", "150"), ("110", "135"), ("19", "205"), ("5", "1200"), ("30", "99")]


def test_typing_min_tab_max_keeps_every_digit(page, storefront_catalog):
    """Min, Tab, Max at a person's speed: the live update used to re-draw "Max" under the typing."""
    from playwright.sync_api import expect

    for low, high in PRICE_RANGES:
        page.goto("/c/clothing/")
        page.locator("#f-price-min").click()
        page.keyboard.type(low, delay=120)
        page.keyboard.press("Tab")
        page.keyboard.type(high, delay=120)
        page.keyboard.press("Tab")

        expect(page).to_have_url(re.compile(rf"\?(?=.*price_min={low}(&|$))(?=.*price_max={high}(&|$))"))
        expect(page.locator("#f-price-min")).to_have_value(low)
        expect(page.locator("#f-price-max")).to_have_value(high)
        expect(page.locator("#listing-results")).to_contain_text(f"From ${low}.00")
        expect(page.locator("#listing-results")).to_contain_text(f"Up to ${int(high):,}.00")


def test_enter_applies_a_price_and_a_late_answer_keeps_what_is_being_typed(page, storefront_catalog):
    from playwright.sync_api import expect

    # Enter applies the range without leaving the box.
    page.goto("/c/clothing/")
    page.locator("#f-price-max").click()
    page.keyboard.type("125", delay=120)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"price_max=125"))
    expect(page.locator("#listing-results a[href='/p/harbour-parka/']")).to_have_count(0)

    # A ticked box's answer arrives while the shopper types a minimum: the digits stay.
    held, ticked = [], re.compile(r"/c/clothing/\?.*in_stock=1")
    page.route(ticked, lambda route: held.append(route))
    page.locator('input[type="checkbox"][name="in_stock"]').check()
    page.wait_for_function("document.querySelector('#listing-results').classList.contains('htmx-request')")
    page.locator("#f-price-min").click()
    page.keyboard.type("15", delay=120)
    assert len(held) == 1
    held[0].continue_()
    expect(page).to_have_url(re.compile(r"in_stock=1"))
    expect(page.locator("#f-price-min")).to_have_value("15")
    expect(page.locator("#f-price-min")).to_be_focused()
    page.unroute(ticked)

    page.keyboard.press("Tab")  # to "Max": still in the range, nothing applies yet
    expect(page.locator("#f-price-max")).to_be_focused()
    page.keyboard.press("Tab")  # out of the range: it applies
    expect(page).to_have_url(re.compile(r"(?=.*price_min=15)(?=.*price_max=125)(?=.*in_stock=1)"))
    expect(page.locator("#listing-results")).to_contain_text("From $15.00")


# --- Long facet lists -----------------------------------------------------------------------------


def test_show_all_reveals_the_rest_of_a_long_facet_and_stays_open(page):
    """On the demo catalog: sizes past the eighth are behind "Show all N", not in a silent scroll box."""
    from io import StringIO

    from django.core.management import call_command
    from playwright.sync_api import expect

    call_command("seed_demo", "--products", "60", "--customers", "0", "--no-images", stdout=StringIO())
    page.goto("/c/clothing/")
    sizes = page.locator('input[type="checkbox"][name="o_size"]')
    count = sizes.count()
    assert count > 10
    first, last = sizes.nth(0), sizes.nth(count - 1)
    expect(first).to_be_visible()
    expect(last).to_be_hidden()

    page.get_by_text(f"Show all {count}", exact=True).click()
    expect(last).to_be_visible()

    # Ticking a value re-draws the filters; the list the shopper opened stays open.
    page.locator(f'label[for="{first.get_attribute("id")}"]').click()
    expect(page).to_have_url(re.compile(r"o_size="))
    expect(page.locator('input[type="checkbox"][name="o_size"]').nth(0)).to_be_checked()
    expect(page.locator('input[type="checkbox"][name="o_size"]').nth(count - 1)).to_be_visible()
    expect(page.get_by_text("Show fewer", exact=True)).to_be_visible()
