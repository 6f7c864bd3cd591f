"""Stripe without the network: the real `stripe` client over a fake HTTP layer, and webhook
events built from Stripe's own published example objects (fixtures/stripe_objects.json, MIT,
see fixtures/STRIPE-LICENSE), signed for real with the webhook secret."""
from __future__ import annotations

import copy
import json
import secrets
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import stripe
from django.conf import settings
from django.test import Client
from django.urls import reverse

FIXTURES = Path(__file__).parent / "fixtures" / "stripe_objects.json"


@cache
def _fixtures() -> dict:
    return json.loads(FIXTURES.read_text())


def stripe_object(kind: str, **changes) -> dict:
    """A copy of Stripe's example `kind` object ("checkout.session", "charge", ...) with `changes`."""
    obj = copy.deepcopy(_fixtures()[kind])
    obj.update(changes)
    return obj


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(8)}"


def stripe_event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    """A webhook event shaped like Stripe's example event, carrying `obj`."""
    return stripe_object(
        "event", id=event_id or new_id("evt"), type=event_type, created=int(time.time()),
        api_version=stripe.api_version, data={"object": obj},
    )


def sign(payload: str, secret: str | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret or settings.STRIPE_WEBHOOK_SECRET)


def post_event(client: Client, event: dict | str, *, signature: str | None = None):
    """POST `event` to the webhook as Stripe does, signed with STRIPE_WEBHOOK_SECRET unless
    `signature` says otherwise ("" sends no signature header)."""
    payload = event if isinstance(event, str) else json.dumps(event)
    headers = {}
    signature = sign(payload) if signature is None else signature
    if signature:
        headers["Stripe-Signature"] = signature
    return client.post(reverse("payments:stripe_webhook"), data=payload, content_type="application/json",
                       headers=headers)


NO_ANSWER = object()


@dataclass
class SentRequest:
    method: str
    path: str
    headers: dict
    params: dict  # form fields as Stripe encodes them: {"metadata[order_id]": "7", ...}


class FakeStripeHTTP(stripe.HTTPClient):
    """Answers the stripe library's requests with canned JSON; records every request.

    An unexpected request fails the test (nothing reaches the network).
    """

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentRequest] = []
        self._answers: dict[tuple[str, str], list[tuple[int, dict]]] = {}
        self._used: dict[tuple[str, str], int] = {}

    def answer(self, method: str, path: str, body: dict, *, status: int = 200) -> None:
        """Queue a response for a path; requests take them in order, and the last one repeats."""
        self._answers.setdefault((method.lower(), path), []).append((status, body))

    def no_answer(self, method: str, path: str) -> None:
        """Queue a request that gets no answer (the network dropped it): the library raises
        APIConnectionError, whether or not Stripe acted on it."""
        self._answers.setdefault((method.lower(), path), []).append((0, NO_ANSWER))

    def forget(self, method: str, path: str) -> None:
        self._answers.pop((method.lower(), path), None)
        self._used.pop((method.lower(), path), None)

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        raw = post_data.decode() if isinstance(post_data, bytes) else (post_data or parts.query)
        self.sent.append(SentRequest(method.lower(), parts.path, dict(headers or {}), dict(parse_qsl(raw))))
        key = (method.lower(), parts.path)
        queue = self._answers.get(key)
        if not queue:
            raise AssertionError(f"Unexpected Stripe request: {method.upper()} {parts.path}")
        used = self._used.get(key, 0)
        self._used[key] = used + 1
        status, body = queue[min(used, len(queue) - 1)]
        if body is NO_ANSWER:
            raise stripe.APIConnectionError("The connection dropped (test).", should_retry=False)
        return json.dumps(body), status, {"Request-Id": "req_test"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise AssertionError("No streaming requests expected.")

    def close(self) -> None:
        pass

    def requests_to(self, method: str, path: str) -> list[SentRequest]:
        return [r for r in self.sent if (r.method, r.path) == (method.lower(), path)]
