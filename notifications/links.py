"""Absolute links for emails: a mail client has no current page to resolve a relative link against."""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from orders.links import order_token
from orders.models import Order
from shop.site import absolute_url  # the one helper for public links; campaigns import it from here

__all__ = ["absolute_url", "order_url"]


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
