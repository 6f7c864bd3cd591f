"""WhatsApp and Messenger: the webhook handshake, signatures over the raw body, each message once,
the conversation and inbox, replies through the Graph API (HTTP replaced by a recorder) and the
24-hour window. Payloads are shaped like Meta's documented examples; signatures are computed here."""
import hashlib
import hmac
import html
import json
from datetime import timedelta

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from chat import realtime
from chat.messaging import outbound
from chat.models import Conversation, Message
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

WA_URL = "/chat/webhooks/whatsapp/"
FB_URL = "/chat/webhooks/messenger/"
WA_SECRET = "wa-app-secret-1234"
FB_SECRET = "fb-app-secret-5678"
INBOX = "/admin/chat/conversation/"


@pytest.fixture(autouse=True)
def platforms(settings):
    settings.WHATSAPP_VERIFY_TOKEN = "wa-verify"
    settings.WHATSAPP_APP_SECRET = WA_SECRET
    settings.WHATSAPP_TOKEN = "wa-access-token"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.WHATSAPP_TEMPLATE_NAME = "order_follow_up"
    settings.WHATSAPP_TEMPLATE_LANGUAGE = "en_US"
    settings.MESSENGER_VERIFY_TOKEN = "fb-verify"
    settings.MESSENGER_APP_SECRET = FB_SECRET
    settings.MESSENGER_PAGE_TOKEN = "fb-page-token"
    settings.GRAPH_API_URL = "https://graph.facebook.com/v21.0"
    settings.MESSAGING_HTTP_TIMEOUT = 7.5
    return settings


@pytest.fixture
def published(monkeypatch):
    events = []
    monkeypatch.setattr(realtime, "publish", lambda channel, data: events.append((channel, data)))
    return events


class FakeResponse:
    def __init__(self, status: int, data: dict | None = None, content: bytes = b""):
        self.status_code, self._data, self.content = status, data if data is not None else {}, content

    def json(self):
        return self._data

    def iter_content(self, chunk_size=1):
        for start in range(0, len(self.content), chunk_size):
            yield self.content[start:start + chunk_size]

    def close(self):
        pass


@pytest.fixture
def graph(monkeypatch):
    """Replaces requests.post: records each call, answers from `graph.answers` (last one repeats)."""

    class Graph:
        calls: list = []
        answers: list = [FakeResponse(200, {})]

        def post(self, url, json=None, headers=None, timeout=None, data=None, files=None):
            call = {"url": url, "json": json, "headers": headers, "timeout": timeout}
            if data is not None or files is not None:  # multipart: a file uploaded or sent
                call.update(data=data, files=files)
            self.calls.append(call)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            if isinstance(answer, Exception):
                raise answer
            return answer

        def get(self, url, params=None, headers=None, timeout=None, stream=None):
            call = {"url": url, "params": params, "headers": headers, "timeout": timeout}
            if stream is not None:
                call["stream"] = stream
            self.gets.append(call)
            # `downloads`: answers by address (media URLs and files), each list used in turn.
            answers = self.downloads.get(url) or self.profiles
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, Exception):
                raise answer
            return answer

    fake = Graph()
    fake.calls, fake.answers, fake.downloads = [], [FakeResponse(200, {})], {}
    # The User Profile API's documented answer for a PSID.
    fake.gets, fake.profiles = [], [FakeResponse(200, {"first_name": "Peter", "last_name": "Chang",
                                                       "id": "1254459154682919"})]
    monkeypatch.setattr(requests, "post", fake.post)
    monkeypatch.setattr(requests, "get", fake.get)
    return fake


def wa_payload(*, wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", sender="16315551181",
               text="Where is my order?", kind="text", timestamp=None, name="Kerry Fisher"):
    message = {"from": sender, "id": wamid, "timestamp": str(timestamp or int(timezone.now().timestamp())),
               "type": kind}
    if kind == "text":
        message["text"] = {"body": text}
    else:
        message[kind] = {"mime_type": "image/jpeg", "sha256": "abc", "id": "1003383421387256"}
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                  "contacts": [{"profile": {"name": name}, "wa_id": sender}],
                  "messages": [message]},
        "field": "messages"}]}]}


