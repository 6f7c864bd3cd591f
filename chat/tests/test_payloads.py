"""What the shopper sees of what staff and the assistant send: product cards, a cart the agent
built, a discount code, a gift card, an order (payment) link. Each kind is sent as staff send it
(the inbox's own posts) and read where the shopper reads it: the launcher's endpoint
(`/chat/state/`, JSON the script draws) and the plain conversation page reached from the
account's "Messages" (the same page `/contact/` leads to), whose forms are submitted as a
browser without JavaScript would (WebTest, CSRF checked)."""
import json

import pytest
from django.test import Client
from django.test.utils import CaptureQueriesContext

from carts.models import Cart
from chat import identity, services
from chat.models import Conversation
from chat.payloads import for_shopper, safe_url
from customers.tests.helpers import verified_account
from orders.tests.factories import OrderFactory
from promotions.models import Promotion
from promotions.tests.factories import PromotionFactory

from .test_actions import agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper():
    """A signed-in shopper's conversation, held by a person (the assistant is out of it)."""
    user, customer = verified_account("bo@example.com", first_name="Bo")
    conversation = Conversation.objects.create(visitor_key="v1", bot_active=False, customer=customer,
                                               email="bo@example.com")
    services.add_shopper_message(conversation=conversation, body="Can you help me?", rate_key="test:v1")
    return user, conversation


def staff_sends(conversation, **data):
    """An agent allowed every selling tool presses one of the conversation page's buttons."""
    from django.contrib.auth import get_user_model

    staff = Client()
    staff.force_login(get_user_model().objects.filter(username="anna").first()
                      or agent("anna", "Order managers", perms=[("promotions", "change_promotion")]))
    response = staff.post(f"/admin/chat/conversation/{conversation.pk}/act/", data, headers={"Accept": "application/json"})
    assert response.status_code == 204, response.content


def in_the_launcher(client, user) -> dict:
    """The last message's payload as the launcher's script gets it."""
    client.force_login(user)
    return client.get("/chat/state/").json()["messages"][-1]["payload"]


def form_to(page, action: str):
    return next(form for form in page.forms.values() if form.action == action)


def on_the_messages_page(django_app, user):
    """The conversation page, opened from the account's "Messages"; the last message's element."""
    listing = django_app.get("/account/messages/", user=user)
    page = listing.click(href="/chat/c/")
    return page, page.html.select("#chat-transcript .chat-message")[-1]


# --- Product cards ----------------------------------------------------------------------------


def test_a_product_card_with_one_variant_goes_to_the_cart_from_either_side(client, django_app, shopper,
                                                                           storefront_catalog):
    user, conversation = shopper
    lamp = storefront_catalog.lamp
    staff_sends(conversation, do="card", product="https://shop.example/p/camp-lamp/")

    card = in_the_launcher(client, user)["cards"][0]
    assert card == {"title": "Camp Lamp", "url": "/p/camp-lamp/", "price": "$35.00", "image": "", "in_stock": True,
                    "product": lamp.pk, "variant": lamp.variants.get().pk}

    page, message = on_the_messages_page(django_app, user)
    shown = message.select_one(".chat-product")
    assert shown.select_one("a.chat-card-title")["href"] == "/p/camp-lamp/"
    assert shown.select_one(".chat-card-price").text == "$35.00"
    form = form_to(page, "/cart/add/")
    assert (form["variant"].value, form["product"].value) == (str(lamp.variants.get().pk), str(lamp.pk))
    back = form.submit().follow()  # with the page's CSRF token, back to the conversation
    assert back.request.path == page.request.path and "Added 1 × Camp Lamp to your cart." in back.text
    assert Cart.objects.get(user=user).lines.get().variant.sku == "LAMP-1"


def test_a_product_card_with_several_variants_shows_its_picture_and_sends_to_its_page(client, django_app, shopper,
                                                                                     storefront_catalog):
    user, conversation = shopper
    staff_sends(conversation, do="card", product="storm-shell")

    card = in_the_launcher(client, user)["cards"][0]
    assert "variant" not in card and card["price"] == "$120.00"
    assert card["image"].startswith("/media/")

    _page, message = on_the_messages_page(django_app, user)
    assert message.select_one(".chat-product img")["src"] == card["image"]
    assert message.select_one(".chat-product a.chat-card-action")["href"] == "/p/storm-shell/"
    assert not message.select("form")


def test_a_card_whose_chosen_option_is_out_of_stock_says_so_and_offers_the_others(client, django_app, shopper,
                                                                                  storefront_catalog):
    """Storm Shell red/m has no stock, its other variants have: the assistant's card for "in M"
    (red/m the one that fits) must not offer "Add to cart" for it."""
    from chat.assistant import find_products

    user, conversation = shopper
    services.add_agent_message(conversation=conversation, author=None, body="Found",
                               payload={"cards": find_products("waterproof jacket in M")})

    card = in_the_launcher(client, user)["cards"][0]
    assert card["url"] == "/p/storm-shell/" and "variant" not in card
    assert card["in_stock"] is False and card["options_in_stock"] is True

    page, message = on_the_messages_page(django_app, user)
    shown = message.select_one(".chat-product")
    assert shown.select_one(".chat-card-note").text == "Out of stock"
    assert shown.select_one("a.chat-card-action").text == "Choose options"
    assert shown.select_one("a.chat-card-action")["href"] == "/p/storm-shell/"
    assert not message.select("form")


