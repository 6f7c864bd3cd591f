"""The optional language model: with `CHAT_LLM_URL` set (an OpenAI-compatible chat completions
endpoint, such as a model the shop hosts itself) it phrases the assistant's answers and picks its
tools, in the OpenAI tool-calling format.

What it may do and see:
- It calls only the built-in responder's own functions (`TOOLS`): the product search, the order
  lookup (`assistant.verified_order`: the same verification and the same rate limit), the FAQ,
  the store's shipping, pick-up and returns policies. A call to anything else is refused and
  nothing it asked for runs; the built-in responder answers instead.
- It sees the system prompt, the conversation's recent visible messages (what the shopper and
  the store said to each other, no notes, no payloads) and what its tools return. Nothing about
  the customer (name, email, orders, cart) unless a tool returned it for a verified request.
- Product cards and order links in its answer are the tools' own (real addresses), never URLs
  the model wrote.

Time: every call to the model, the round trips for tools included, must end within
`CHAT_LLM_TIMEOUT` seconds (2 by default) in all. Each call runs in a small thread pool and the
shopper's request waits for it at most what is left of that budget, so a model that hangs, or
trickles its answer byte by byte, cannot hold the request: it is abandoned and the built-in
responder answers. The abandoned thread stops by itself too: it reads the answer in chunks and
gives up at the same deadline (or past `MAX_BODY` bytes). Failures of any kind
(refused connection, HTTP error, malformed JSON, an answer of another shape) do the same.
"""
from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from . import policies, services
from .models import Conversation, Message

log = logging.getLogger(__name__)

HISTORY = 8  # recent visible messages the model sees
MAX_ROUNDS = 3  # model calls per shopper message (tools, then the answer)
MAX_ANSWER = 1200
MAX_BODY = 256 * 1024  # bytes of a model's answer read at most
# Addresses the model writes are dropped: the shopper follows only the tools' own cards and links.
URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)

TOOLS = [
    {"type": "function", "function": {
        "name": "search_products",
        "description": "Search the store's catalog. Returns up to three products with price and stock.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "What the shopper wants, e.g. 'waterproof jacket under 150 in M'"},
        }, "required": ["query"]},
    }},
    {"type": "function", "function": {
        "name": "lookup_order",
        "description": "The status of an order. Guests must give both the order number and the email used for it.",
        "parameters": {"type": "object", "properties": {
            "order_number": {"type": "string", "description": "Like 7KQ2-M4XD"},
            "email": {"type": "string", "description": "The email address on the order"},
        }, "required": ["order_number"]},
    }},
    {"type": "function", "function": {
        "name": "search_faq",
        "description": "The store's own answer to a common question, if it has one.",
        "parameters": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]},
    }},
    {"type": "function", "function": {
        "name": "store_policy",
        "description": "The store's current shipping options and prices, pick-up shops, or returns policy.",
        "parameters": {"type": "object", "properties": {
            "topic": {"type": "string", "enum": list(policies.TOPICS)},
        }, "required": ["topic"]},
    }},
]
ALLOWED = frozenset(tool["function"]["name"] for tool in TOOLS)


def system_prompt() -> str:
    return (
        f"You are the shopping assistant of {settings.STORE_NAME}, an online store. Answer the shopper briefly "
        "in plain text (no HTML, no Markdown, no links: the product cards and order links are attached for you). "
        "Use only the tools for facts about products, orders, the FAQ and shipping, pick-up or returns; "
        "never invent prices, stock, order details or policies. To look up an order a guest must give the "
        "order number and the email on it. If you cannot help, say so and offer a person from the team."
    )


class ModelUnavailable(Exception):
    """The model did not give a usable answer in time (or at all)."""


class ToolRefused(Exception):
    """The model asked for a tool it may not use, or with arguments that do not parse."""


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chat-llm")


def enabled() -> bool:
    return bool(settings.CHAT_LLM_URL)