def fb_payload(*, mid="m_1457764197618:41d102a3e1ae206a38", sender="1254459154682919", text="Hello, do you ship to Norway?"):
    now_ms = int(timezone.now().timestamp() * 1000)
    return {"object": "page", "entry": [{"id": "682498302938465", "time": now_ms, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": "682498302938465"}, "timestamp": now_ms,
        "message": {"mid": mid, "text": text}}]}]}


def post_signed(client, url, payload, secret, *, signature=None):
    raw = json.dumps(payload, separators=(",", ":")).encode()
    header = signature if signature is not None else "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    extra = {"HTTP_X_HUB_SIGNATURE_256": header} if header else {}
    return client.post(url, data=raw, content_type="application/json", **extra)


# --- The handshake ----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "token"), [(WA_URL, "wa-verify"), (FB_URL, "fb-verify")])
def test_the_verification_handshake_echoes_the_challenge_for_the_right_token(client, url, token):
    response = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"})

    assert response.status_code == 200 and response.content == b"1158201444"


@pytest.mark.parametrize("url", [WA_URL, FB_URL])
def test_a_wrong_verify_token_is_refused(client, url):
    response = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})

    assert response.status_code == 403 and b"1158201444" not in response.content


def test_without_settings_the_endpoints_are_not_there(client, settings):
    settings.WHATSAPP_APP_SECRET = ""
    settings.MESSENGER_VERIFY_TOKEN = ""

    assert client.get(WA_URL, {"hub.mode": "subscribe", "hub.verify_token": "wa-verify", "hub.challenge": "1"}).status_code == 404
    assert post_signed(client, FB_URL, fb_payload(), FB_SECRET).status_code == 404
    assert not Message.objects.exists()


# --- Signatures, once each ----------------------------------------------------------------------

def test_a_whatsapp_message_becomes_a_conversation_in_the_inbox_live(client, django_capture_on_commit_callbacks,
                                                                     published):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, WA_URL, wa_payload(), WA_SECRET)

    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert (conversation.channel, conversation.external_sender, conversation.name) == ("whatsapp", "16315551181", "Kerry Fisher")
    assert conversation.customer is None and conversation.status == "open" and not conversation.bot_active
    assert conversation.last_inbound_at is not None and conversation.waiting_since is not None
    message = conversation.messages.get()
    assert (message.sender, message.body, message.channel) == ("shopper", "Where is my order?", "whatsapp")
    assert message.external_id.startswith("wamid.")
    assert (realtime.INBOX_CHANNEL, {"type": "conversation", "id": conversation.pk}) in published
    assert any(ch == realtime.conversation_channel(conversation.pk) and data.get("body") == "Where is my order?"
               for ch, data in published)


def test_a_replayed_delivery_stores_nothing_new_and_still_answers_200(client):
    first = post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    again = post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    fb_first = post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    fb_again = post_signed(client, FB_URL, fb_payload(), FB_SECRET)

    assert [r.status_code for r in (first, again, fb_first, fb_again)] == [200, 200, 200, 200]
    assert Message.objects.filter(channel="whatsapp").count() == 1
    assert Message.objects.filter(channel="messenger").count() == 1