def test_a_card_whose_only_variant_is_sold_out_is_out_of_stock_without_options(client, shopper, storefront_catalog):
    user, conversation = shopper
    staff_sends(conversation, do="card", product="trail-tee")  # one variant, no stock

    card = in_the_launcher(client, user)["cards"][0]
    assert card["in_stock"] is False and "variant" not in card and "options_in_stock" not in card


# --- A cart the agent built ---------------------------------------------------------------------


def test_a_cart_link_shows_its_lines_and_prices_and_its_button_fills_the_cart(client, django_app, shopper,
                                                                               storefront_catalog):
    user, conversation = shopper
    staff_sends(conversation, do="cart_link", lines="SHELL-RED-S x 2\nLAMP-1")

    cart = in_the_launcher(client, user)["cart"]
    assert cart["added"] is False and cart["url"].startswith("/chat/cart/")
    assert cart["lines"] == [
        {"title": "Storm Shell", "sku": "SHELL-RED-S", "quantity": 2, "price": "$120.00", "total": "$240.00"},
        {"title": "Camp Lamp", "sku": "LAMP-1", "quantity": 1, "price": "$35.00", "total": "$35.00"},
    ]
    assert cart["total"] == "$275.00"

    page, message = on_the_messages_page(django_app, user)
    shown = message.select_one(".chat-cart")
    assert [li.text.split() for li in shown.select(".chat-cart-lines li")] == [
        ["2", "×", "Storm", "Shell", "($120.00", "each)", "$240.00"], ["1", "×", "Camp", "Lamp", "$35.00"]]
    assert shown.select_one(".chat-cart-total").text.split() == ["Total", "$275.00"]
    form = form_to(page, cart["url"])
    form.submit().follow()
    filled = Cart.objects.get(user=user)
    assert {(line.variant.sku, line.quantity) for line in filled.lines.select_related("variant")} == {
        ("SHELL-RED-S", 2), ("LAMP-1", 1)}


def test_a_cart_filled_by_the_agent_links_to_the_cart(client, django_app, shopper, storefront_catalog):
    user, conversation = shopper
    staff_sends(conversation, do="cart_add", lines="LAMP-1 x 3")

    cart = in_the_launcher(client, user)["cart"]
    assert cart["added"] is True and cart["url"] == "/cart/" and cart["total"] == "$105.00"

    _page, message = on_the_messages_page(django_app, user)
    assert message.select_one(".chat-cart .chat-card-heading").text == "In your cart now"
    assert message.select_one(".chat-cart a.chat-card-action")["href"] == "/cart/"


# --- A discount code ------------------------------------------------------------------------------


def test_a_discount_code_shows_what_it_gives_and_applies_to_the_cart(client, django_app, shopper, storefront_catalog):
    from decimal import Decimal

    user, conversation = shopper
    promotion = PromotionFactory(name="Sorry for the wait", trigger=Promotion.Trigger.CODE,
                                 reward=Promotion.Reward.PERCENT_ORDER, value=Decimal("15"),
                                 min_subtotal=Decimal("50"))
    staff_sends(conversation, do="discount", promotion=promotion.pk)

    discount = in_the_launcher(client, user)["discount"]
    code = discount["code"]
    assert code.startswith("CHAT") and discount == {
        "code": code, "promotion": "Sorry for the wait", "gives": "15% off your order, on orders of $50.00 or more",
        "apply_url": "/promotions/code/"}  # no promotion id: nothing the shopper needs

    page, message = on_the_messages_page(django_app, user)
    shown = message.select_one(".chat-discount")
    assert shown.select_one(".chat-discount-code").text == code
    assert shown.select_one("button.chat-copy")["data-copy"] == code
    assert "15% off your order" in shown.select_one(".chat-discount-gives").text
    form = form_to(page, "/promotions/code/")
    assert form["code"].value == code
    cart_page = form.submit().follow()
    assert cart_page.request.path == "/cart/" and f"Code {code} added." in cart_page.text


# --- A gift card --------------------------------------------------------------------------------


