"""Selling from the inbox: a cart built for the shopper, a discount code, a gift card. Each form is
followed as the conversation page renders it and submitted as a browser would (WebTest)."""
import datetime
from decimal import Decimal

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from carts.models import Cart, CartLine
from chat import actions, services
from chat.exceptions import ChatError
from chat.models import Conversation, Message
from customers.models import Activity
from customers.tests.factories import CustomerFactory
from giftcards.models import GiftCard
from promotions.models import Code, Promotion
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db

INBOX = "/admin/chat/conversation/"


def agent(name="anna", *groups, perms=()):
    user = get_user_model().objects.create_user(name, is_staff=True, first_name=name.title())
    for group in ("Support", *groups):
        user.groups.add(Group.objects.get(name=group))
    for app_label, codename in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def conversation_of(customer=None, **fields) -> Conversation:
    conversation = Conversation.objects.create(visitor_key="v1", bot_active=False, customer=customer, **fields)
    services.add_shopper_message(conversation=conversation, body="Can you help me choose?", rate_key="test:v1")
    conversation.refresh_from_db()
    return conversation


def page(django_app, user, conversation):
    return django_app.get(f"{INBOX}{conversation.pk}/change/", user=user)


def submit_cart(django_app, conversation, lines: str, do: str):
    """The agent types `lines` in the page's cart box and presses "Add to their cart" or "Send as a cart link"."""
    form = page(django_app, agent(), conversation).forms["chat-cart-form"]
    form["lines"] = lines
    return form.submit("do", value=do).follow()


def last_agent_message(conversation) -> Message:
    return conversation.messages.filter(sender="agent").order_by("-pk").first()


# --- Carts -----------------------------------------------------------------------------------


def test_an_agent_fills_a_signed_in_customers_cart_and_it_is_recorded(django_app, storefront_catalog,
                                                                      django_user_model):
    shopper = django_user_model.objects.create_user("bo", email="bo@example.com")
    customer = CustomerFactory(user=shopper, email="bo@example.com")
    conversation = conversation_of(customer)
    anna = agent()

    form = page(django_app, anna, conversation).forms["chat-cart-form"]
    form["lines"] = "SHELL-RED-S x 2\nLAMP-1"
    form.submit("do", value="cart_add").follow()

    cart = Cart.objects.get(user=shopper)
    assert {(line.variant.sku, line.quantity) for line in cart.lines.select_related("variant")} == {
        ("SHELL-RED-S", 2), ("LAMP-1", 1)}
    said = last_agent_message(conversation)
    assert said.author == anna and "2 × Storm Shell, 1 × Camp Lamp" in said.body
    assert said.payload["cart"]["url"] == "/cart/"
    activity = Activity.objects.filter(customer=customer, kind=Activity.Kind.CHAT).order_by("-pk").first()
    assert "Storm Shell" in activity.message and activity.data["conversation"] == conversation.pk


def test_a_guests_recorded_cart_is_the_one_filled(django_app, storefront_catalog):
    guest_cart = Cart.objects.create()
    conversation = conversation_of(cart=guest_cart)

    submit_cart(django_app, conversation, "LAMP-1 3", "cart_add")

    assert list(guest_cart.lines.values_list("variant__sku", "quantity")) == [("LAMP-1", 3)]
    assert Cart.objects.count() == 1


def test_a_line_out_of_stock_refuses_the_whole_cart_with_the_carts_own_message(django_app, storefront_catalog):
    conversation = conversation_of(cart=Cart.objects.create())

    shown = submit_cart(django_app, conversation, "LAMP-1\nTEE-RED-M x 1", "cart_add")

    assert "Sorry, Trail Tee is out of stock." in shown.text
    assert not CartLine.objects.exists()
    assert last_agent_message(conversation) is None


@pytest.mark.parametrize("lines, said", [
    ("", "Give at least one SKU"),
    ("NOPE-1", "No product on sale has the SKU “NOPE-1”."),
    ("PROTO-1", "No product on sale has the SKU “PROTO-1”."),  # a draft product
    ("LAMP-1 x 0", "a quantity from 1 to 20"),
    ("LAMP-1 x 2 please", "Cannot read the line"),
])
def test_bad_cart_lines_say_what_is_wrong_and_change_nothing(django_app, storefront_catalog, lines, said):
    conversation = conversation_of(cart=Cart.objects.create())

    shown = submit_cart(django_app, conversation, lines, "cart_link")

    assert said in shown.text
    assert last_agent_message(conversation) is None


def test_a_guest_without_a_cart_gets_a_link_instead(django_app, storefront_catalog):
    conversation = conversation_of()

    shown = submit_cart(django_app, conversation, "LAMP-1", "cart_add")

    assert "Send a cart link instead" in shown.text
    assert not Cart.objects.exists()