def _post(payload: dict, deadline: float) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.CHAT_LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.CHAT_LLM_API_KEY}"
    timeout = max(deadline - time.monotonic(), 0.01)
    with requests.post(settings.CHAT_LLM_URL, json=payload, headers=headers, timeout=timeout, stream=True) as response:
        response.raise_for_status()
        body = bytearray()
        for chunk in response.iter_content(chunk_size=8192):
            body += chunk
            if time.monotonic() > deadline:
                raise ModelUnavailable("the answer took too long to arrive")
            if len(body) > MAX_BODY:
                raise ModelUnavailable("the answer is too long")
    return json.loads(body)


def complete(messages: list[dict], *, deadline: float) -> dict:
    """One chat completion: the assistant message (`content`, `tool_calls`). Raises
    ModelUnavailable when it fails or `deadline` (time.monotonic) passes first."""
    remaining = deadline - time.monotonic()
    if remaining <= 0.05:
        raise ModelUnavailable("no time left")
    payload = {"messages": messages, "tools": TOOLS, "tool_choice": "auto", "temperature": 0.2, "max_tokens": 400}
    if settings.CHAT_LLM_MODEL:
        payload["model"] = settings.CHAT_LLM_MODEL
    future = _pool.submit(_post, payload, deadline)
    try:
        data = future.result(timeout=remaining)
    except FutureTimeout:
        future.cancel()
        raise ModelUnavailable("timed out") from None
    except (requests.RequestException, ValueError) as error:  # ValueError: a body that is not JSON
        raise ModelUnavailable(f"{type(error).__name__}: {error}") from None
    if not isinstance(data, dict):
        raise ModelUnavailable("an answer of another shape")
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ModelUnavailable("an answer of another shape") from None
    if not isinstance(message, dict):
        raise ModelUnavailable("an answer of another shape")
    return message


@dataclass
class ToolResult:
    name: str
    for_model: dict
    say: str = ""  # what the built-in responder would have said, if the model cannot phrase it
    payload: dict = field(default_factory=dict)  # cards or order links for the shopper


def _arguments(call: dict) -> tuple[str, dict]:
    try:
        function = call["function"]
        name = function["name"]
        raw = function.get("arguments") or "{}"
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except (KeyError, TypeError, ValueError):
        raise ToolRefused("a tool call that does not parse") from None
    if name not in ALLOWED:
        raise ToolRefused(f"tool {name!r} is not allowed")
    if not isinstance(arguments, dict) or not all(isinstance(v, str) for v in arguments.values()):
        raise ToolRefused(f"arguments of {name} are not strings")
    return name, {key: value[:300] for key, value in arguments.items()}


def run_tool(name: str, arguments: dict, *, conversation: Conversation, user, rate_key: str) -> ToolResult:
    """Run one allowed tool through the built-in responder's functions."""
    from . import assistant

    if name == "search_products":
        cards = assistant.find_products(arguments.get("query", ""))
        listed = [{"title": c["title"], "price": c["price"], "in_stock": c["in_stock"]} for c in cards]
        return ToolResult(name, {"products": listed}, payload={"cards": cards} if cards else {},
                          say=_("Here is what I found:") if cards else _("I found nothing matching that."))
    if name == "lookup_order":
        try:
            order = assistant.verified_order(number=arguments.get("order_number", ""), email=arguments.get("email", ""),
                                             user=user, rate_key=rate_key, conversation=conversation)
        except assistant.TooManyLookups:
            text = _("Too many tries. Please wait an hour, or talk to a person.")
            return ToolResult(name, {"error": "too many tries; the shopper must wait an hour"}, say=text)
        if order is None:
            text = _("I could not find an order with that number and email address. Please check both.")
            return ToolResult(name, {"found": False}, say=text)
        own = user is not None and user.is_authenticated and order.user_id == user.pk
        card = assistant.order_card(order, signed=not own)
        return ToolResult(name, {"found": True, "number": card["number"], "status": card["status"], "placed": card["placed"]},
                          payload={"orders": [card]},
                          say=_("Order %(number)s: %(status)s.") % {"number": order.number, "status": card["status"]})
    if name == "search_faq":
        entry, score = assistant.best_faq(arguments.get("question", ""))
        if entry is None or score < assistant.FAQ_THRESHOLD:
            return ToolResult(name, {"found": False})
        return ToolResult(name, {"found": True, "question": entry.question, "answer": entry.answer},
                          payload={"faq": entry.pk}, say=entry.answer)
    topic = arguments.get("topic", "")
    if topic not in policies.TOPICS:
        return ToolResult(name, {"error": f"topic must be one of {', '.join(policies.TOPICS)}"})
    text = policies.answer(topic)
    return ToolResult(name, {"answer": text}, payload={"policy": topic}, say=text)


