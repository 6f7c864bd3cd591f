"""The store's public address: every absolute link that leaves a page starts here.

Emails, Stripe Checkout's return and cancel addresses, canonical links, structured data, the
sitemaps and robots.txt name the store by `settings.SITE_URL`, never by the host a request
happened to arrive on: an email is written by a worker with no request at all, and a page
reached through another host name (or a proxy that rewrites it) must still name one address.

`SITE_URL` follows `PORT` in debug mode (`PORT=8311 make run` mails links to port 8311) and must
be set in production (`manage.py check --deploy`, shop/checks.py).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def absolute_url(path: str = "/") -> str:
    """`path` on the public site: "/orders/x/" -> "https://shop.example/orders/x/".

    A URL that is already absolute (media on a CDN or object storage) is returned as it is.
    """
    if urlsplit(path).scheme:
        return path
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def site_scheme_and_host() -> tuple[str, str]:
    """`SITE_URL`'s scheme and host with its port: ("https", "shop.example:8443")."""
    parts = urlsplit(settings.SITE_URL)
    return parts.scheme, parts.netloc