def test_a_second_message_from_the_same_sender_joins_their_conversation(client):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    post_signed(client, WA_URL, wa_payload(wamid="wamid.second", text="Any news?"), WA_SECRET)
    post_signed(client, WA_URL, wa_payload(wamid="wamid.other", sender="447700900123", name="Sam"), WA_SECRET)

    mine = Conversation.objects.get(external_sender="16315551181")
    assert list(mine.messages.values_list("body", flat=True)) == ["Where is my order?", "Any news?"]
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc", "sha256=not-hex"])
def test_a_missing_or_bad_signature_is_403_and_stores_nothing(client, signature):
    response = post_signed(client, WA_URL, wa_payload(), WA_SECRET, signature=signature)

    assert response.status_code == 403
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_signature_with_another_apps_secret_or_over_another_body_is_refused(client):
    other_secret = post_signed(client, FB_URL, fb_payload(), WA_SECRET)  # WhatsApp's secret on Messenger
    raw = json.dumps(fb_payload()).encode()
    good_for_raw = "sha256=" + hmac.new(FB_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    # The same JSON re-serialised (spaces) is another body: the signature is over the raw bytes.
    reserialised = client.post(FB_URL, data=json.dumps(fb_payload(), indent=1), content_type="application/json",
                               HTTP_X_HUB_SIGNATURE_256=good_for_raw)

    assert other_secret.status_code == 403 and reserialised.status_code == 403
    assert not Message.objects.exists()


def test_a_voice_message_gets_a_placeholder_not_an_error(client):
    response = post_signed(client, WA_URL, wa_payload(kind="audio"), WA_SECRET)

    assert response.status_code == 200
    message = Message.objects.get()
    assert "audio" in message.body and message.payload == {"unsupported": True}


def test_messenger_echoes_and_read_receipts_are_not_messages(client):
    payload = fb_payload()
    payload["entry"][0]["messaging"] += [
        {"sender": {"id": "682498302938465"}, "recipient": {"id": "1254459154682919"}, "timestamp": 1,
         "message": {"mid": "m_echo", "text": "our own", "is_echo": True}},
        {"sender": {"id": "1254459154682919"}, "recipient": {"id": "682498302938465"}, "timestamp": 1,
         "read": {"watermark": 1458668856253}},
    ]
    post_signed(client, FB_URL, payload, FB_SECRET)

    assert list(Message.objects.values_list("body", "external_id")) == [
        ("Hello, do you ship to Norway?", "m_1457764197618:41d102a3e1ae206a38")]
    assert Conversation.objects.get().external_sender == "1254459154682919"


def test_a_customer_who_only_typed_that_phone_is_not_matched(client):
    CustomerFactory(phone="+16315551181")

    post_signed(client, WA_URL, wa_payload(), WA_SECRET)

    assert Conversation.objects.get().customer is None


def test_a_whatsapp_sender_joins_the_customer_whose_number_staff_verified(client):
    from customers.models import Activity
    from customers.services import verify_phone

    ada = CustomerFactory(phone="")
    verify_phone(customer_id=ada.pk, phone="+1 (631) 555-1181")

    post_signed(client, WA_URL, wa_payload(), WA_SECRET)

    conversation = Conversation.objects.get()
    assert conversation.customer == ada
    assert Activity.objects.filter(customer=ada, kind=Activity.Kind.CHAT, data__conversation=conversation.pk).count() == 1


def test_a_number_verified_without_its_country_code_matches_the_whatsapp_sender(client, settings):
    from customers.services import verify_phone

    settings.STORE_LOCALE = "en_GB"
    ada = CustomerFactory(phone="")
    verify_phone(customer_id=ada.pk, phone="07700 900123")  # as the customer said it at the counter

    post_signed(client, WA_URL, wa_payload(sender="447700900123", name="Ada"), WA_SECRET)

    assert Conversation.objects.get().customer == ada


def test_a_number_verified_after_the_first_message_joins_at_the_next_one(client):
    from customers.models import Activity
    from customers.services import verify_phone

    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    assert Conversation.objects.get().customer is None
    ada = CustomerFactory(phone="")
    verify_phone(customer_id=ada.pk, phone="+16315551181")

    post_signed(client, WA_URL, wa_payload(wamid="wamid.second", text="Still there?"), WA_SECRET)
    post_signed(client, WA_URL, wa_payload(wamid="wamid.third", text="Hello?"), WA_SECRET)

    conversation = Conversation.objects.get()
    assert conversation.customer == ada and conversation.messages.count() == 3
    assert Activity.objects.filter(customer=ada, kind=Activity.Kind.CHAT).count() == 1  # joined once


# --- Replies out ---------------------------------------------------------------------------------

def support(client):
    user = get_user_model().objects.create_user("agent", is_staff=True, first_name="Ada")
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return user


def reply(client, conversation, body, **extra):
    return client.post(f"{INBOX}{conversation.pk}/act/", {"do": "reply", "body": body, **extra})


def test_a_staff_reply_goes_to_whatsapp_with_the_exact_json_and_token(client, graph, django_capture_on_commit_callbacks):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    graph.answers = [FakeResponse(200, {"messaging_product": "whatsapp", "contacts": [{"input": "16315551181", "wa_id": "16315551181"}],
                                        "messages": [{"id": "wamid.OUT1"}]})]

    with django_capture_on_commit_callbacks(execute=True):
        response = reply(client, conversation, "It ships today.")

    assert response.status_code == 302
    assert graph.calls == [{
        "url": "https://graph.facebook.com/v21.0/106540352242922/messages",
        "json": {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181",
                 "type": "text", "text": {"preview_url": True, "body": "It ships today."}},
        "headers": {"Authorization": "Bearer wa-access-token"}, "timeout": 7.5}]
    sent = conversation.messages.get(sender="agent")
    assert sent.external_id == "wamid.OUT1"


def test_a_staff_reply_goes_to_messenger(client, graph, django_capture_on_commit_callbacks):
    post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    graph.answers = [FakeResponse(200, {"recipient_id": "1254459154682919", "message_id": "m_OUT"})]

    with django_capture_on_commit_callbacks(execute=True):
        reply(client, conversation, "Yes, in 3-5 days.")

    assert graph.calls == [{
        "url": "https://graph.facebook.com/v21.0/me/messages",
        "json": {"recipient": {"id": "1254459154682919"}, "messaging_type": "RESPONSE",
                 "message": {"text": "Yes, in 3-5 days."}},
        "headers": {"Authorization": "Bearer fb-page-token"}, "timeout": 7.5}]
    assert conversation.messages.get(sender="agent").external_id == "m_OUT"


def test_an_internal_note_is_not_sent(client, graph, django_capture_on_commit_callbacks):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    support(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{INBOX}{Conversation.objects.get().pk}/act/", {"do": "note", "body": "VIP"})

    assert graph.calls == []


def test_a_timeout_and_a_503_are_retried_until_the_platform_takes_it(client, graph, django_capture_on_commit_callbacks):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    graph.answers = [requests.Timeout("read timed out"), FakeResponse(503, {}),
                     FakeResponse(200, {"messages": [{"id": "wamid.OUT2"}]})]

    with django_capture_on_commit_callbacks(execute=True):
        reply(client, conversation, "On its way.")

    assert len(graph.calls) == 3
    assert conversation.messages.get(sender="agent").external_id == "wamid.OUT2"
    assert not conversation.messages.filter(body__startswith="Not delivered").exists()


def test_a_refusal_is_recorded_for_staff_and_not_retried(client, graph, django_capture_on_commit_callbacks):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    graph.answers = [FakeResponse(400, {"error": {"message": "(#131030) Recipient phone number not in allowed list",
                                                  "code": 131030}})]

    with django_capture_on_commit_callbacks(execute=True):
        reply(client, conversation, "Hello")

    assert len(graph.calls) == 1
    sent = conversation.messages.get(sender="agent")
    assert sent.external_id == "" and "131030" in sent.payload["delivery_error"]
    note = conversation.messages.get(sender="system", is_note=True)
    assert "131030" in note.body
    page = client.get(f"{INBOX}{conversation.pk}/change/")
    assert "Not delivered" in page.content.decode()


def test_the_send_task_run_twice_sends_once(client, graph, django_capture_on_commit_callbacks):
    from chat.tasks import send_platform_message_task

    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    support(client)
    graph.answers = [FakeResponse(200, {"messages": [{"id": "wamid.ONCE"}]})]
    with django_capture_on_commit_callbacks(execute=True):
        reply(client, Conversation.objects.get(), "Once")
    send_platform_message_task.delay(Message.objects.get(sender="agent").pk)

    assert len(graph.calls) == 1


def test_sending_a_text_reply_asks_for_no_files(client, graph, django_assert_num_queries):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    support(client)
    reply(client, Conversation.objects.get(), "It ships today.")  # queued after a commit that never comes
    sent = Message.objects.get(sender="agent")
    graph.answers = [FakeResponse(200, {"messages": [{"id": "wamid.TEXT"}]})]

    # The message with its conversation, then its platform id: no query for attachments it has none of.
    with django_assert_num_queries(2) as captured:
        assert outbound.deliver(message_id=sent.pk) is True

    assert not any("chat_attachment" in query["sql"] for query in captured.captured_queries)
    assert len(graph.calls) == 1 and Message.objects.get(pk=sent.pk).external_id == "wamid.TEXT"


@pytest.mark.parametrize("data, said", [
    ({"error": {"message": "(#131053) Media upload error", "type": "OAuthException", "code": 131053}},
     "HTTP 400 (#131053) Media upload error"),
    ({"error": {"code": 100}}, "HTTP 400"),
    ({"error": "Bad request"}, "HTTP 400"),  # not Meta's shape: the status alone, no crash
    ([], "HTTP 400"),
])
def test_a_graph_refusal_is_said_once_the_same_way_for_replies_files_and_downloads(data, said):
    from chat.messaging.common import graph_refusal

    assert graph_refusal(400, data) == said


# --- The 24-hour window ------------------------------------------------------------------------

def test_outside_24_hours_free_text_is_refused_and_the_inbox_says_so(client, graph, django_capture_on_commit_callbacks):
    old = int((timezone.now() - timedelta(hours=25)).timestamp())
    post_signed(client, WA_URL, wa_payload(timestamp=old), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)

    page = client.get(f"{INBOX}{conversation.pk}/change/")
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "reply", "body": "Hi again"}, follow=True)

    text = page.content.decode()
    assert "More than 24 hours since the customer" in text and "a free-text reply cannot be sent now" in text
    assert 'value="template"' in text
    assert "WhatsApp only accepts an approved template" in refused.content.decode()
    assert not conversation.messages.filter(sender="agent").exists() and graph.calls == []


