"""A guest fills a cart in a real Chromium: two products added with htmx, a quantity changed in place.

Same launch settings as catalog/tests/test_browser.py: Debian's Chromium through Playwright, never
a downloaded browser; every wait is on a condition (Playwright's `expect`), never on a clock.
"""
import re

import pytest


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_a_guest_adds_two_items_and_changes_a_quantity_in_place(page, storefront_catalog):
    from playwright.sync_api import expect

    mini_cart = page.locator("#mini-cart")

    # The lamp, from its product page: htmx posts the form, the page stays, the header counts 1.
    page.goto("/p/camp-lamp/")
    expect(mini_cart).to_have_attribute("href", "/cart/")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#add-to-cart-status")).to_contain_text("Added 1 × Camp Lamp to your cart.")
    expect(mini_cart.locator(".cart-count")).to_have_attribute("data-count", "1")
    assert page.evaluate("window.__sameDocument === true"), "adding to the cart reloaded the page"

    # The shell in blue: pick the colour (htmx swaps the purchase box), then add it.
    page.goto("/p/storm-shell/")
    page.locator('#product-purchase a[href*="colour=blue"]').first.click()
    expect(page.locator("#product-purchase")).to_contain_text("SHELL-BLUE-S")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#add-to-cart-status")).to_contain_text("Added 1 × Storm Shell to your cart.")
    expect(mini_cart.locator(".cart-count")).to_have_attribute("data-count", "2")

    # The cart page: both lines, $35.00 + $130.00.
    mini_cart.click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator("#cart-subtotal")).to_have_text("$165.00")
    expect(page.locator(".cart-line")).to_have_count(2)

    # Three lamps: typed and confirmed with Enter; htmx swaps the cart in place.
    page.evaluate("window.__sameDocument = true")
    lamp = page.locator('.cart-line[data-sku="LAMP-1"]')
    lamp.get_by_label(re.compile("Quantity")).fill("3")
    lamp.get_by_label(re.compile("Quantity")).press("Enter")
    expect(page.locator("#cart-subtotal")).to_have_text("$235.00")
    expect(page.locator('.cart-line[data-sku="LAMP-1"] [data-line-total]')).to_have_text("$105.00")
    expect(page.locator("#cart-item-count")).to_have_text("4")
    expect(mini_cart.locator(".cart-count")).to_have_attribute("data-count", "4")
    expect(page.locator("#cart-body [role=status]")).to_contain_text("Camp Lamp: quantity set to 3.")
    assert page.evaluate("window.__sameDocument === true"), "changing the quantity reloaded the page"


def test_the_cart_works_without_javascript(new_page, storefront_catalog):
    """Plain forms: add posts and redirects back with a message; Update and Remove post and reload."""
    from playwright.sync_api import expect

    tab = new_page(java_script_enabled=False)
    tab.goto("/p/camp-lamp/")
    tab.get_by_label("Quantity").fill("2")
    tab.get_by_role("button", name="Add to cart").click()
    expect(tab).to_have_url(re.compile(r"/p/camp-lamp/$"))
    expect(tab.locator(".messages")).to_contain_text("Added 2 × Camp Lamp to your cart.")
    expect(tab.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "2")

    tab.locator("#mini-cart").click()
    expect(tab.locator("#cart-subtotal")).to_have_text("$70.00")
    tab.get_by_label(re.compile("Quantity")).fill("5")
    tab.get_by_role("button", name="Update").click()
    expect(tab.locator(".messages")).to_contain_text("Camp Lamp: quantity set to 5.")
    expect(tab.locator("#cart-subtotal")).to_have_text("$175.00")

    tab.get_by_role("button", name=re.compile("Remove")).click()
    expect(tab.locator(".messages")).to_contain_text("Removed Camp Lamp from your cart.")
    expect(tab.locator("#cart-body")).to_contain_text("Your cart is empty")


def test_a_quantity_typed_while_another_line_updates_is_kept(page, storefront_catalog):
    """One line's answer re-draws the whole cart; a quantity being typed in another line survives it."""
    from playwright.sync_api import expect

    for url in ("/p/camp-lamp/", "/p/storm-shell/"):
        page.goto(url)
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#add-to-cart-status")).to_contain_text("to your cart")
    page.goto("/cart/")
    lamp = page.locator('.cart-line[data-sku="LAMP-1"]').get_by_label(re.compile("Quantity"))
    shell = page.locator('.cart-line[data-sku="SHELL-RED-S"]').get_by_label(re.compile("Quantity"))

    # The lamp's new quantity is sent when the shopper moves on; its answer is held back...
    held, updates = [], re.compile(r"/cart/lines/")
    page.route(updates, lambda route: held.append(route))
    lamp.fill("2")
    shell.click()  # the lamp's box fires `change`: its request leaves
    page.wait_for_function("document.querySelector('.cart-quantity.htmx-request') !== null")
    page.keyboard.press("Control+a")
    page.keyboard.type("4", delay=120)
    # ...and lands while the shopper is typing in the shell's box.
    held[0].continue_()
    page.unroute(updates)
    expect(page.locator('.cart-line[data-sku="LAMP-1"] [data-line-total]')).to_have_text("$70.00")
    expect(shell).to_have_value("4")
    expect(shell).to_be_focused()

    shell.press("Tab")  # leaving the box applies what was typed
    expect(page.locator('.cart-line[data-sku="SHELL-RED-S"] [data-line-total]')).to_have_text("$480.00")
    expect(page.locator("#cart-subtotal")).to_have_text("$550.00")
