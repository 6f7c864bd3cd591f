"""The shopper's side through the Django test client, as the launcher's script posts: starting,
sending, reading after a cursor, the live stream (replay, live delivery, nothing twice, notes
never), ownership, limits, the contact form and the email reply's link back."""
import json
import re

import pytest
from django.core import mail

from chat import identity, realtime, services
from chat.models import Channel, Conversation, Message
from customers.tests.helpers import sign_in, verified_account

pytestmark = pytest.mark.django_db


def start(client, body="Hello there", **extra):
    return client.post("/chat/start/", {"body": body, "page": "/p/storm-shell/", **extra})


def events(chunks) -> list[dict]:
    """The `data:` of each server-sent event in `chunks` (bytes), in order."""
    found = []
    for chunk in chunks:
        for block in chunk.decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
            if "data" in fields:
                found.append(json.loads(fields["data"]))
    return found


def test_the_first_message_starts_a_conversation_for_this_browser_only(client):
    # when
    response = start(client, body="hi, do you ship to Canada?")

    # then
    assert response.status_code == 200
    data = response.json()
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    senders = [m["sender"] for m in data["messages"]]
    assert senders[:2] == ["bot", "shopper"]  # the greeting, then the shopper's words
    assert data["messages"][1]["body"] == "hi, do you ship to Canada?"
    assert identity.COOKIE in response.cookies
    assert conversation.page_url == "/p/storm-shell/"
    client.post(data["conversation"]["urls"]["send"], {"body": "and this one?", "page": "/p/camp-lamp/"})
    client.post(data["conversation"]["urls"]["send"], {"body": "x", "page": "https://evil.example/"})
    conversation.refresh_from_db()
    assert conversation.page_url == "/p/camp-lamp/"  # where they are now; only this site's pages
    assert conversation.channel == Channel.WEB and conversation.customer is None
    # The same browser finds it again when the launcher opens on another page.
    state = client.get("/chat/state/").json()
    assert state["conversation"]["id"] == conversation.public_id
    assert [m["id"] for m in state["messages"]][:len(data["messages"])] == [m["id"] for m in data["messages"]]


def test_another_visitor_can_read_nothing_of_it(client, django_app_factory=None):
    from django.test import Client

    data = start(client).json()
    urls = data["conversation"]["urls"]
    stranger = Client()
    start(stranger, body="my own question")  # a visitor with a conversation of their own

    for url in (urls["messages"], urls["stream"]):
        assert stranger.get(url).status_code == 404
    for url in (urls["send"], urls["typing"], urls["seen"], urls["rate"]):
        assert stranger.post(url, {"body": "let me in", "up_to": 999, "rating": 5}).status_code == 404
    # A forged cookie (someone else's key, unsigned) is no key at all.
    forged = Client()
    forged.cookies[identity.COOKIE] = Conversation.objects.get(public_id=data["conversation"]["id"]).visitor_key
    assert forged.get(urls["messages"]).status_code == 404
    assert Message.objects.filter(body="let me in").count() == 0


def test_reading_after_a_cursor_returns_only_what_came_after(client):
    data = start(client).json()
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    last = data["messages"][-1]["id"]
    agent_reply = services.add_agent_message(conversation=conversation, author=None, body="An answer")
    services.add_agent_message(conversation=conversation, author=None, body="internal: VIP", is_note=True)

    after = client.get(data["conversation"]["urls"]["messages"], {"after": last}).json()

    assert [m["id"] for m in after["messages"]] == [agent_reply.pk]  # the note is not the shopper's to read


@pytest.fixture
def short_streams(settings):
    settings.CHAT_STREAM_SECONDS = 1