def test_outside_24_hours_the_approved_template_is_sent(client, graph, django_capture_on_commit_callbacks):
    old = int((timezone.now() - timedelta(hours=30)).timestamp())
    post_signed(client, WA_URL, wa_payload(timestamp=old), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    graph.answers = [FakeResponse(200, {"messages": [{"id": "wamid.TPL"}]})]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{INBOX}{conversation.pk}/act/", {"do": "template"})

    assert graph.calls[0]["json"] == {"messaging_product": "whatsapp", "recipient_type": "individual",
                                      "to": "16315551181", "type": "template",
                                      "template": {"name": "order_follow_up", "language": {"code": "en_US"}}}
    assert conversation.messages.get(sender="agent").external_id == "wamid.TPL"


def test_a_new_message_reopens_the_window(client, graph):
    old = int((timezone.now() - timedelta(hours=30)).timestamp())
    post_signed(client, WA_URL, wa_payload(timestamp=old), WA_SECRET)
    conversation = Conversation.objects.get()
    assert not outbound.window_open(conversation)

    post_signed(client, WA_URL, wa_payload(wamid="wamid.new"), WA_SECRET)
    # A late retry of an old delivery does not move the window back.
    post_signed(client, WA_URL, wa_payload(wamid="wamid.late", timestamp=old), WA_SECRET)
    conversation.refresh_from_db()

    assert outbound.window_open(conversation)
    assert outbound.window_open(conversation, now=timezone.now() + timedelta(hours=23))
    assert not outbound.window_open(conversation, now=timezone.now() + timedelta(hours=24, minutes=1))


def test_messenger_outside_24_hours_without_the_human_agent_tag_refuses_and_offers_no_template(client, graph,
                                                                                                settings):
    settings.MESSENGER_HUMAN_AGENT = False
    post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    support(client)

    page = client.get(f"{INBOX}{conversation.pk}/change/").content.decode()
    refused = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "reply", "body": "Hi"}, follow=True)

    assert 'value="template"' not in page and "They can write again" in page
    assert "Messenger does not accept a reply now" in refused.content.decode()
    assert not [call for call in graph.calls if call["url"].endswith("/me/messages")]


