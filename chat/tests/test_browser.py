"""Chat in two real Chromium contexts: a guest asks the assistant about an order, asks for a
person, and a staff member answers from the back office's inbox; the shopper sees the answer
appear without reloading, and staff see the shopper's next message the same way; a product card
staff send goes to the shopper's cart from the chat.

Same launch settings as catalog/tests/test_browser.py (Debian's Chromium through Playwright,
never a downloaded browser); every wait is on a condition (`expect`), never on a clock.
"""
import re

import pytest

from conftest import sign_in_to_admin, staff_account
from orders.tests.factories import OrderFactory

# Also in CI's PostgreSQL + Redis pass: there the streams go through Redis pub/sub.
pytestmark = [pytest.mark.browser, pytest.mark.services_browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _short_streams(settings):
    # Streams end every 3 s and the browsers reconnect with their cursor: the tests cross several
    # reconnections (nothing may be lost or shown twice across them), and no stream outlives its
    # test by long.
    settings.CHAT_STREAM_SECONDS = 3


def test_a_shopper_asks_about_an_order_then_a_person_answers_live(new_page, storefront_catalog, django_user_model,
                                                                   settings):
    from playwright.sync_api import expect

    settings.CHAT_OPENING_HOURS = ""  # people are in whenever the test runs
    order = OrderFactory(email="bo@example.com")

    # Staff open the inbox first: that makes them "online" for the round robin.
    admin = sign_in_to_admin(new_page, django_user_model)
    admin.goto("/admin/chat/conversation/")
    expect(admin.locator("#chat-inbox-table")).to_contain_text("Nothing here.")

    # A guest on a product page opens the launcher: the assistant greets with quick replies.
    shopper = new_page()
    shopper.goto("/p/camp-lamp/")
    shopper.get_by_role("link", name="Chat with us").click()
    panel = shopper.locator("#chat-panel")
    expect(panel).to_be_visible()
    shopper.get_by_role("button", name="Where is my order?").click()
    expect(panel.locator(".chat-from-bot").last).to_contain_text("order number")

    # The order number and the email on it: the status and a link to the order.
    shopper.locator("#chat-input").fill(f"{order.number} bo@example.com")
    shopper.locator("#chat-input").press("Enter")
    expect(panel.locator(".chat-order")).to_contain_text(order.number)

    # A person, please: the conversation goes to the staff member who is online.
    shopper.get_by_role("button", name="Talk to a person").last.click()
    expect(panel.locator(".chat-from-system").last).to_contain_text("will answer you here")

    # The inbox lists it without a reload; staff open it and answer.
    row = admin.locator("#chat-inbox-table tr[data-conversation]")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(admin.locator("#chat-messages")).to_contain_text(f"{order.number} bo@example.com")
    admin.locator("#chat-reply-body").fill("Hi! It leaves our warehouse today.")
    admin.get_by_role("button", name="Send reply").click()

    # The shopper sees it live, on the same page (no reload).
    shopper.evaluate("window.__sameDocument = true")
    expect(panel.locator(".chat-from-agent")).to_contain_text("It leaves our warehouse today.")
    assert shopper.evaluate("window.__sameDocument === true")

    # And staff see the shopper's answer live, with no duplicate.
    shopper.locator("#chat-input").fill("Great, thank you!")
    shopper.locator("#chat-input").press("Enter")
    expect(panel.locator(".chat-message", has_text="Great, thank you!")).to_have_count(1)
    expect(admin.locator("#chat-messages .chat-from-shopper").last).to_contain_text("Great, thank you!")
    expect(admin.locator("#chat-messages li", has_text="Great, thank you!")).to_have_count(1)
    expect(admin.locator("#chat-messages li", has_text="It leaves our warehouse today.")).to_have_count(1)

    # Staff send a product card; the shopper puts it in the cart from the chat (the real add to
    # cart, with the CSRF token), and the header's count changes on the same page.
    admin.locator("#chat-product").fill("camp-lamp")
    admin.get_by_role("button", name="Send product card").click()
    card = panel.locator(".chat-from-agent .chat-product", has_text="Camp Lamp")
    expect(card.locator(".chat-card-price")).to_have_text("$35.00")
    expect(shopper.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "0")
    card.get_by_role("button", name="Add to cart").click()
    expect(card).to_contain_text("Added 1 × Camp Lamp to your cart.")
    expect(shopper.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    assert shopper.evaluate("window.__sameDocument === true")

    # The conversation follows the visitor to another page.
    shopper.goto("/p/storm-shell/")
    expect(shopper.locator("#chat-panel .chat-from-agent").first).to_contain_text("It leaves our warehouse today.")
    expect(shopper.locator("#chat-panel .chat-product")).to_contain_text("Camp Lamp")
    expect(shopper.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    assert re.search(r"/p/storm-shell/$", shopper.url)


def test_without_javascript_the_launcher_is_the_contact_form(new_page, storefront_catalog):
    from playwright.sync_api import expect

    tab = new_page(java_script_enabled=False)
    tab.goto("/p/camp-lamp/")
    tab.get_by_role("link", name="Chat with us").click()
    expect(tab).to_have_url(re.compile(r"/contact/$"))
    tab.get_by_label("Your email").fill("bo@example.com")
    tab.locator("#id_message").fill("Is the lamp dimmable?")
    tab.get_by_role("button", name="Send").click()
    expect(tab.locator("#chat-transcript")).to_contain_text("Is the lamp dimmable?")


def test_a_message_sent_before_the_chat_has_loaded_waits_for_it_and_arrives(page, storefront_catalog):
    """The CSRF token comes with the chat's state. A shopper who typed and sent before the state
    arrived (a fast typist, a slow server) sent no token: refused with 403, the message lost, and
    the refusal page read as JSON (a JavaScript error). Seen in CI under load."""
    from playwright.sync_api import expect

    held = []
    page.route("**/chat/state/", lambda route: held.append(route))  # answered when the test lets it
    page.goto("/p/camp-lamp/")
    page.get_by_role("link", name="Chat with us").click()
    while not held:  # the launcher asked for its state
        page.wait_for_timeout(20)
    page.locator("#chat-input").fill("Hello")
    page.locator("#chat-input").press("Enter")

    held[0].continue_()
    page.unroute("**/chat/state/")

    expect(page.locator("#chat-panel .chat-from-shopper")).to_contain_text("Hello")


def test_a_product_found_in_the_chat_goes_to_the_cart_from_the_chat(page, storefront_catalog):
    from playwright.sync_api import expect

    page.goto("/")
    page.get_by_role("link", name="Chat with us").click()
    page.get_by_role("button", name="Find a product").click()
    page.locator("#chat-input").fill("camp lamp under 50")
    page.locator("#chat-input").press("Enter")
    card = page.locator("#chat-panel .chat-card", has_text="Camp Lamp")
    expect(card.get_by_role("link", name="Camp Lamp")).to_have_attribute("href", "/p/camp-lamp/")

    card.get_by_role("button", name="Add to cart").click()

    expect(card).to_contain_text("Added 1 × Camp Lamp to your cart.")
    expect(page.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")


def test_a_proactive_message_opens_the_launcher_once_and_never_after_it_was_closed(page, storefront_catalog):
    from playwright.sync_api import expect

    from chat.models import ProactiveTrigger

    ProactiveTrigger.objects.create(name="Product help", message="Need help choosing a size?", page_type="product",
                                    seconds_on_page=0)
    page.goto("/")  # not a product page: nothing
    page.goto("/p/storm-shell/")
    panel = page.locator("#chat-panel")
    expect(panel).to_contain_text("Need help choosing a size?")

    page.get_by_role("button", name="Close").click()
    page.goto("/p/camp-lamp/")
    page.evaluate("localStorage.removeItem('chat:proactive')")  # even on another day...
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/chat/triggers/" in request.url else None)
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(panel).to_be_hidden()  # ...a visitor who closed it is left alone
    assert asked == []
    assert page.evaluate("localStorage.getItem('chat:closed')") == "1"


def test_a_minimum_cart_value_is_priced_by_the_server_and_the_message_opens_at_most_once_a_day(page,
                                                                                                storefront_catalog):
    from decimal import Decimal

    from playwright.sync_api import expect

    from chat.models import ProactiveTrigger

    ProactiveTrigger.objects.create(name="Big cart", message="Spending over $100? Ask us anything.",
                                    seconds_on_page=0, min_cart_value=Decimal("100.00"))
    panel = page.locator("#chat-panel")

    asked_value = []
    page.on("request", lambda request: asked_value.append(request.url) if "/chat/cart-value/" in request.url else None)

    # An empty cart (the header says 0): worth nothing, so nothing is asked and nothing opens.
    with page.expect_response(lambda response: "/chat/triggers/" in response.url):
        page.goto("/p/camp-lamp/")
    page.wait_for_load_state("networkidle")
    expect(panel).to_be_hidden()
    assert asked_value == []

    # One lamp ($35.00): the server prices this visitor's cart, still under $100, nothing opens.
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#add-to-cart-status")).to_contain_text("Added 1 × Camp Lamp")
    with page.expect_response(lambda response: "/chat/cart-value/" in response.url) as priced:
        page.goto("/p/storm-shell/")
    assert priced.value.json()["cart_value"] == "35.00"
    page.wait_for_load_state("networkidle")
    expect(panel).to_be_hidden()

    # Two more ($105.00): on the next page it opens with the message.
    page.goto("/p/camp-lamp/")
    page.locator("#add-quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#add-to-cart-status")).to_contain_text("Added 2 × Camp Lamp")
    page.goto("/p/storm-shell/")
    expect(panel).to_contain_text("Spending over $100? Ask us anything.")

    # Folded away (not closed): the rest of the day no page asks again...
    page.get_by_role("link", name="Chat with us").click()
    expect(panel).to_be_hidden()
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/chat/triggers/" in request.url else None)
    page.goto("/")
    page.wait_for_load_state("networkidle")
    expect(panel).to_be_hidden()
    assert asked == []

    # ...and the next day it may open again.
    page.evaluate("localStorage.setItem('chat:proactive', '2000-01-01')")
    page.reload()
    expect(panel).to_be_visible()
    assert asked


def test_a_photo_sent_from_the_launcher_shows_in_the_chat_and_live_in_the_inbox(new_page, storefront_catalog,
                                                                                 django_user_model, settings):
    from playwright.sync_api import expect

    from conftest import image_bytes

    # The staff account first: the test's thread must not write while the server's threads still
    # answer the shopper (on SQLite they share one connection: "database table is locked").
    account = staff_account(django_user_model)

    shopper = new_page()
    shopper.goto("/p/camp-lamp/")
    shopper.get_by_role("link", name="Chat with us").click()
    panel = shopper.locator("#chat-panel")
    shopper.locator("#chat-input").fill("Hello")
    shopper.locator("#chat-input").press("Enter")
    expect(panel.locator(".chat-from-shopper")).to_contain_text("Hello")

    # Staff sign in and open it from the inbox.
    admin = sign_in_to_admin(new_page, django_user_model, account=account)
    admin.goto("/admin/chat/conversation/")
    row = admin.locator("#chat-inbox-table tr[data-conversation]")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(admin.locator("#chat-messages")).to_contain_text("Hello")

    # A photo with a few words, from the launcher's file field.
    shopper.locator("#chat-file").set_input_files(
        {"name": "broken-lamp.png", "mimeType": "image/png", "buffer": image_bytes("PNG", size=(80, 60))})
    shopper.locator("#chat-input").fill("It arrived like this")
    shopper.locator("#chat-input").press("Enter")

    shown = panel.locator(".chat-attachment img")
    expect(shown).to_have_attribute("alt", "broken-lamp.png")
    shown.evaluate("img => img.decode()")  # the visitor's own browser may load it
    assert shown.evaluate("img => img.naturalWidth") == 80

    # Staff see it arrive without reloading, and their browser may load it too.
    in_inbox = admin.locator("#chat-messages .chat-attachment img")
    expect(in_inbox).to_have_attribute("alt", "broken-lamp.png")
    in_inbox.evaluate("img => img.decode()")
    assert in_inbox.evaluate("img => img.naturalWidth") == 80
    expect(admin.locator("#chat-messages li", has_text="It arrived like this")).to_have_count(1)
