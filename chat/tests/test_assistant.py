"""The built-in assistant, driven as the launcher drives it (text and quick-reply actions)."""
import datetime

import pytest
import time_machine
from django.test import Client

from chat import assistant, services
from chat.models import Conversation, FaqEntry, Message
from orders.tests.factories import OrderFactory

from .factories import FaqEntryFactory

pytestmark = pytest.mark.django_db


def start(client, body, **extra):
    data = client.post("/chat/start/", {"body": body, **extra}).json()
    return data, Conversation.objects.get(public_id=data["conversation"]["id"])


def say(client, data, body="", action="", value=""):
    return client.post(data["conversation"]["urls"]["send"], {"body": body, "action": action, "value": value}).json()


def last_bot(conversation) -> Message:
    return conversation.messages.filter(sender__in=["bot", "system"], is_note=False).order_by("-pk").first()


@pytest.mark.parametrize("asked", [
    "can i return an item?", "How do I send something back", "whats your returns policy", "retrun policy?",
])
def test_a_faq_answers_the_ways_people_ask(client, asked):
    FaqEntryFactory()
    FaqEntryFactory(question="Do you ship abroad?", variants="international shipping", answer="We ship to the EU.")

    _data, conversation = start(client, asked)

    assert last_bot(conversation).body.startswith("You can return anything")
    assert FaqEntry.objects.get(question__startswith="What is").times_used == 1


def test_below_the_threshold_it_says_it_is_not_sure(client):
    FaqEntryFactory()

    _data, conversation = start(client, "is the moon made of cheese")

    assert "not sure" in last_bot(conversation).body


def test_two_unaccepted_answers_offer_a_person(client, settings):
    settings.CHAT_OPENING_HOURS = ""
    data, conversation = start(client, "blorp")  # not understood: one miss
    say(client, data, "No that's wrong", action="reject")  # two

    offer = last_bot(conversation)
    assert [r["action"] for r in offer.payload["quick_replies"]] == ["person", "menu"]
    say(client, data, "Yes, a person please", action="person")
    conversation.refresh_from_db()
    assert conversation.bot_active is False
    assert conversation.messages.filter(is_note=True, body__startswith="Handed to a person").exists()


def test_talk_to_a_person_any_time_by_words(client, settings):
    settings.CHAT_OPENING_HOURS = ""
    _data, conversation = start(client, "I want to talk to a real person")

    conversation.refresh_from_db()
    assert conversation.bot_active is False


@time_machine.travel(datetime.datetime(2026, 12, 5, 22, 0, tzinfo=datetime.UTC), tick=False)  # a Saturday night
def test_out_of_hours_it_says_when_and_asks_for_an_email(client, settings):
    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    data, conversation = start(client, "talk to a person")

    told = last_bot(conversation)
    assert "Monday 09:00" in told.body and told.payload["ask_email"] is True
    say(client, data, "it's bo@example.com thanks")
    conversation.refresh_from_db()
    assert conversation.email == "bo@example.com"


def test_a_signed_in_shopper_picks_from_their_orders(client):
    from customers.tests.helpers import verified_account

    user, customer = verified_account("ada@example.com")
    mine = OrderFactory(user=user, customer=customer, email="ada@example.com")
    theirs = OrderFactory(email="other@example.com")
    client.force_login(user)
    data, conversation = start(client, "Where is my order?")

    offered = last_bot(conversation).payload["quick_replies"]
    assert [r["value"] for r in offered] == [mine.number]
    say(client, data, mine.number, action="order_pick", value=mine.number)
    assert last_bot(conversation).payload["orders"][0]["url"] == f"/orders/number/{mine.number}/"
    say(client, data, theirs.number, action="order_pick", value=theirs.number)
    assert "could not find" in last_bot(conversation).body


def test_a_guest_needs_the_number_and_the_email_and_a_wrong_pair_reveals_nothing(client):
    order = OrderFactory(email="bo@example.com")
    other = OrderFactory(email="cy@example.com")
    data, conversation = start(client, "where is my order")
    assert last_bot(conversation).payload["expect"] == "order_lookup"

    say(client, data, f"{order.number} cy@example.com")  # a real number, another order's email
    wrong_pair = last_bot(conversation).body
    say(client, data, f"ZZZZ-ZZZZ bo@example.com")  # no such number
    assert last_bot(conversation).body == wrong_pair
    assert other.number not in wrong_pair and "orders" not in last_bot(conversation).payload

    say(client, data, f"it is {order.number.lower()}, BO@example.com")
    found = last_bot(conversation)
    assert found.payload["orders"][0]["number"] == order.number
    assert found.payload["orders"][0]["url"].startswith("/orders/")  # the signed link


def test_guest_order_lookups_are_limited(client):
    order = OrderFactory(email="bo@example.com")
    data, conversation = start(client, "order status")
    for _ in range(assistant.ORDER_LOOKUPS_PER_HOUR):
        say(client, data, "AAAA-AAAA x@example.com")

    say(client, data, f"{order.number} bo@example.com")  # right, but too late

    assert "Too many tries" in last_bot(conversation).body