def test_the_stream_replays_what_was_missed_then_delivers_live_once(client, short_streams,
                                                                      django_capture_on_commit_callbacks):
    data = start(client).json()
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    seen_before = data["messages"][1]["id"]  # the client had the greeting and its own message

    # given: a reply it missed while disconnected
    missed = services.add_agent_message(conversation=conversation, author=None, body="You missed me")
    response = client.get(data["conversation"]["urls"]["stream"], HTTP_LAST_EVENT_ID=str(seen_before))
    assert response["Content-Type"] == "text/event-stream"
    chunks = iter(response.streaming_content)
    replay = [next(chunks) for _ in range(1 + len(data["messages"]) - 2 + 1)]  # retry + bot answer + missed

    # when: a new reply is published while the stream listens, and its event arrives twice
    with django_capture_on_commit_callbacks(execute=True):
        live = services.add_agent_message(conversation=conversation, author=None, body="Live reply")
        services.add_agent_message(conversation=conversation, author=None, body="staff only", is_note=True)
    realtime.publish(realtime.conversation_channel(conversation.pk), {
        "type": "message", "id": live.pk, "sender": "agent", "body": "Live reply", "note": False})
    rest = list(chunks)

    # then
    replayed_ids = [e["id"] for e in events(replay) if e["type"] == "message"]
    assert replayed_ids[-1] == missed.pk and seen_before not in replayed_ids
    live_messages = [e for e in events(rest) if e["type"] == "message"]
    assert [e["id"] for e in live_messages] == [live.pk]
    assert all(e["body"] != "staff only" for e in events(replay + rest))
    assert b"id: %d" % live.pk in b"".join(rest)


def test_typing_and_seen_reach_the_other_side(client, short_streams, django_capture_on_commit_callbacks):
    data = start(client).json()
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    reply = services.add_agent_message(conversation=conversation, author=None, body="Hello from us")
    chunks = iter(client.get(data["conversation"]["urls"]["stream"], {"after": reply.pk}).streaming_content)
    next(chunks)  # subscribed

    services.typing(conversation=conversation, by="agent")
    services.typing(conversation=conversation, by="shopper")  # one's own typing is not echoed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(data["conversation"]["urls"]["seen"], {"up_to": reply.pk})
    got = events(list(chunks))

    assert response.status_code == 204
    assert [e["type"] for e in got] == ["typing"]  # the shopper's own "seen" is not echoed either
    reply.refresh_from_db()
    assert reply.seen_at is not None
    assert Conversation.objects.get(pk=conversation.pk).shopper_last_seen_id == reply.pk


def test_a_cross_site_page_cannot_open_the_stream(client):
    data = start(client).json()

    response = client.get(data["conversation"]["urls"]["stream"], HTTP_ORIGIN="https://evil.example")

    assert response.status_code == 403


def test_too_long_and_too_fast_are_refused_and_store_nothing(client, settings):
    settings.CHAT_RATE_PER_MINUTE = 3
    data = start(client).json()
    send = data["conversation"]["urls"]["send"]
    count = Message.objects.count()

    too_long = client.post(send, {"body": "x" * 2001})
    assert too_long.status_code == 400 and "2000" in too_long.json()["error"]
    assert client.post(send, {"body": "   "}).status_code == 400
    assert Message.objects.count() == count

    client.post(send, {"body": "two"})
    client.post(send, {"body": "three"})
    refused = client.post(send, {"body": "four"})
    assert refused.status_code == 429
    assert not Message.objects.filter(body="four").exists()


def test_html_is_kept_as_text_and_links_become_links(client):
    data = start(client, body='<script>alert(1)</script> see https://example.com/x.').json()
    token = identity.link_token(data["conversation"]["id"])

    page = client.get(f"/chat/c/{token}/")

    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    assert b'<a href="https://example.com/x" rel="nofollow noopener"' in page.content


def test_a_guest_conversation_joins_the_customer_on_sign_in(client):
    user, customer = verified_account("ada@example.com")
    data = start(client).json()

    response = sign_in(client, "ada@example.com")

    assert response.status_code == 302
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    assert conversation.customer == customer
    assert customer.activities.filter(kind="chat").count() == 1
    page = client.get("/account/messages/")
    # The page links to the conversation by a signed token (timestamped: compare what it opens).
    tokens = re.findall(r"/chat/c/([^/\"]+)/", page.content.decode())
    assert [identity.public_id_from_token(token) for token in tokens] == [conversation.public_id]