def test_the_conversation_page_stays_within_its_query_budget(client, django_assert_max_num_queries):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    with django_assert_max_num_queries(30):
        assert client.get(f"{INBOX}{conversation.pk}/change/").status_code == 200


def test_a_product_card_reaches_whatsapp_as_its_address(client, graph, settings, storefront_catalog,
                                                       django_capture_on_commit_callbacks):
    from catalog.models import Product

    settings.SITE_URL = "https://shop.example"
    product = Product.objects.published().first()
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{INBOX}{conversation.pk}/act/", {"do": "card", "product": product.slug, "body": "This one?"})

    assert graph.calls[0]["json"]["text"]["body"] == f"This one?\nhttps://shop.example{product.get_absolute_url()}"


def test_a_signed_payload_of_another_shape_is_400_and_stores_nothing(client):
    response = post_signed(client, WA_URL, {"object": "whatsapp_business_account", "entry": ["x"]}, WA_SECRET)

    assert response.status_code == 400 and not Message.objects.exists()


def test_the_inbox_lists_platform_conversations_within_its_budget(client, django_assert_max_num_queries):
    for n in range(3):
        post_signed(client, WA_URL, wa_payload(wamid=f"wamid.{n}", sender=f"4477009001{n}", name=f"Sam {n}"), WA_SECRET)
    post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    support(client)

    with django_assert_max_num_queries(12):
        response = client.get(INBOX, {"channel": "whatsapp"})

    assert {c.name for c in response.context["conversations"]} == {"Sam 0", "Sam 1", "Sam 2"}


