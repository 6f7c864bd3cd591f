"""Signed links to an order: how a guest, who has no account, gets back to their order.

The link carries the order number signed with the project's SECRET_KEY (salt "orders.detail"):
`/orders/7KQ2-M4XD:<signature>/`. The number alone is never enough; changing one character of
either part fails the check and the page answers 404.

The links do not expire, on purpose. They arrive in the order emails and are the guest's only
way to the order, and people look for an order weeks later (a late parcel, a return, an invoice
for their accounts). What the page shows is what those emails already contain. To revoke every
link at once, rotate SECRET_KEY; list the old key in SECRET_KEY_FALLBACKS for a while to keep
them working during a planned rotation.
"""
from __future__ import annotations

from django.core import signing
from django.urls import reverse

from shop.site import absolute_url

from .models import Order

SALT = "orders.detail"


def _signer() -> signing.Signer:
    # Signer, not signing.dumps(): no timestamp and no base64, so the link stays short and
    # readable, and it never expires (see the module docstring).
    return signing.Signer(salt=SALT)


def order_token(order: Order) -> str:
    """The token that opens `order` for whoever holds it: "<number>:<signature>"."""
    return _signer().sign(order.number)


def order_number_from_token(token: str) -> str | None:
    """The order number a token was made for, or None when it was not made by us (or altered)."""
    try:
        return _signer().unsign(token)
    except signing.BadSignature:
        return None


def signed_order_url(order: Order) -> str:
    """The order page's path, opening it without signing in: "/orders/<token>/"."""
    return reverse("orders:detail_signed", kwargs={"token": order_token(order)})


def signed_confirmation_url(order: Order) -> str:
    """The "thank you" page after checkout: "/orders/<token>/thanks/"."""
    return reverse("orders:confirmation", kwargs={"token": order_token(order)})


def absolute_signed_order_url(order: Order) -> str:
    """The signed order page as a full URL for emails (SITE_URL in front)."""
    return absolute_url(signed_order_url(order))