def test_the_messages_page_costs_the_same_for_many_conversations(client, django_assert_max_num_queries):
    user, customer = verified_account("ada@example.com")
    for _ in range(6):
        Conversation.objects.create(customer=customer, visitor_key="k")
    client.force_login(user)

    with django_assert_max_num_queries(8):
        response = client.get("/account/messages/")

    assert response.status_code == 200
    assert response.content.count(b"/chat/c/") == 6


def test_the_contact_form_starts_a_conversation_answered_by_email(client, django_user_model,
                                                                     django_capture_on_commit_callbacks):
    response = client.post("/contact/", {"name": "Bo", "email": "Bo@Example.com", "message": "Is the lamp dimmable?"})

    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert (conversation.channel, conversation.email, conversation.bot_active) == (Channel.EMAIL, "bo@example.com", False)
    page = client.get(response["Location"])
    assert b"Is the lamp dimmable?" in page.content

    # when staff answer (the shopper has no chat open)
    agent = django_user_model.objects.create_user("anna", first_name="Anna", is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_agent_message(conversation=conversation, author=agent, body="Yes, in three steps.")

    # then one email, with a link back that opens the conversation without a cookie
    [email] = [m for m in mail.outbox if m.to == ["bo@example.com"]]
    assert "Yes, in three steps." in email.body
    link = re.search(r"https?://[^/\s]+(/chat/c/[^/\s]+/)", email.body)[1]
    from django.test import Client

    other_device = Client()
    page = other_device.get(link)
    assert b"Yes, in three steps." in page.content
    # ...where they can answer without JavaScript
    other_device.post(link, {"message": "Thanks!"})
    assert conversation.messages.filter(sender="shopper", body="Thanks!").exists()
    # Sending again is a no-op (the task is safe to retry).
    from chat.emails import send_reply_email

    assert send_reply_email(message_id=conversation.messages.get(body="Yes, in three steps.").pk) is False
    assert conversation.messages.get(body="Yes, in three steps.").emailed_at is not None


def test_the_contact_form_says_what_is_wrong(client):
    response = client.post("/contact/", {"email": "not-an-email", "message": ""})

    assert response.status_code == 200
    assert Conversation.objects.count() == 0
    assert b"id_email_error" in response.content and b"id_message_error" in response.content


def test_a_tampered_link_opens_nothing(client):
    data = start(client).json()
    token = identity.link_token(data["conversation"]["id"])

    assert client.get(f"/chat/c/{token[:-2]}xx/").status_code == 404


def test_rating_once_resolved(client):
    data = start(client).json()
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    rate = data["conversation"]["urls"]["rate"]
    assert client.post(rate, {"rating": 5}).status_code == 400  # not resolved yet

    services.resolve(conversation=conversation, by=None)
    assert client.post(rate, {"rating": 9}).status_code == 400
    assert client.post(rate, {"rating": 4, "comment": "quick"}).status_code == 200

    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "quick")


def test_a_reply_email_that_failed_is_sent_by_the_outbox_retry_loop(client, django_capture_on_commit_callbacks,
                                                                      monkeypatch):
    import datetime
    from smtplib import SMTPServerDisconnected

    from django.core.mail.backends.locmem import EmailBackend
    from django.utils import timezone

    from notifications.models import OutboundEmail
    from notifications.services import send_due_emails

    conversation = Conversation.objects.create(visitor_key="v", email="bo@example.com", bot_active=False)
    broken = {"on": True}
    real_send = EmailBackend.send_messages

    def send_messages(self, messages):
        if broken["on"]:
            raise SMTPServerDisconnected("down")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.add_agent_message(conversation=conversation, author=None, body="Back in stock Monday")
    assert mail.outbox == []

    broken["on"] = False
    send_due_emails(now=timezone.now() + datetime.timedelta(hours=1))
    send_due_emails(now=timezone.now() + datetime.timedelta(hours=2))  # and not twice

    assert [m.to for m in mail.outbox] == [["bo@example.com"]]
    assert OutboundEmail.objects.get(key=f"chat.reply:{reply.pk}").status == "sent"