def test_a_cart_link_fills_the_cart_of_whoever_opens_it_when_they_press_the_button(
        django_app, storefront_catalog, django_assert_max_num_queries):
    conversation = conversation_of(email="bo@example.com")
    submit_cart(django_app, conversation, "SHELL-RED-S x 2\nLAMP-1", "cart_link")
    said = last_agent_message(conversation)
    path = said.payload["cart"]["url"]
    assert path.startswith("/chat/cart/") and path in said.body

    shopper = Client()
    with django_assert_max_num_queries(8):
        shown = shopper.get(path)  # cold: nothing cached for this page
    assert shown.status_code == 200 and "Storm Shell" in shown.content.decode() and "$120.00" in shown.content.decode()
    assert not CartLine.objects.exists()  # looking changes nothing

    done = shopper.post(path)

    assert done.status_code == 302 and done["Location"] == "/cart/"
    assert sorted(CartLine.objects.values_list("variant__sku", "quantity")) == [("LAMP-1", 1), ("SHELL-RED-S", 2)]
    assert "Storm Shell" in shopper.get("/cart/").content.decode()


def test_a_tampered_or_expired_cart_link_opens_nothing(client, storefront_catalog):
    lines = actions.parse_cart_lines("LAMP-1")
    with time_machine.travel(datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC), tick=False):
        token = actions.cart_link_token(lines)

    assert client.get(f"/chat/cart/{token[:-2]}xx/").status_code == 404
    with time_machine.travel(datetime.datetime(2026, 12, 20, tzinfo=datetime.UTC), tick=False):
        expired = client.post(f"/chat/cart/{token}/")
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    assert not CartLine.objects.exists()


# --- Discount codes --------------------------------------------------------------------------


def test_support_alone_has_no_discount_or_gift_card_tools_and_cannot_post_them(django_app, client):
    promotion = PromotionFactory(trigger=Promotion.Trigger.CODE)
    conversation = conversation_of(email="bo@example.com")
    anna = agent()

    forms = page(django_app, anna, conversation).forms
    assert "chat-discount-form" not in forms and "chat-gift-card-form" not in forms
    client.force_login(anna)
    assert client.post(f"{INBOX}{conversation.pk}/act/", {"do": "discount", "promotion": promotion.pk}).status_code == 403
    assert client.post(f"{INBOX}{conversation.pk}/act/",
                       {"do": "gift_card", "amount": "20", "reason": "late"}).status_code == 403
    assert not Code.objects.exists() and not GiftCard.objects.exists()


def test_an_agent_with_the_promotion_right_sends_a_new_single_use_code(django_app):
    promotion = PromotionFactory(name="Sorry 10%", trigger=Promotion.Trigger.CODE)
    PromotionFactory(name="Automatic sale")  # no code: not offered
    PromotionFactory(name="Switched off", trigger=Promotion.Trigger.CODE, is_active=False)
    customer = CustomerFactory(email="bo@example.com")
    conversation = conversation_of(customer)
    anna = agent(perms=[("promotions", "change_promotion")])

    form = page(django_app, anna, conversation).forms["chat-discount-form"]
    assert [label for _value, _selected, label in form["promotion"].options] == ["—", "Sorry 10%"]
    form["promotion"] = str(promotion.pk)
    form.submit().follow()

    code = Code.objects.get()
    assert code.promotion == promotion and code.max_uses == 1 and code.code.startswith("CHAT")
    said = last_agent_message(conversation)
    assert code.code in said.body and said.payload["discount"]["code"] == code.code
    assert Activity.objects.filter(customer=customer, data__code=code.code).exists()


@pytest.mark.parametrize("reward, value, extra, gives", [
    (Promotion.Reward.PERCENT_LINES, "15", {}, "15% off on the items it covers"),
    (Promotion.Reward.FIXED_LINES, "5", {}, "$5.00 off each on the items it covers"),
    (Promotion.Reward.FIXED_PRICE, "20", {}, "Now $20.00 on the items it covers"),
    (Promotion.Reward.BUY_X_GET_Y, "100", {"buy_quantity": 2, "get_quantity": 1},
     "Buy 2, get 1 free on the items it covers"),
    (Promotion.Reward.PERCENT_ORDER, "10", {"min_subtotal": Decimal("50")}, "10% off your order, on orders of $50.00 or more"),
    (Promotion.Reward.SHIPPING, "100", {}, "Free shipping"),
])
def test_a_code_card_says_what_it_gives_as_the_storefront_labels_say_it(reward, value, extra, gives):
    from promotions import labels, offers

    promotion = PromotionFactory.build(trigger=Promotion.Trigger.CODE, reward=reward, value=Decimal(value), **extra)

    assert actions.discount_gives(promotion) == gives
    if reward in labels.LABELLED:  # the product page's own words for the same reward
        assert gives.startswith(labels.label_text(offers.to_offer(promotion, {})))


def test_a_promotion_without_a_code_or_switched_off_is_refused(client):
    anna = agent(perms=[("promotions", "change_promotion")])
    conversation = conversation_of()
    client.force_login(anna)
    for promotion in (PromotionFactory(), PromotionFactory(trigger=Promotion.Trigger.CODE, is_active=False)):
        response = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "discount", "promotion": promotion.pk},
                               follow=True)
        assert "Choose an active promotion that works with a code." in response.content.decode()
    assert not Code.objects.exists()


