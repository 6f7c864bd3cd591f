"""Orders recorded as following a conversation when they are placed (`chat/attribution.py`),
through the real checkout: the agent's cart link, this browser's chat (a guest's), the customer's
conversation; shown on the order's page and the conversation's, and counted by the figures."""
import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from chat import actions, selectors
from chat.models import Conversation, ConversationOrder
from checkout.tests.conftest import address, fill_cart, shipping  # noqa: F401  (a fixture)
from customers.tests.factories import CustomerFactory
from orders.models import Order

pytestmark = pytest.mark.django_db

KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')
HOW = ConversationOrder.How


def place(client, shipping) -> Order:  # noqa: F811
    """Check out this browser's cart (standard delivery) and return the order."""
    response = client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))
    assert response.status_code == 302, response.content[:2000]
    key = KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]
    response = client.post("/checkout/place/", {"idempotency_key": key})
    assert response.status_code == 302
    return Order.objects.order_by("-pk").first()


def chatting_guest() -> tuple[Client, Conversation]:
    guest = Client()
    data = guest.post("/chat/start/", {"body": "Which jacket is waterproof?"}).json()
    return guest, Conversation.objects.get(public_id=data["conversation"]["id"])


def test_an_order_from_a_cart_link_is_its_conversations_and_both_pages_show_it(
        client, storefront_catalog, shipping):  # noqa: F811
    agent = get_user_model().objects.create_user("anna", is_staff=True)
    agent.groups.add(Group.objects.get(name="Support"))
    sent_in = Conversation.objects.create(visitor_key="on-another-device", bot_active=False, email="bo@example.com")
    actions.send_cart_link(conversation=sent_in, author=agent, lines=actions.parse_cart_lines("LAMP-1 x 2"))
    path = sent_in.messages.get(sender="agent").payload["cart"]["url"]
    # The shopper also chats from this browser: the cart link still wins.
    shopper, own_chat = chatting_guest()
    assert shopper.post(path).status_code == 302

    order = place(shopper, shipping)

    row = ConversationOrder.objects.get()
    assert (row.order, row.conversation, row.how) == (order, sent_in, HOW.CART_LINK)
    client.force_login(agent)
    order_page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert f'/admin/chat/conversation/{sent_in.pk}/change/' in order_page and "Cart link" in order_page
    conversation_page = client.get(f"/admin/chat/conversation/{sent_in.pk}/change/").content.decode()
    assert f'/admin/orders/order/{order.pk}/change/' in conversation_page and order.number in conversation_page

    # The session forgets the link once an order used it: the next order is this browser's chat's.
    fill_cart(shopper, ("LAMP-1", 1))
    second = place(shopper, shipping)
    assert ConversationOrder.objects.get(order=second).how == HOW.SAME_VISITOR
    assert ConversationOrder.objects.get(order=second).conversation == own_chat


def test_a_guests_order_is_their_chats_once_and_the_figures_count_it_when_paid(
        client, storefront_catalog, shipping):  # noqa: F811
    shopper, conversation = chatting_guest()
    fill_cart(shopper, ("LAMP-1", 1))

    order = place(shopper, shipping)

    row = ConversationOrder.objects.get()
    assert (row.order, row.conversation, row.how) == (order, conversation, HOW.SAME_VISITOR)
    since = timezone.now() - datetime.timedelta(days=30)
    assert selectors.chat_figures().attributed_orders == 0  # not paid yet
    Order.objects.filter(pk=order.pk).update(payment_status=Order.PaymentStatus.PAID)
    figures = selectors.chat_figures()
    assert (figures.attributed_orders, figures.attributed_revenue) == (1, order.total)
    assert ("Same visitor", 1) in figures.attributed_by_how
    assert list(selectors.attributed_orders(since=since)) == [order]
    # Recorded once: the checkout's twin request returns the same order and adds no row.
    from chat.attribution import attribute_order

    assert attribute_order(order=order, session={}, visitor_key=conversation.visitor_key) == row
    assert ConversationOrder.objects.count() == 1


def test_a_customers_order_is_their_recent_conversations_not_an_old_one(storefront_catalog, shipping):  # noqa: F811
    user = get_user_model().objects.create_user("ada", email="ada@example.com")
    customer = CustomerFactory(user=user, email=user.email)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=9)):
        Conversation.objects.create(visitor_key="old-device", customer=customer)  # past the 7 days
    recent = Conversation.objects.create(visitor_key="phone", customer=customer, channel="email")
    shopper = Client()  # another browser: no chat cookie
    shopper.force_login(user)
    fill_cart(shopper, ("LAMP-1", 1))

    order = place(shopper, shipping)

    assert order.customer == customer
    row = ConversationOrder.objects.get()
    assert (row.order, row.conversation, row.how) == (order, recent, HOW.SAME_CUSTOMER)