def _history(conversation: Conversation) -> list[dict]:
    rows = (conversation.messages.filter(is_note=False).exclude(sender=Message.Sender.SYSTEM)
            .order_by("-pk").values_list("sender", "body")[:HISTORY])
    return [{"role": "user" if sender == Message.Sender.SHOPPER else "assistant", "content": body}
            for sender, body in reversed(rows)]


def _clean_answer(content) -> str:
    if not isinstance(content, str):
        return ""
    text = URL.sub("", services.CONTROL.sub("", content))
    return re.sub(r"[ \t]{2,}", " ", text).strip()[:MAX_ANSWER]


def answer(*, conversation: Conversation, text: str, user=None, rate_key: str = "") -> bool:
    """Answer the shopper's message (already stored) with the model's help; False when the model
    could not (nothing was said then, and the built-in responder should answer)."""
    deadline = time.monotonic() + settings.CHAT_LLM_TIMEOUT
    messages = [{"role": "system", "content": system_prompt()}, *_history(conversation)]
    results: list[ToolResult] = []
    for _round in range(MAX_ROUNDS):
        try:
            reply = complete(messages, deadline=deadline)
        except ModelUnavailable as error:
            log.warning("chat language model unavailable: %s", error)
            break
        calls = reply.get("tool_calls") or []
        if calls:
            if not isinstance(calls, list):
                log.warning("chat language model: tool_calls is not a list")
                break
            try:
                # Every call is checked before any runs: one refused call refuses the turn.
                wanted = [(call.get("id", ""), *_arguments(call)) for call in calls]
            except (ToolRefused, AttributeError) as error:
                log.warning("chat language model refused: %s", error)
                break
            messages.append({"role": "assistant", "content": reply.get("content"), "tool_calls": calls})
            for call_id, name, arguments in wanted:
                result = run_tool(name, arguments, conversation=conversation, user=user, rate_key=rate_key)
                results.append(result)
                messages.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(result.for_model)})
            continue
        body = _clean_answer(reply.get("content"))
        if body:
            _say(conversation, body, results, phrased=True)
            return True
        break
    if results and any(r.say for r in results):
        # The tools ran (an order lookup counted against the limit): answer from what they found
        # in the built-in responder's words rather than run them again.
        _say(conversation, "\n".join(r.say for r in results if r.say), results, phrased=False)
        return True
    return False


def _say(conversation: Conversation, body: str, results: list[ToolResult], *, phrased: bool) -> None:
    from . import assistant

    payload: dict = {"llm": phrased, "tools": [r.name for r in results]}
    for result in results:
        for key, value in result.payload.items():
            if isinstance(value, list):
                payload.setdefault(key, []).extend(value)
            else:
                payload[key] = value
    payload["quick_replies"] = assistant.quick_replies((_("That helped"), "accept"), (_("Not what I asked"), "reject"))
    if payload.get("faq"):
        from .models import FaqEntry
        from django.db.models import F

        FaqEntry.objects.filter(pk=payload["faq"]).update(times_used=F("times_used") + 1)
    services.add_bot_message(conversation=conversation, body=body, payload=payload)
