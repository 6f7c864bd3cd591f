"""One-click unsubscribe links: `/account/unsubscribe/<token>/`, one per customer, in every
marketing email and its List-Unsubscribe header (RFC 8058).

The token is the customer's id signed with SECRET_KEY (salt "customers.unsubscribe"). It does
not expire, on purpose: a campaign email read a year later must still unsubscribe in one click,
without signing in. Anyone holding the link can do exactly one thing with it, stop marketing
email to that address, and see nothing else. Changing any character makes it invalid (404). To
invalidate every link at once, rotate SECRET_KEY (SECRET_KEY_FALLBACKS keeps old links working
through a planned rotation).
"""
from __future__ import annotations

from django.core import signing
from django.urls import reverse

from shop.site import absolute_url

from .models import Customer

SALT = "customers.unsubscribe"


def _signer() -> signing.Signer:
    # Signer, not dumps(): no timestamp (never expires) and a short, readable URL.
    return signing.Signer(salt=SALT)


def unsubscribe_token(customer: Customer) -> str:
    """"<customer id>:<signature>"."""
    return _signer().sign(str(customer.pk))


def unsubscribe_path(customer: Customer) -> str:
    return reverse("customers:unsubscribe", kwargs={"token": unsubscribe_token(customer)})


def unsubscribe_url(customer: Customer) -> str:
    """The absolute one-click unsubscribe URL for emails (SITE_URL in front)."""
    return absolute_url(unsubscribe_path(customer))


def customer_from_unsubscribe_token(token: str) -> Customer | None:
    """The customer a token was made for, or None when we did not make it (or it was altered,
    or the customer no longer exists). One query for a good token, none for a bad one."""
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return None
    if not value.isdigit():
        return None
    return Customer.objects.filter(pk=int(value)).first()