def test_an_order_that_followed_no_conversation_records_nothing(storefront_catalog, shipping):  # noqa: F811
    shopper = Client()
    fill_cart(shopper, ("LAMP-1", 1))
    with time_machine.travel(timezone.now() - datetime.timedelta(days=8)):
        Conversation.objects.create(visitor_key="someone-else")

    order = place(shopper, shipping)

    assert order.total > Decimal("0") and not ConversationOrder.objects.exists()


def test_a_failure_to_record_it_does_not_keep_the_shopper_from_paying(storefront_catalog, shipping, monkeypatch,  # noqa: F811
                                                                       caplog):
    from django.db import DatabaseError

    from chat import attribution

    def broken(**kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(attribution, "attribute_order", broken)
    shopper, _conversation = chatting_guest()
    fill_cart(shopper, ("LAMP-1", 1))
    response = shopper.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))
    key = KEY_INPUT.search(shopper.get("/checkout/review/").content.decode())[1]

    response = shopper.post("/checkout/place/", {"idempotency_key": key})

    assert response.status_code == 302 and response["Location"].startswith("/payments/")
    order = Order.objects.get()
    assert f"Could not record the chat conversation of order {order.number}" in caplog.text
    assert not ConversationOrder.objects.exists()


def run_backfill_twice(module: str) -> None:
    """A migration's `backfill` on this database, as `migrate` runs it, then again (nothing more)."""
    import importlib

    from django.apps import apps
    from django.db import connection

    class SchemaEditor:
        pass

    SchemaEditor.connection = connection
    migration = importlib.import_module(module)
    migration.backfill(apps, SchemaEditor())
    migration.backfill(apps, SchemaEditor())


def test_the_upgrade_attributes_earlier_orders_by_the_customer_rule_the_figures_used():
    from customers.tests.factories import paid_order_for

    customer = CustomerFactory()
    start = timezone.now() - datetime.timedelta(days=3)
    with time_machine.travel(start, tick=False):
        conversation = Conversation.objects.create(visitor_key="v", customer=customer)
    with time_machine.travel(start + datetime.timedelta(days=1), tick=False):
        after = paid_order_for(customer)
    with time_machine.travel(start - datetime.timedelta(days=1), tick=False):
        paid_order_for(customer)  # before the conversation: not
    paid_order_for(CustomerFactory())  # another customer: not

    run_backfill_twice("chat.migrations.0009_backfill_conversation_orders")

    row = ConversationOrder.objects.get()
    assert (row.order, row.conversation, row.how) == (after, conversation, HOW.SAME_CUSTOMER)


def _agent():
    user = get_user_model().objects.create_user("anna", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


def _demo_lines(quantity: int):
    from catalog.models import Variant

    sku = Variant.objects.filter(is_active=True).order_by("pk").values_list("sku", flat=True).first()
    return actions.parse_cart_lines(f"{sku} x {quantity}")


def _token(conversation: Conversation) -> str:
    return conversation.messages.get(sender="agent").payload["cart"]["url"].rstrip("/").rsplit("/", 1)[1]


def test_a_cart_link_finds_the_conversation_it_was_sent_in_through_an_index(demo_catalog,
                                                                            django_assert_num_queries):
    from django.db import connection

    from chat.attribution import conversation_of_cart_link

    demo_catalog(products=2)
    agent = _agent()
    other = Conversation.objects.create(visitor_key="another-shopper", bot_active=False)
    sent_in = Conversation.objects.create(visitor_key="this-shopper", bot_active=False)
    actions.send_cart_link(conversation=other, author=agent, lines=_demo_lines(1))
    actions.send_cart_link(conversation=sent_in, author=agent, lines=_demo_lines(2))

    token = _token(sent_in)

    with django_assert_num_queries(1) as captured:
        assert conversation_of_cart_link(token) == sent_in

    # Looked up in the cart links' own table by an indexed column, not in the messages' JSON.
    sql = captured.captured_queries[0]["sql"]
    assert "chat_cartlink" in sql and "chat_message" not in sql
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, "chat_cartlink").values()
    assert any(index["index"] and index["columns"] == ["key"] for index in indexes)
    assert conversation_of_cart_link(_token(other)) == other
    assert conversation_of_cart_link("no-such-link") is None


def test_the_upgrade_gives_the_cart_links_sent_before_it_their_rows(demo_catalog):
    from chat.attribution import conversation_of_cart_link
    from chat.models import CartLink

    demo_catalog(products=2)
    sent_in = Conversation.objects.create(visitor_key="this-shopper", bot_active=False)
    actions.send_cart_link(conversation=sent_in, author=_agent(), lines=_demo_lines(2))
    CartLink.objects.all().delete()  # as sent before the upgrade: only the message knows the link
    assert conversation_of_cart_link(_token(sent_in)) is None

    run_backfill_twice("chat.migrations.0011_cart_links")

    link = CartLink.objects.get()
    assert (link.conversation, link.message) == (sent_in, sent_in.messages.get(sender="agent"))
    assert conversation_of_cart_link(_token(sent_in)) == sent_in
