"""The optional language model, against a real HTTP server in the test speaking the OpenAI chat
completions format (the store's real client code, `requests`, talks to it over loopback)."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chat import llm
from chat.models import Conversation, FaqEntry, Message
from orders.tests.factories import OrderFactory

from .factories import FaqEntryFactory

pytestmark = pytest.mark.django_db


class FakeModel:
    """Scripted answers, one per request: a dict (the assistant message), "hang" (never answers
    until the test ends), or raw bytes (a malformed body). Records every request."""

    def __init__(self):
        self.script: list = []
        self.requests: list[dict] = []
        self.release = threading.Event()
        self.received = threading.Event()


@pytest.fixture
def model(settings):
    fake = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
            fake.received.set()
            step = fake.script.pop(0) if fake.script else {"role": "assistant", "content": "Anything else?"}
            if step == "hang":
                fake.release.wait(timeout=30)  # held until the test ends (bounded)
                return
            if step == "trickle":  # headers at once, then a byte every 0.2 s: each read is quick
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                for byte in b'{"choices": [{"message": {"content": "' + b"x" * 100:
                    if fake.release.wait(timeout=0.2):  # the pace of a slow server; ends with the test
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                return
            if isinstance(step, bytes):
                raw = step
            else:
                finish = "tool_calls" if step.get("tool_calls") else "stop"
                raw = json.dumps({
                    "id": "chatcmpl-123", "object": "chat.completion", "created": 1733440000, "model": "shop-small",
                    "choices": [{"index": 0, "message": {"role": "assistant", **step}, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
                }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CHAT_LLM_URL = f"http://127.0.0.1:{server.server_port}/v1/chat/completions"
    settings.CHAT_LLM_API_KEY = "sk-local-test"
    settings.CHAT_LLM_MODEL = "shop-small"
    settings.CHAT_LLM_TIMEOUT = 2.0
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()


def tool_call(name, arguments, call_id="call_1"):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def start(client, body):
    response = client.post("/chat/start/", {"body": body})
    assert response.status_code == 200
    return Conversation.objects.get(public_id=response.json()["conversation"]["id"])


def last_bot(conversation) -> Message:
    return conversation.messages.filter(sender="bot").order_by("-pk").first()


def test_the_model_phrases_a_plain_answer_and_sees_only_the_conversation(client, model):
    model.script = [{"content": "Hello! We sell outdoor gear. What are you after?"}]

    conversation = start(client, "hi, what do you sell?")

    said = last_bot(conversation)
    assert said.body == "Hello! We sell outdoor gear. What are you after?"
    assert said.payload["llm"] is True and said.payload["tools"] == []
    (request,) = model.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-local-test"
    sent = request["json"]
    assert sent["model"] == "shop-small"
    assert {t["function"]["name"] for t in sent["tools"]} == llm.ALLOWED
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][-1] == {"role": "user", "content": "hi, what do you sell?"}
    assert [m["role"] for m in sent["messages"][1:]] == ["assistant", "user"]  # the greeting, the question


def test_addresses_the_model_writes_are_dropped(client, model):
    model.script = [{"content": "Pay here: https://evil.example/pay?x=1 or www.evil.example today."}]

    conversation = start(client, "how do i pay?")

    said = last_bot(conversation)
    assert said.body == "Pay here: or today."
    assert "evil" not in said.body


def test_a_tool_call_runs_the_built_in_search_and_attaches_its_real_cards(client, model, storefront_catalog):
    model.script = [
        {"content": None, "tool_calls": [tool_call("search_products", {"query": "shell jacket under 200"})]},
        {"content": "The Storm Shell should suit you."},
    ]

    conversation = start(client, "I need something for the rain")

    said = last_bot(conversation)
    assert said.body == "The Storm Shell should suit you."
    assert said.payload["tools"] == ["search_products"]
    assert said.payload["cards"] and all(card["url"].startswith("/") for card in said.payload["cards"])
    second = model.requests[1]["json"]["messages"]
    tool_message = second[-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    products = json.loads(tool_message["content"])["products"]
    assert products and {"title", "price", "in_stock"} == set(products[0])
    assert second[-2]["tool_calls"][0]["function"]["name"] == "search_products"


def test_an_order_lookup_by_the_model_needs_the_number_and_the_email_like_the_built_in_one(client, model):
    order = OrderFactory(email="bo@example.com")
    model.script = [
        {"tool_calls": [tool_call("lookup_order", {"order_number": order.number, "email": "eve@example.com"})]},
        {"content": "I could not find that order."},
        {"tool_calls": [tool_call("lookup_order", {"order_number": order.number, "email": "bo@example.com"})]},
        {"content": "Your order is on its way."},
    ]

    conversation = start(client, "where is my stuff")
    wrong = last_bot(conversation)
    client.post(f"/chat/{conversation.public_id}/send/", {"body": "sorry, it is bo@example.com"})
    right = last_bot(conversation)

    assert "orders" not in wrong.payload
    assert json.loads(model.requests[1]["json"]["messages"][-1]["content"]) == {"found": False}
    assert right.payload["orders"][0]["number"] == order.number
    assert "/orders/" in right.payload["orders"][0]["url"]
    # Before the verified lookup the model saw nothing of the order or its customer.
    first_three = json.dumps([r["json"] for r in model.requests[:3]])
    assert order.get_state_display() not in first_three and "bo@example.com" not in json.dumps(model.requests[0]["json"])


def test_the_models_order_lookups_share_the_visitors_hourly_limit(client, model):
    order = OrderFactory(email="bo@example.com")
    wrong = tool_call("lookup_order", {"order_number": order.number, "email": "eve@example.com"})
    model.script = [step for _ in range(6) for step in ({"tool_calls": [wrong]}, {"content": "No luck."})]

    conversation = start(client, "find my order")
    for _n in range(5):
        client.post(f"/chat/{conversation.public_id}/send/", {"body": "try again"})

    last_result = json.loads(model.requests[-1]["json"]["messages"][-1]["content"])
    assert last_result == {"error": "too many tries; the shopper must wait an hour"}


def test_a_tool_it_may_not_use_is_refused_and_the_built_in_responder_answers(client, model, settings):
    FaqEntryFactory()
    model.script = [{"tool_calls": [
        tool_call("search_faq", {"question": "returns"}, call_id="call_a"),
        tool_call("list_customers", {"email": "%"}, call_id="call_b"),
    ]}]

    conversation = start(client, "can i return an item?")

    said = last_bot(conversation)
    assert said.body.startswith("You can return anything")  # the built-in FAQ answer
    assert "llm" not in said.payload
    assert len(model.requests) == 1  # nothing was sent back: no tool ran, not even the allowed one
    assert FaqEntry.objects.get().times_used == 1  # counted once, by the built-in answer


@pytest.mark.parametrize("slow", ["hang", "trickle"])  # never answers; sends a byte every 0.2 s
def test_a_slow_model_is_abandoned_and_the_built_in_responder_answers_within_3_seconds(client, model, slow):
    FaqEntryFactory()
    model.script = [slow]

    began = time.monotonic()
    conversation = start(client, "can i return an item?")
    took = time.monotonic() - began

    assert model.received.is_set()  # the model was asked, and never finished answering
    assert took < 3.0
    assert last_bot(conversation).body.startswith("You can return anything")


def test_a_model_that_hangs_after_a_tool_ran_answers_from_the_tool_within_3_seconds(client, model):
    order = OrderFactory(email="bo@example.com")
    model.script = [
        {"tool_calls": [tool_call("lookup_order", {"order_number": order.number, "email": "bo@example.com"})]},
        "hang",
    ]

    began = time.monotonic()
    conversation = start(client, "status of my order please")
    took = time.monotonic() - began

    said = last_bot(conversation)
    assert took < 3.0
    assert said.body.startswith(f"Order {order.number}:") and said.payload["llm"] is False
    assert said.payload["orders"][0]["number"] == order.number


@pytest.mark.parametrize("body", [
    b'{"choices": [{"message": {"role": "assistant", "content": "Hi"',  # cut off
    b"<html>502 Bad Gateway</html>",
    b'{"error": {"message": "model overloaded"}}',
    b'{"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "search_faq", "arguments": "{not json"}}]}}]}',
    b'{"choices": [{"message": {"role": "assistant", "content": ""}}]}',
])
def test_malformed_answers_fall_back_to_the_built_in_responder(client, model, body):
    FaqEntryFactory()
    model.script = [body]

    conversation = start(client, "can i return an item?")

    said = last_bot(conversation)
    assert said.body.startswith("You can return anything") and "llm" not in said.payload


def test_a_model_that_refuses_the_connection_falls_back(client, settings):
    import socket

    FaqEntryFactory()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.CHAT_LLM_URL = f"http://127.0.0.1:{port}/v1/chat/completions"

    conversation = start(client, "can i return an item?")

    assert last_bot(conversation).body.startswith("You can return anything")


def test_without_a_url_the_model_is_never_asked(client, settings, monkeypatch):
    settings.CHAT_LLM_URL = ""
    monkeypatch.setattr(llm, "complete", lambda *a, **k: pytest.fail("the model was asked"))
    FaqEntryFactory()

    conversation = start(client, "can i return an item?")

    assert last_bot(conversation).body.startswith("You can return anything")


def test_quick_replies_and_a_person_stay_with_the_built_in_responder(client, model, settings):
    settings.CHAT_OPENING_HOURS = ""

    conversation = start(client, "I want to talk to a person")

    conversation.refresh_from_db()
    assert conversation.bot_active is False
    assert model.requests == []