def test_finding_products_with_a_price_and_a_size(client, storefront_catalog):
    data, conversation = start(client, "Find a product", action="find_products")

    say(client, data, "waterproof jacket under 150 in M")

    cards = last_bot(conversation).payload["cards"]
    assert [c["url"] for c in cards] == ["/p/storm-shell/"]
    # red/m is the one Storm Shell in M, and it has no stock (the other Storm Shells have): no
    # "Add to cart" for it, "Out of stock", and its page to choose another option.
    assert "variant" not in cards[0]
    assert cards[0]["in_stock"] is False and cards[0]["options_in_stock"] is True
    # red/s is in stock: it can go to the cart from the chat
    from catalog.models import Variant

    red_s = Variant.objects.get(sku="SHELL-RED-S")
    (card,) = assistant.find_products("red waterproof jacket in S")
    assert (card["variant"], card["product"], card["in_stock"]) == (red_s.pk, red_s.product_id, True)
    say(client, data, "", action="find_products")
    say(client, data, "waterproof jacket under 100")
    assert "found nothing" in last_bot(conversation).body


def test_the_query_parser_reads_price_and_options(storefront_catalog):
    query, filters = assistant.parse_product_query("red shell under $125.50 in M")

    assert query == "shell"
    assert str(filters.price_max) == "125.50"
    assert {k: sorted(v) for k, v in filters.options.items()} == {"colour": ["red"], "size": ["m"]}


def test_after_a_hand_off_the_assistant_is_silent(client, settings, django_user_model):
    settings.CHAT_OPENING_HOURS = ""
    data, conversation = start(client, "talk to a person")
    count = conversation.messages.count()

    say(client, data, "hello?")

    assert conversation.messages.count() == count + 1
    assert conversation.messages.order_by("-pk").first().sender == "shopper"


def test_the_demo_faq_answers_common_questions_and_seeding_twice_adds_nothing(client):
    from chat.demo import seed_demo_chat

    assert seed_demo_chat() == (1, 3)
    assert seed_demo_chat() == (0, 0)

    _data, conversation = start(client, "can i pay by card?")

    assert last_bot(conversation).body.startswith("We take all major cards")


# --- Shipping, pick-up and returns, from the store's settings ---------------------------------


def test_shipping_is_answered_from_the_zones_methods_and_bands_staff_set_up(client):
    from decimal import Decimal

    from checkout.models import ShippingMethod, ShippingRateBand, ShippingZone

    ShippingZone.objects.all().delete()
    domestic = ShippingZone.objects.create(name="Domestic", countries="US")
    ShippingMethod.objects.create(zone=domestic, name="Standard", price=Decimal("4.90"), free_above=Decimal("75.00"))
    ShippingMethod.objects.create(zone=domestic, name="Retired", price=Decimal("1.00"), is_active=False)
    europe = ShippingZone.objects.create(name="Europe", countries="FR, DE")
    banded = ShippingMethod.objects.create(zone=europe, name="Tracked", kind=ShippingMethod.Kind.WEIGHT)
    ShippingRateBand.objects.create(method=banded, up_to=Decimal("2"), price=Decimal("12.00"))
    ShippingRateBand.objects.create(method=banded, up_to=Decimal("10"), price=Decimal("25.00"))

    _data, conversation = start(client, "how much is shipping to France?")

    said = last_bot(conversation)
    assert said.payload["policy"] == "shipping"
    assert "Domestic (US): Standard: $4.90, free from $75.00." in said.body
    assert "Europe (FR, DE): Tracked: from $12.00." in said.body
    assert "Retired" not in said.body

    # A rate changed in the back office is what the assistant says next.
    ShippingMethod.objects.filter(name="Standard").update(price=Decimal("5.50"))
    say(client, _data, "and delivery costs?")
    assert "Standard: $5.50" in last_bot(conversation).body


def test_pick_up_lists_the_shops_that_allow_it_with_their_address(client):
    from catalog.models import Location

    Location.objects.create(name="Harbour Street shop", code="harbour", kind="shop", pickup_allowed=True,
                            address_line1="12 Harbour Street", postal_code="02110", city="Boston")
    Location.objects.create(name="Back warehouse", code="back", pickup_allowed=False)
    Location.objects.create(name="Closed shop", code="closed", kind="shop", pickup_allowed=True, is_active=False)

    _data, conversation = start(client, "can i collect my order in store?")

    said = last_bot(conversation)
    assert said.payload["policy"] == "pickup"
    assert "Harbour Street shop (12 Harbour Street, 02110, Boston)" in said.body
    assert "Back warehouse" not in said.body and "Closed shop" not in said.body


def test_returns_say_the_policy_staff_set(client):
    from catalog.tests import factories as cf
    from returns.models import ReturnPolicy

    policy = ReturnPolicy.current()
    policy.window_days, policy.note = 14, "Pack items in their original box."
    policy.save()
    policy.excluded_categories.add(cf.CategoryFactory(name="Underwear"))

    _data, conversation = start(client, "what is your returns policy?")

    said = last_bot(conversation)
    assert said.payload["policy"] == "returns" and "within 14 days" in said.body
    assert "These cannot be returned: Underwear." in said.body
    assert "Pack items in their original box." in said.body


def test_a_faq_entry_staff_wrote_wins_over_the_built_in_policy_answer(client):
    FaqEntryFactory()  # "What is your returns policy?"

    _data, conversation = start(client, "what is your returns policy?")

    assert last_bot(conversation).body.startswith("You can return anything")