def test_no_email_while_the_shopper_is_in_the_chat(django_capture_on_commit_callbacks):
    from chat import presence

    conversation = Conversation.objects.create(visitor_key="v", email="bo@example.com", bot_active=False)
    presence.shopper_seen(conversation.pk)

    with django_capture_on_commit_callbacks(execute=True):
        services.add_agent_message(conversation=conversation, author=None, body="Hello")

    assert mail.outbox == []


def test_proactive_messages_are_the_same_for_everyone_and_cacheable(client, django_assert_max_num_queries):
    from chat.models import ProactiveTrigger

    ProactiveTrigger.objects.create(name="Cart help", message="Questions about your cart?", page_type="cart",
                                    seconds_on_page=10, min_cart_items=1)
    ProactiveTrigger.objects.create(name="Off", message="x", is_active=False)

    with django_assert_max_num_queries(1):
        response = client.get("/chat/triggers/")

    assert response["Cache-Control"] == "public, max-age=300"
    assert not response.cookies
    assert [t["message"] for t in response.json()["triggers"]] == ["Questions about your cart?"]


def test_a_minimum_cart_value_is_public_and_the_carts_value_only_in_the_visitors_own_answer(
        client, storefront_catalog, django_assert_max_num_queries, django_assert_num_queries):
    from decimal import Decimal

    from django.test import Client

    from catalog.models import Variant
    from chat.models import ProactiveTrigger

    ProactiveTrigger.objects.create(name="Big cart", message="Free gift wrap over $100?",
                                    min_cart_value=Decimal("100.00"), seconds_on_page=0)
    lamp = Variant.objects.get(sku="LAMP-1")  # 35.00
    client.post("/cart/add/", {"variant": lamp.pk, "product": lamp.product_id, "quantity": "3"})

    public = client.get("/chat/triggers/")
    assert public.json()["triggers"][0]["min_cart_value"] == "100.00"
    assert "105" not in public.content.decode() and public["Cache-Control"] == "public, max-age=300"
    assert not public.cookies
    # The page the launcher is on says where to ask and nothing of the cart's value: it is the
    # same for everyone in the shared page cache.
    page = client.get("/p/camp-lamp/").content.decode()
    assert 'data-cart-value-url="/chat/cart-value/"' in page and "105.00" not in page

    # The session, the cart's lines with their options, their stock: no conversation, no token.
    with django_assert_num_queries(4) as captured:
        mine = client.get("/chat/cart-value/")
    assert mine.json() == {"cart_value": "105.00"}
    assert not any("chat_" in query["sql"] for query in captured.captured_queries)
    assert "no-cache" in mine["Cache-Control"] and "private" in mine["Cache-Control"]
    assert not mine.cookies
    assert "cart_value" not in client.get("/chat/state/").json()  # the launcher's state no longer carries it

    # Another visitor (no cart): nothing to read.
    with django_assert_max_num_queries(0):
        theirs = Client().get("/chat/cart-value/")
    assert theirs.json() == {"cart_value": "0.00"}


def test_a_negative_minimum_cart_value_is_refused(admin_client):
    from chat.models import ProactiveTrigger

    response = admin_client.post("/admin/chat/proactivetrigger/add/", {
        "name": "X", "message": "Y", "page_type": "any", "seconds_on_page": "0", "min_cart_items": "0",
        "min_cart_value": "-5", "is_active": "on"})

    assert response.status_code == 200 and "greater than or equal to 0" in response.content.decode()
    assert not ProactiveTrigger.objects.exists()