@given(body=st.binary(max_size=300), secret=st.text(min_size=1, max_size=20), other=st.text(min_size=1, max_size=20))
def test_a_signature_matches_its_own_body_and_secret_only(body, secret, other):
    from chat.messaging.common import sign, signature_ok

    header = sign(raw_body=body, secret=secret)
    assert signature_ok(raw_body=body, header=header, secret=secret)
    assert signature_ok(raw_body=body, header=header, secret=other) == (other == secret)
    assert not signature_ok(raw_body=body + b" ", header=header, secret=secret)
    assert not signature_ok(raw_body=body, header=header, secret="")


@given(hours=st.floats(min_value=0, max_value=72, allow_nan=False))
def test_free_text_is_allowed_exactly_within_24_hours_of_the_last_message(hours):
    last = timezone.now()
    conversation = Conversation(channel="whatsapp", last_inbound_at=last)

    assert outbound.window_open(conversation, now=last + timedelta(hours=hours)) == (hours < 24)


def test_a_message_of_control_characters_only_is_stored_as_empty_not_an_error(client):
    response = post_signed(client, WA_URL, wa_payload(text="\x00\x07 "), WA_SECRET)

    assert response.status_code == 200
    assert Message.objects.get().body == "[empty message]"


def test_the_conversation_page_names_the_sender_and_the_open_window(client):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    support(client)

    text = client.get(f"{INBOX}{Conversation.objects.get().pk}/change/").content.decode()

    assert "Writes on WhatsApp as 16315551181." in text
    assert "Free-text replies reach the customer until" in text and 'value="template"' not in text


# --- Messenger after 24 hours: the HUMAN_AGENT tag, for 7 days --------------------------------

def messenger_conversation_written(client, ago):
    post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - ago)
    conversation.refresh_from_db()
    return conversation


def test_messenger_after_24_hours_the_reply_goes_with_the_human_agent_tag(client, graph,
                                                                          django_capture_on_commit_callbacks):
    conversation = messenger_conversation_written(client, timedelta(hours=30))
    support(client)
    graph.answers = [FakeResponse(200, {"recipient_id": "1254459154682919", "message_id": "m_TAGGED"})]

    page = html.unescape(client.get(f"{INBOX}{conversation.pk}/change/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        reply(client, conversation, "Sorry for the wait: it shipped.")

    assert "replies go with Messenger's HUMAN_AGENT tag until" in page
    assert graph.calls == [{
        "url": "https://graph.facebook.com/v21.0/me/messages",
        "json": {"recipient": {"id": "1254459154682919"}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
                 "message": {"text": "Sorry for the wait: it shipped."}},
        "headers": {"Authorization": "Bearer fb-page-token"}, "timeout": 7.5}]
    sent = conversation.messages.get(sender="agent")
    assert sent.external_id == "m_TAGGED" and sent.payload["tag"] == "HUMAN_AGENT"
    assert "Sent with Messenger's HUMAN_AGENT tag" in html.unescape(client.get(f"{INBOX}{conversation.pk}/change/").content.decode())


def test_messenger_after_7_days_a_reply_is_refused_and_staff_are_told_it_cannot_be_delivered(client, graph):
    conversation = messenger_conversation_written(client, timedelta(days=7, minutes=1))
    support(client)

    page = html.unescape(client.get(f"{INBOX}{conversation.pk}/change/").content.decode())
    refused = client.post(f"{INBOX}{conversation.pk}/act/", {"do": "reply", "body": "Hello?"}, follow=True)

    assert "More than 7 days since the customer's last message: a reply can no longer be delivered." in page
    assert "this reply can no longer be delivered" in refused.content.decode()
    assert not conversation.messages.filter(sender="agent").exists()
    assert not [call for call in graph.calls if call["url"].endswith("/me/messages")]


def test_a_reply_queued_inside_7_days_but_sent_after_is_recorded_as_not_delivered(client, graph):
    from chat.tasks import send_platform_message_task

    conversation = messenger_conversation_written(client, timedelta(days=6, hours=23))
    agent = support(client)
    message = Message.objects.create(conversation=conversation, sender="agent", author=agent, body="Late",
                                     channel="messenger")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))

    assert send_platform_message_task.delay(message.pk).get() is False

    assert not [call for call in graph.calls if call["url"].endswith("/me/messages")]
    message.refresh_from_db()
    assert "Messenger no longer accepts a reply" in message.payload["delivery_error"]
    assert conversation.messages.filter(sender="system", is_note=True, body__startswith="Not delivered").exists()


