"""The staff inbox: lists and counts, the conversation page, every action as the page posts it,
who may do what, and the round robin."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from carts.models import Cart, CartLine
from chat import assignment, presence, services
from chat.models import CannedReply, Conversation, Message
from customers.models import Activity
from customers.tests.factories import CustomerFactory, paid_order_for

pytestmark = pytest.mark.django_db

INBOX = "/admin/chat/conversation/"


def staff_in(client, group_name: str, username: str | None = None, **fields):
    user = get_user_model().objects.create_user(username or group_name.lower().replace(" ", "-"), is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return user


def page_of(conversation) -> str:
    return f"{INBOX}{conversation.pk}/change/"


def act(conversation) -> str:
    return f"{INBOX}{conversation.pk}/act/"


def shopper_conversation(body="Is the shell waterproof?", **fields) -> Conversation:
    conversation = Conversation.objects.create(visitor_key="v1", bot_active=False, **fields)
    services.add_shopper_message(conversation=conversation, body=body, rate_key=f"test:{conversation.pk}")
    conversation.refresh_from_db()
    return conversation


def test_support_reads_the_inbox_by_status_with_unread_counts(client):
    staff_in(client, "Support")
    waiting = shopper_conversation("first")
    services.add_shopper_message(conversation=waiting, body="second", rate_key="test")
    resolved = shopper_conversation("done")
    services.resolve(conversation=resolved, by=None)

    response = client.get(INBOX)

    assert response.status_code == 200
    rows = {c.pk: c for c in response.context["conversations"]}
    assert set(rows) == {waiting.pk}
    assert rows[waiting.pk].unread == 2 and rows[waiting.pk].preview == "second"
    assert response.context["unread_total"] == 1
    assert [c.pk for c in client.get(INBOX, {"tab": "resolved"}).context["conversations"]] == [resolved.pk]
    assert [c.pk for c in client.get(INBOX, {"tab": "unassigned"}).context["conversations"]] == [waiting.pk]
    assert client.get(INBOX, {"tab": "open", "channel": "whatsapp"}).context["conversations"] == []


def test_the_inbox_costs_the_same_for_5_or_40_conversations(client, django_assert_max_num_queries):
    staff_in(client, "Support")
    for _ in range(5):
        shopper_conversation()
    with django_assert_max_num_queries(12) as few:
        client.get(INBOX)
    for _ in range(35):
        shopper_conversation()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(INBOX)

    assert len(response.context["conversations"]) == 40


def test_the_conversation_page_shows_the_customer_beside_the_messages(client, storefront_catalog,
                                                                      django_assert_max_num_queries):
    from customers.tests.helpers import verified_account

    staff_in(client, "Support")
    user, customer = verified_account("ada@example.com")
    order = paid_order_for(customer)
    customer.total_spent = order.total
    customer.save()
    from catalog.models import Variant

    cart = Cart.objects.create(user=user)
    CartLine.objects.create(cart=cart, variant=Variant.objects.get(sku="LAMP-1"), quantity=2, unit_price="35.00")
    conversation = shopper_conversation(customer=customer, page_url="/p/camp-lamp/")
    services.add_agent_message(conversation=conversation, author=None, body="VIP, be nice", is_note=True)

    with django_assert_max_num_queries(25):
        response = client.get(page_of(conversation))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Is the shell waterproof?" in html and "VIP, be nice" in html and "Internal note" in html
    assert order.number in html and "$50.00" in html and "2 × Camp Lamp" in html and "/p/camp-lamp/" in html
    conversation.refresh_from_db()
    assert conversation.agent_last_seen_id == conversation.messages.order_by("-pk").first().pk


def test_a_reply_reaches_the_shopper_and_a_note_does_not(client):
    agent = staff_in(client, "Support", first_name="Anna")
    conversation = shopper_conversation()

    client.post(act(conversation), {"do": "reply", "body": "Yes, fully taped seams."})
    client.post(act(conversation), {"do": "note", "body": "Asked twice before"})

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING
    assert conversation.assignee == agent and conversation.first_reply_at is not None
    assert conversation.waiting_since is None
    from chat.selectors import shopper_messages

    bodies = [m.body for m in shopper_messages(conversation=conversation)]
    assert "Yes, fully taped seams." in bodies and "Asked twice before" not in bodies


def test_canned_replies_fill_their_placeholders(client):
    staff_in(client, "Support", first_name="Anna")
    CannedReply.objects.create(shortcut="hello", body="Hi {first_name}, {agent_name} from {store_name} here. {unknown}")
    customer = CustomerFactory(first_name="Bo")
    conversation = shopper_conversation(customer=customer)

    client.post(act(conversation), {"do": "reply", "body": "", "canned": "hello"})

    sent = conversation.messages.filter(sender="agent").get()
    assert sent.body == "Hi Bo, Anna from Northwind Supply here. {unknown}"


def test_product_cards_and_order_links(client, storefront_catalog):
    staff_in(client, "Support")
    customer = CustomerFactory()
    order = paid_order_for(customer)
    stranger_order = paid_order_for(CustomerFactory())
    conversation = shopper_conversation(customer=customer)

    client.post(act(conversation), {"do": "card", "product": "http://testserver/p/storm-shell/"})
    client.post(act(conversation), {"do": "card", "product": "secret-prototype"})  # a draft: refused
    client.post(act(conversation), {"do": "order", "order": order.number})
    client.post(act(conversation), {"do": "order", "order": stranger_order.number})  # not theirs: refused

    payloads = [m.payload for m in conversation.messages.filter(sender="agent").order_by("pk")]
    assert [p.get("cards", [{}])[0].get("url") for p in payloads if "cards" in p] == ["/p/storm-shell/"]
    assert [p["orders"][0]["number"] for p in payloads if "orders" in p] == [order.number]


def test_tags_assign_and_resolve(client):
    agent = staff_in(client, "Support")
    customer = CustomerFactory()
    conversation = shopper_conversation(customer=customer)

    client.post(act(conversation), {"do": "tags", "tags": "Returns, vip ,returns"})
    client.post(act(conversation), {"do": "assign", "agent": "me"})
    client.post(act(conversation), {"do": "resolve"})

    conversation.refresh_from_db()
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["returns", "vip"]
    assert conversation.assignee == agent and conversation.status == Conversation.Status.RESOLVED
    assert conversation.messages.filter(payload__ask_rating=True).exists()
    assert conversation.messages.filter(is_note=True, body__startswith="Assigned to").exists()
    assert Activity.objects.filter(customer=customer, kind="chat", message="Conversation resolved").exists()


def test_support_cannot_give_a_conversation_to_someone_else_but_managers_can(client):
    other = get_user_model().objects.create_user("bea", is_staff=True)
    other.groups.add(Group.objects.get(name="Support"))
    conversation = shopper_conversation()
    staff_in(client, "Support")

    assert client.post(act(conversation), {"do": "assign", "agent": str(other.pk)}).status_code == 403

    staff_in(client, "Support managers", username="boss")
    client.post(act(conversation), {"do": "assign", "agent": str(other.pk)})
    conversation.refresh_from_db()
    assert conversation.assignee == other


def test_staff_without_chat_permissions_see_and_do_nothing(client):
    conversation = shopper_conversation()
    staff_in(client, "Order managers")

    assert client.get(INBOX).status_code == 403
    assert client.get(page_of(conversation)).status_code == 403
    assert client.post(act(conversation), {"do": "reply", "body": "hi"}).status_code == 403
    assert client.get(f"{INBOX}{conversation.pk}/stream/").status_code == 403
    assert not conversation.messages.filter(sender="agent").exists()


def test_the_staff_stream_carries_notes(client, settings, django_capture_on_commit_callbacks):
    from .test_views import events

    settings.CHAT_STREAM_SECONDS = 1
    staff_in(client, "Support")
    conversation = shopper_conversation()
    chunks = iter(client.get(f"{INBOX}{conversation.pk}/stream/").streaming_content)
    first = [next(chunks), next(chunks)]  # retry, then the shopper's message (replayed)

    with django_capture_on_commit_callbacks(execute=True):
        services.add_agent_message(conversation=conversation, author=None, body="private", is_note=True)
    got = events(first + list(chunks))

    assert [e["body"] for e in got if e["type"] == "message"] == ["Is the shell waterproof?", "private"]


def test_round_robin_under_the_limit_and_the_queue(settings):
    settings.CHAT_AGENT_LIMIT = 1
    settings.CHAT_OPENING_HOURS = ""  # always open: the queue, not the hours, is under test
    support = Group.objects.get(name="Support")
    anna, bea = (get_user_model().objects.create_user(name, is_staff=True) for name in ("anna", "bea"))
    for agent in (anna, bea):
        agent.groups.add(support)
        presence.agent_seen(agent.pk)

    first, second, third = (shopper_conversation() for _ in range(3))
    for conversation in (first, second, third):
        services.hand_off(conversation=conversation, reason="test")
        conversation.refresh_from_db()

    assert {first.assignee, second.assignee} == {anna, bea}  # one each
    assert third.assignee is None  # both full: queued
    assert "next in line" in third.messages.order_by("-pk").first().body

    # when one of them resolves, the queued one goes to the freed agent
    freed = first.assignee
    services.resolve(conversation=first, by=freed)
    assignment.assign_queued()
    third.refresh_from_db()
    assert third.assignee == freed


def test_away_agents_get_nothing(settings):
    support = Group.objects.get(name="Support")
    anna = get_user_model().objects.create_user("anna", is_staff=True)
    anna.groups.add(support)
    presence.agent_seen(anna.pk)
    presence.agent_away(anna.pk)
    conversation = shopper_conversation()

    services.hand_off(conversation=conversation, reason="test")

    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert Message.objects.filter(conversation=conversation, sender="system", is_note=False).exists()


def test_staff_see_what_the_assistant_could_not_answer_grouped_and_make_it_an_faq(client):
    from django.test import Client

    # (Shipping questions are not among them any more: those are answered from the store's settings.)
    for text in ("Can I get gift wrapping?", "gift wrapping", "Is there a student discount"):
        shopper = Client()
        shopper.post("/chat/start/", {"body": text})
    staff_in(client, "Support managers")

    response = client.get("/admin/chat/faqentry/unanswered/")

    rows = response.context["rows"]
    assert [(r["group"].count, r["group"].example) for r in rows] == [
        (2, "gift wrapping"), (1, "Is there a student discount"),
    ]
    add = client.get(rows[0]["add_url"])
    assert add.context["adminform"].form.initial["question"] == "gift wrapping"
    assert add.context["adminform"].form.initial["variants"] == "Can I get gift wrapping?"


def test_figures_count_by_channel_time_to_answer_the_assistant_alone_and_satisfaction(client, settings):
    import datetime

    import time_machine
    from django.utils import timezone

    staff_in(client, "Support")
    agent = get_user_model().objects.create_user("anna", is_staff=True)
    start = timezone.now() - datetime.timedelta(days=2)
    customer = CustomerFactory()
    with time_machine.travel(start, tick=False):
        answered = shopper_conversation(channel="email", customer=customer)
        alone = Conversation.objects.create(visitor_key="bot-only")  # the assistant alone
    with time_machine.travel(start + datetime.timedelta(minutes=4), tick=False):
        services.add_agent_message(conversation=answered, author=agent, body="Hello")
    with time_machine.travel(start + datetime.timedelta(minutes=30), tick=False):
        services.resolve(conversation=answered, by=agent)
    services.rate(conversation=Conversation.objects.get(pk=answered.pk), rating=5)
    from chat.attribution import attribute_order

    with time_machine.travel(start + datetime.timedelta(days=1), tick=False):
        after = paid_order_for(customer, total=Decimal("80.00"))  # the day after: attributed
    with time_machine.travel(start - datetime.timedelta(days=1), tick=False):
        before = paid_order_for(customer, total=Decimal("15.00"))  # before the conversation: not
    for order in (after, before):  # as checkout records them when they are placed
        attribute_order(order=order, session={}, visitor_key="")

    response = client.get(f"{INBOX}figures/")

    figures = response.context["figures"]
    assert figures.conversations == 2
    assert figures.first_response_median == datetime.timedelta(minutes=4)
    assert figures.resolution_median == datetime.timedelta(minutes=30)
    assert figures.assistant_only_share == 0.5
    assert (figures.rating_average, figures.satisfied_share) == (5, 1)
    [day] = figures.days
    assert day["by_channel"] == {"email": 1, "web": 1}
    assert (figures.attributed_orders, figures.attributed_revenue) == (1, Decimal("80.00"))
    assert ("Same customer", 1) in figures.attributed_by_how
    assert b"$80.00" in response.content
    assert alone.pk


def test_the_mine_tab_lists_what_is_assigned_to_me_and_not_resolved_as_its_count_says(client):
    anna = staff_in(client, "Support", "anna")
    bob = get_user_model().objects.create_user("bob", is_staff=True)
    mine_open = shopper_conversation("mine, open", assignee=anna)
    mine_waiting = shopper_conversation("mine, waiting on the customer", assignee=anna)
    services.add_agent_message(conversation=mine_waiting, author=anna, body="Which size?")  # their turn now
    mine_resolved = shopper_conversation("mine, done", assignee=anna)
    services.resolve(conversation=mine_resolved, by=anna)
    shopper_conversation("bob's", assignee=bob)
    shopper_conversation("nobody's")
    assert Conversation.objects.get(pk=mine_waiting.pk).status == Conversation.Status.WAITING

    response = client.get(INBOX, {"tab": "mine"})

    assert response.context["tab"] == "mine"
    listed = [c.pk for c in response.context["conversations"]]
    assert sorted(listed) == sorted([mine_open.pk, mine_waiting.pk])
    assert dict((key, count) for key, _label, count in response.context["tabs"])["mine"] == len(listed)
    assert client.get(INBOX, {"tab": "mine", "channel": "email"}).context["conversations"] == []