def test_a_gift_card_shows_its_amount_and_how_to_use_it_never_a_code(client, django_app, shopper, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    from giftcards.models import GiftCard

    user, conversation = shopper
    with django_capture_on_commit_callbacks(execute=True):
        staff_sends(conversation, do="gift_card", amount="20", reason="late parcel")

    assert in_the_launcher(client, user)["gift_card"] == {"amount": "$20.00"}  # not even the card's id

    page, message = on_the_messages_page(django_app, user)
    shown = message.select_one(".chat-gift-card")
    assert shown.select_one(".chat-card-heading").text == "A gift card of $20.00"
    assert "Gift cards" in shown.text and "checkout" in shown.text
    card = GiftCard.objects.get()
    emailed = next(m for m in mailoutbox if card.last4 and card.last4 in m.body)
    assert emailed.to == ["bo@example.com"]  # the code went there, and only there
    assert card.last4 not in message.text and card.last4 not in json.dumps(in_the_launcher(client, user))


# --- Order and payment links --------------------------------------------------------------------


def test_an_order_awaiting_payment_is_sent_with_its_total_and_pay_now(client, django_app, shopper):
    from decimal import Decimal

    from orders.links import signed_order_url

    user, conversation = shopper
    order = OrderFactory(customer=conversation.customer, user=user, email="bo@example.com", total=Decimal("1234.50"))
    staff_sends(conversation, do="order", order=order.number.lower())

    shown_order = in_the_launcher(client, user)["orders"][0]
    assert shown_order == {"number": order.number, "url": signed_order_url(order), "status": order.get_state_display(),
                           "total": "$1,234.50", "pay": True}

    _page, message = on_the_messages_page(django_app, user)
    card = message.select_one(".chat-order")
    assert order.number in card.select_one(".chat-card-heading").text
    assert card.select_one(".chat-order-total").text == "$1,234.50"
    button = card.select_one("a.chat-card-action")
    assert (button.text, button["href"]) == ("Pay now", signed_order_url(order))


def test_a_paid_order_is_a_link_to_view_it(client, django_app, shopper):
    from orders.models import Order

    user, conversation = shopper
    order = OrderFactory(customer=conversation.customer, user=user, payment_status=Order.PaymentStatus.PAID)
    staff_sends(conversation, do="order", order=order.number)

    assert in_the_launcher(client, user)["orders"][0]["pay"] is False
    _page, message = on_the_messages_page(django_app, user)
    assert message.select_one(".chat-order a.chat-card-action").text == "View order"


# --- Escaping, addresses, and cost --------------------------------------------------------------


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_payload_text_is_escaped_and_bad_addresses_are_dropped(client, shopper):
    user, conversation = shopper
    services.add_agent_message(conversation=conversation, author=None, body="See these", payload={
        "cards": [{"title": HOSTILE, "url": "javascript:alert(3)", "price": HOSTILE, "image": "//evil.example/x.png",
                   "in_stock": True, "product": "1", "variant": 2}],
        "cart": {"url": "JavaScript:alert(4)", "lines": [{"title": HOSTILE, "sku": HOSTILE, "quantity": 1,
                                                          "unit_price": "nonsense"}]},
        "discount": {"code": HOSTILE, "promotion": HOSTILE, "gives": HOSTILE},
        "orders": [{"number": HOSTILE, "url": " /orders/x/", "status": HOSTILE, "total": "1e999999", "pay": "yes"}],
        "llm": "internal", "unanswered": "internal",
    })

    launcher = in_the_launcher(client, user)
    assert set(launcher) == {"cards", "cart", "discount", "orders"}  # nothing internal
    assert launcher["cards"][0]["url"] == launcher["cards"][0]["image"] == "" and "variant" not in launcher["cards"][0]
    assert launcher["cart"]["url"] == "" and launcher["orders"][0]["url"] == ""
    assert launcher["cart"]["lines"][0]["price"] == "" and launcher["orders"][0]["pay"] is False

    token = identity.link_token(conversation.public_id)
    page = client.get(f"/chat/c/{token}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "onerror=alert(2)>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7  # every field, as text
    assert "javascript:" not in page.lower() and "evil.example" not in page


@pytest.mark.parametrize("url, kept", [
    ("/p/lamp/", True), ("https://cdn.example/a.png", True), ("//evil.example/", False), ("/\\evil.example", False),
    ("javascript:alert(1)", False), ("data:text/html,x", False), (None, False), (["/p/"], False),
])
def test_only_this_sites_paths_and_web_links_are_addresses(url, kept):
    assert (safe_url(url) == url) is kept
    assert for_shopper({"cards": [{"title": "x", "url": url}]})["cards"][0]["url"] == (url if kept else "")


def test_the_conversation_page_costs_the_same_with_every_kind_of_card(client, shopper, storefront_catalog):
    from django.db import connection

    user, conversation = shopper
    token = identity.link_token(conversation.public_id)
    client.get(f"/chat/c/{token}/")  # the first view fills the caches every page reads
    with CaptureQueriesContext(connection) as plain:
        client.get(f"/chat/c/{token}/")
    staff_sends(conversation, do="card", product="camp-lamp")
    staff_sends(conversation, do="cart_link", lines="LAMP-1")
    staff_sends(conversation, do="order", order=OrderFactory(customer=conversation.customer).number)

    with CaptureQueriesContext(connection) as with_cards:
        page = client.get(f"/chat/c/{token}/")

    assert b"chat-product" in page.content and b"chat-cart" in page.content and b"chat-order" in page.content
    assert len(with_cards) == len(plain)