@given(hours=st.floats(min_value=0, max_value=24 * 10, allow_nan=False))
def test_a_messenger_reply_is_plain_for_24_hours_tagged_until_7_days_then_impossible(hours):
    last = timezone.now()
    conversation = Conversation(channel="messenger", last_inbound_at=last)

    tag = outbound.message_tag(conversation, now=last + timedelta(hours=hours))

    assert tag == ("" if hours < 24 else "HUMAN_AGENT" if hours < 24 * 7 else None)


# --- WhatsApp's template with parameters ---------------------------------------------------------

def test_the_template_goes_with_its_body_parameters_filled_in(client, graph, settings,
                                                              django_capture_on_commit_callbacks):
    settings.WHATSAPP_TEMPLATE_PARAMETERS = ["{first_name}", "{store_name}", "{agent_name}"]
    settings.STORE_NAME = "Trail Shop"
    old = int((timezone.now() - timedelta(hours=30)).timestamp())
    post_signed(client, WA_URL, wa_payload(timestamp=old), WA_SECRET)
    conversation = Conversation.objects.get()
    support(client)
    graph.answers = [FakeResponse(200, {"messages": [{"id": "wamid.TPL2"}]})]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{INBOX}{conversation.pk}/act/", {"do": "template"})

    assert graph.calls[0]["json"] == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181", "type": "template",
        "template": {"name": "order_follow_up", "language": {"code": "en_US"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "Trail Shop"},
                                            {"type": "text", "text": "Ada"}]}]}}
    sent = conversation.messages.get(sender="agent")
    assert sent.payload["parameters"] == ["Kerry", "Trail Shop", "Ada"] and "Kerry, Trail Shop, Ada" in sent.body


# --- Sender names ------------------------------------------------------------------------------

def test_a_messenger_senders_name_is_read_once_from_the_profile_api(client, graph, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, FB_URL, fb_payload(mid="m_second", text="Still there?"), FB_SECRET)

    assert graph.gets == [{"url": "https://graph.facebook.com/v21.0/1254459154682919",
                           "params": {"fields": "first_name,last_name"},
                           "headers": {"Authorization": "Bearer fb-page-token"}, "timeout": 7.5}]
    assert Conversation.objects.get().name == "Peter Chang"


def test_a_refused_profile_lookup_leaves_the_name_empty_and_the_message_stored(client, graph,
                                                                               django_capture_on_commit_callbacks):
    graph.profiles = [FakeResponse(400, {"error": {"message": "(#100) No profile available for that user.",
                                                   "code": 100}})]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, FB_URL, fb_payload(), FB_SECRET)

    assert response.status_code == 200 and len(graph.gets) == 1
    conversation = Conversation.objects.get()
    assert conversation.name == "" and conversation.messages.count() == 1


def test_a_whatsapp_senders_new_profile_name_is_recorded(client):
    post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    post_signed(client, WA_URL, wa_payload(wamid="wamid.renamed", name="Kerry F."), WA_SECRET)

    assert Conversation.objects.get().name == "Kerry F."


def test_a_profile_lookup_that_times_out_is_retried_then_given_up_quietly(client, graph,
                                                                          django_capture_on_commit_callbacks):
    graph.profiles = [requests.Timeout("read timed out"), FakeResponse(503, {}), FakeResponse(500, {}),
                      FakeResponse(502, {})]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, FB_URL, fb_payload(), FB_SECRET)

    assert response.status_code == 200 and len(graph.gets) == 4  # the first try and three retries
    assert Conversation.objects.get().name == ""

    graph.profiles = [FakeResponse(200, {"first_name": "Peter", "last_name": "Chang", "id": "1254459154682919"})]
    from chat.tasks import fetch_sender_name_task

    assert fetch_sender_name_task.delay(Conversation.objects.get().pk).get() == "Peter Chang"
