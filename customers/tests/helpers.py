"""Helpers for account tests: read links out of captured emails, make verified accounts, compute
authenticator codes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

from allauth.account.models import EmailAddress
from django.core import mail

from customers.services.accounts import attach_customer

from .factories import UserFactory

PASSWORD = "correct horse battery staple"
CONFIRM_LINK = re.compile(r"http://testserver(/account/confirm-email/[^/\s]+/)")
RESET_LINK = re.compile(r"http://testserver(/account/password/reset/key/[^/\s]+/)")


def link_in_last_email(pattern: re.Pattern, to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    match = pattern.search(message.body)
    assert match, message.body
    html = message.alternatives[0][0] if message.alternatives else ""
    assert match[0] in html, "the HTML part carries the same link"
    return match[1]


def verified_account(email: str = "ada@example.com", **fields):
    """An account whose address is verified, with its customer record, as sign-up leaves it."""
    user = UserFactory(username=email.split("@")[0], email=email, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    customer = attach_customer(user=user, email=email)
    return user, customer


def sign_up(client, email: str, *, password: str = PASSWORD, marketing: bool = False):
    data = {"email": email, "password1": password, "password2": password}
    if marketing:
        data["accepts_marketing"] = "on"
    return client.post("/account/signup/", data)


def sign_in(client, email: str, password: str = PASSWORD, *, remember: bool = False):
    data = {"login": email, "password": password}
    if remember:
        data["remember"] = "on"
    return client.post("/account/login/", data)


def totp_code(secret: str, *, at: float | None = None, digits: int = 6, period: int = 30) -> str:
    """The code an authenticator app shows for the base32 `secret` at time `at` (now by default):
    RFC 6238 (HMAC-SHA1 over the 30-second step, RFC 4226's dynamic truncation), written out here
    rather than taken from allauth, so the tests check allauth against the standard."""
    key = base64.b32decode(secret.upper(), casefold=True)
    step = int((time.time() if at is None else at) // period)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return f"{value:0{digits}d}"
