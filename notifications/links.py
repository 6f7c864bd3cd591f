"""Absolute links for emails: a mail client has no current page to resolve a relative link against."""
from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from orders.links import order_token
from orders.models import Order


def absolute_url(path: str) -> str:
    """`path` on the public site: "/orders/…" -> "https://shop.example/orders/…" (settings.SITE_URL)."""
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def order_url(order: Order) -> str:
    """The link to the order's page that every order email carries.

    The signed guest link `orders:detail_signed` (orders.links: works without signing in, cannot
    be guessed); the store's home page if the project does not route it, so an email never
    carries a broken link.
    """
    try:
        path = reverse("orders:detail_signed", kwargs={"token": order_token(order)})
    except NoReverseMatch:
        path = "/"
    return absolute_url(path)
