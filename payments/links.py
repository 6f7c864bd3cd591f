"""Signed links to a payment (the demo card form, the "payment processing" page), and who may use them.

A link carries the payment id signed with SECRET_KEY (salt "payments.payment"); an altered one
is refused. A valid link is not enough on its own: the payment must also have been started in
the visitor's browser session, or belong to the signed-in customer who owns the order
(`payments.selectors.payment_for_visitor`). Anyone else gets a 404.
"""
from __future__ import annotations

from django.core import signing
from django.http import HttpRequest
from django.urls import reverse

from .models import Payment

SALT = "payments.payment"
SESSION_KEY = "payments.started"
# Enough for every attempt of a few orders; older ids fall off so the session stays small.
SESSION_LIMIT = 20


def payment_token(payment: Payment) -> str:
    return signing.Signer(salt=SALT).sign(str(payment.pk))


def payment_id_from_token(token: str) -> int | None:
    try:
        value = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def remember_payment(request: HttpRequest, payment: Payment) -> None:
    """Let this browser session open the payment's pages."""
    started = [pk for pk in request.session.get(SESSION_KEY, []) if pk != payment.pk]
    request.session[SESSION_KEY] = [*started, payment.pk][-SESSION_LIMIT:]


def started_here(request: HttpRequest, payment_id: int) -> bool:
    return payment_id in request.session.get(SESSION_KEY, [])


def demo_url(payment: Payment) -> str:
    return reverse("payments:demo", kwargs={"token": payment_token(payment)})


def status_url(payment: Payment) -> str:
    return reverse("payments:status", kwargs={"token": payment_token(payment)})


def retry_url(payment: Payment) -> str:
    return reverse("payments:retry", kwargs={"token": payment_token(payment)})
