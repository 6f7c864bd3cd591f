"""What staff see of what they and the assistant sent: every kind as a compact card in the
conversation page's list, on reload (the page) and live (the fragment the page's script fetches
after the stream says a message arrived: the same template)."""
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from django.test import Client

from chat import services
from giftcards.models import GiftCard
from orders.tests.factories import OrderFactory
from promotions.models import Promotion
from promotions.tests.factories import PromotionFactory

from .test_actions import agent
from .test_payloads import shopper, staff_sends  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def staff_view(conversation) -> tuple[BeautifulSoup, BeautifulSoup]:
    """The page's message list (reload) and the live fragment of every message (`?after=0`)."""
    from django.contrib.auth import get_user_model

    staff = Client()
    staff.force_login(get_user_model().objects.filter(username="anna").first()
                      or agent("anna", "Order managers", perms=[("promotions", "change_promotion")]))
    page = staff.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    live = staff.get(f"/admin/chat/conversation/{conversation.pk}/messages/?after=0")
    assert page.status_code == live.status_code == 200
    return (BeautifulSoup(page.content, "html.parser").select_one("#chat-messages"),
            BeautifulSoup(live.content, "html.parser"))


def last(listing: BeautifulSoup):
    return listing.select("li.chat-admin-message")[-1]


def test_staff_see_the_cart_they_built_on_reload_and_live(shopper, storefront_catalog):
    _user, conversation = shopper
    staff_sends(conversation, do="cart_link", lines="SHELL-RED-S x 2\nLAMP-1")
    staff_sends(conversation, do="cart_add", lines="LAMP-1")

    for listing in staff_view(conversation):
        link, added = listing.select(".chat-cart")
        assert [li.text.split() for li in link.select(".chat-cart-lines li")] == [
            ["2", "×", "Storm", "Shell", "SHELL-RED-S", "$240.00"], ["1", "×", "Camp", "Lamp", "LAMP-1", "$35.00"]]
        assert link.select_one(".chat-cart-total").text.split() == ["Total", "$275.00"]
        assert "Cart link" in link.text and link.select_one("a")["href"].startswith("/chat/cart/")
        assert "Put in their cart" in added.text and "$35.00" in added.select_one(".chat-cart-total").text


def test_staff_see_the_discount_code_and_its_promotion(shopper):
    _user, conversation = shopper
    promotion = PromotionFactory(name="Sorry for the wait", trigger=Promotion.Trigger.CODE,
                                 reward=Promotion.Reward.PERCENT_ORDER, value=Decimal("15"))
    staff_sends(conversation, do="discount", promotion=promotion.pk)

    code = conversation.messages.latest("pk").payload["discount"]["code"]
    for listing in staff_view(conversation):
        shown = last(listing).select_one(".chat-discount")
        assert shown.select_one(".chat-discount-code").text == code
        assert shown.select_one("a").text == "Sorry for the wait"
        assert shown.select_one("a")["href"] == f"/admin/promotions/promotion/{promotion.pk}/change/"
        assert "15% off your order" in shown.text


def test_staff_see_the_gift_card_with_its_code_as_the_store_keeps_it(shopper, mailoutbox,
                                                                   django_capture_on_commit_callbacks):
    _user, conversation = shopper
    with django_capture_on_commit_callbacks(execute=True):
        staff_sends(conversation, do="gift_card", amount="20", reason="late parcel")
    card = GiftCard.objects.get()
    assert card.last4  # emailed: the code exists (in the email) and the store keeps its last four

    for listing in staff_view(conversation):
        shown = last(listing).select_one(".chat-gift-card")
        assert "Gift card of $20.00" in shown.text and "emailed to bo@example.com" in shown.text
        assert shown.select_one(".chat-gift-card-code").text == card.display_code
        assert card.last4 in card.display_code
        assert shown.select_one("a")["href"] == f"/admin/giftcards/giftcard/{card.pk}/change/"


def test_staff_see_a_product_card_and_an_order_link_with_what_the_shopper_could_do(shopper, storefront_catalog):
    user, conversation = shopper
    staff_sends(conversation, do="card", product="camp-lamp")
    order = OrderFactory(customer=conversation.customer, user=user, total=Decimal("99.90"))
    staff_sends(conversation, do="order", order=order.number)

    for listing in staff_view(conversation):
        product = listing.select_one(".chat-product")
        assert product.select_one("a")["href"] == "/p/camp-lamp/"
        assert "$35.00" in product.text and "with Add to cart" in product.text
        shown = last(listing).select_one(".chat-order")
        assert order.number in shown.text and "$99.90" in shown.text and "with Pay now" in shown.text


def test_what_the_assistant_sent_shows_too_in_one_query(
        shopper, storefront_catalog, django_assert_num_queries):
    from chat import selectors

    _user, conversation = shopper
    services.add_agent_message(conversation=conversation, author=None, body="Found", payload={
        "cards": [{"title": "Camp Lamp", "url": "/p/camp-lamp/", "price": "$35.00", "in_stock": False}]})
    with django_assert_num_queries(1):
        thread = selectors.staff_messages(conversation=conversation)
    assert thread[-1].shown["cards"][0]["title"] == "Camp Lamp"

    for shown in staff_view(conversation):
        assert "out of stock" in last(shown).select_one(".chat-product").text