# --- Gift cards ------------------------------------------------------------------------------


def test_an_order_manager_sends_a_gift_card_by_email_never_in_the_chat(django_app, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="bo@example.com", first_name="Bo")
    conversation = conversation_of(customer, email="bo@example.com")
    anna = agent("anna", "Order managers")

    form = page(django_app, anna, conversation).forms["chat-gift-card-form"]
    form["amount"] = "15.50"
    form["reason"] = "parcel arrived late"
    with django_capture_on_commit_callbacks(execute=True):
        form.submit().follow()

    card = GiftCard.objects.get()
    assert card.initial_balance == Decimal("15.50") and card.recipient_email == "bo@example.com"
    assert card.issued_by == anna and "parcel arrived late" in card.reason
    said = last_agent_message(conversation)
    assert "$15.50" in said.body and said.payload["gift_card"]["id"] == card.pk
    card.refresh_from_db()
    assert card.last4 and card.delivered_at is not None
    card_emails = [m for m in mailoutbox if m.to == ["bo@example.com"] and card.last4 in m.body]
    reply_emails = [m for m in mailoutbox if m.to == ["bo@example.com"] and card.last4 not in m.body]
    assert len(card_emails) == 1 and len(reply_emails) == 1  # the card, and the agent's words
    assert card.last4 not in said.body and "$15.50" in reply_emails[0].body
    assert Activity.objects.filter(customer=customer, data__gift_card=card.pk).exists()


@pytest.mark.parametrize("amount, reason, said", [
    ("-5", "late", "positive amount"), ("abc", "late", "positive amount"), ("1.234", "late", "positive amount"),
    ("NaN", "late", "positive amount"), ("20", "  ", "Say why the card is given"),
])
def test_a_bad_gift_card_says_what_is_wrong_and_issues_nothing(client, amount, reason, said):
    conversation = conversation_of(email="bo@example.com")
    client.force_login(agent("anna", "Order managers"))

    response = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "gift_card", "amount": amount, "reason": reason},
                           follow=True)

    assert said in response.content.decode()
    assert not GiftCard.objects.exists() and last_agent_message(conversation) is None


@given(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("100000"), places=3, allow_nan=False))
def test_a_gift_card_value_is_taken_exactly_or_refused(value):
    text = str(value)
    if value > 0 and value == value.quantize(Decimal("0.01")):
        assert actions.gift_card_value(text) == value
        assert actions.gift_card_value(text.replace(".", ",")) == value
    else:
        with pytest.raises(ChatError):
            actions.gift_card_value(text)


def test_a_gift_card_needs_an_email_address(client):
    conversation = conversation_of()
    client.force_login(agent("anna", "Order managers"))

    response = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "gift_card", "amount": "10", "reason": "sorry"},
                           follow=True)

    assert "email address first: the card" in response.content.decode()
    assert not GiftCard.objects.exists()


def test_the_conversation_page_with_every_tool_stays_within_its_budget(client, django_assert_max_num_queries):
    for n in range(5):
        PromotionFactory(name=f"Code {n}", trigger=Promotion.Trigger.CODE)
    conversation = conversation_of(CustomerFactory())
    client.force_login(agent("anna", "Order managers", perms=[("promotions", "change_promotion")]))

    with django_assert_max_num_queries(30):
        response = client.get(f"{INBOX}{conversation.pk}/change/")

    assert response.status_code == 200 and len(response.context["code_promotions"]) == 5


# --- A draft order with a payment link (stafforders) ---------------------------------------------

def test_an_agent_who_takes_orders_starts_a_draft_for_the_conversations_customer(django_app):
    from stafforders.models import DraftOrder

    customer = CustomerFactory(email="bo@example.com", first_name="Bo", last_name="Diaz")
    conversation = conversation_of(customer)
    clerk = agent("carl", perms=[("stafforders", "add_draftorder"), ("stafforders", "view_draftorder"),
                                 ("stafforders", "change_draftorder")])

    chat_page = page(django_app, clerk, conversation)
    draft_page = chat_page.forms["chat-draft-order-form"].submit().follow()
    form = draft_page.forms["draftorder_form"]

    draft = DraftOrder.objects.get()
    assert draft_page.request.path == f"/admin/stafforders/draftorder/{draft.pk}/change/"
    assert draft.conversation == conversation and draft.created_by == clerk
    assert form["customer"].value == str(customer.pk)
    assert (form["email"].value, form["customer_name"].value) == ("bo@example.com", "Bo Diaz")
    assert form["note"].value == f"From chat conversation {conversation.pk}"
    note = last_agent_message(conversation)
    assert note.is_note and note.payload == {"draft": draft.pk}  # staff see it started; the shopper does not


def test_an_agent_who_may_not_take_orders_is_not_offered_a_draft(django_app):
    conversation = conversation_of(CustomerFactory())

    chat_page = page(django_app, agent(), conversation)

    assert not chat_page.html.select("#chat-draft-order")
    client = Client()
    client.force_login(get_user_model().objects.get(username="anna"))
    response = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "draft_order"})
    assert response.status_code == 403 and not conversation.draft_orders.exists()
