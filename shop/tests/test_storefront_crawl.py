"""The storefront on the demo store, walked link by link as a visitor and as a signed-in customer.

From `/`, every same-site link a page renders is followed (GET, as a person clicking it; not the
back office, static files, pictures or signing out), each path with a few of its query strings
(facets, sorting, pages) so the cap reaches every kind of page. No page may fail, and no link the
store rendered may lead to a page that is not there (404) or cannot be opened (405).
"""
from __future__ import annotations

from collections import Counter, deque
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model

from carts.models import Cart
from catalog.models import Product
from customers.models import Customer

pytestmark = pytest.mark.django_db

CAP = 250  # pages per visitor
QUERIES_PER_PATH = 3  # the same path with different query strings
SKIP = ("/admin/", "/static/", "/media/", "/account/logout/")
BROKEN = {404, 405, 410}


def same_site(href: str, base: str) -> str | None:
    """The link as a path (and query) on this site, or None for another site, a mail or phone link."""
    url, _fragment = urldefrag(urljoin(base, href.strip()))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "") or parts.netloc not in ("", "testserver"):
        return None
    path = parts.path or "/"
    if path.startswith(SKIP) or path.endswith("/stream/"):
        return None
    return f"{path}?{parts.query}" if parts.query else path


def searches(page) -> list[str]:
    """What each GET form on the page (search box, facets, sorting) asks for when sent as shown,
    a search box with a word from the demo catalog typed in."""
    found = []
    for form in page.forms.values():
        if (form.html.form.get("method") or "").lower() != "get":
            continue  # a form without a method is the chat's, sent by its script
        fields = [(name, "wool" if name == "q" and not value else value) for name, value in form.submit_fields()]
        found.append(f"{form.action or page.request.path}?{urlencode(fields)}")
    return found


def crawl(app, *, start: str = "/") -> tuple[list[str], list[str]]:
    """Walk the store's links breadth-first; return the failures (each with the page linking to
    it) and the pages opened."""
    queue: deque[tuple[str, str]] = deque([(start, "(start)")])
    seen = {start}
    per_path: Counter[str] = Counter()
    failures: list[str] = []
    opened: list[str] = []
    while queue and len(opened) < CAP:
        url, source = queue.popleft()
        opened.append(url)
        try:
            response = app.get(url, expect_errors=True)
        except Exception as error:  # a server error (DEBUG_PROPAGATE_EXCEPTIONS raises it here)
            failures.append(f"{url} (linked from {source}): {type(error).__name__}: {error}")
            continue
        if response.status_code >= 500 or response.status_code in BROKEN:
            failures.append(f"{url} (linked from {source}): {response.status_code}")
            continue
        if response.status_code in (301, 302, 303, 307, 308):
            links = [response.headers["Location"]]
        elif "html" in response.content_type:
            links = [anchor["href"] for anchor in response.html.select("a[href]")] + searches(response)
        else:
            continue
        for href in links:
            found = same_site(href, url)
            if found is None or found in seen:
                continue
            path = urlsplit(found).path
            if "?" in found and per_path[path] >= QUERIES_PER_PATH:
                continue
            seen.add(found)
            per_path[path] += "?" in found
            queue.append((found, url))
    return failures, opened


def test_a_visitor_following_every_link_finds_no_broken_page(django_app, demo_store):
    failures, opened = crawl(django_app)

    assert failures == []
    assert len(opened) >= 50, f"only {len(opened)} pages reached from /"
    assert {"/cart/", "/account/login/", "/contact/"} <= set(opened)
    assert any(url.startswith("/search/?") for url in opened)


def test_a_signed_in_customer_with_a_cart_finds_no_broken_page(django_app, demo_store):
    customer = (Customer.objects.filter(user__isnull=False, orders__isnull=False)
                .order_by("pk").first())
    django_app.set_user(get_user_model().objects.get(pk=customer.user_id))
    for product in Product.objects.published().order_by("pk"):
        forms = [form for form in django_app.get(product.get_absolute_url()).forms.values()
                 if form.action.endswith("/cart/add/")]
        if forms:
            forms[0].submit()
            break
    assert Cart.objects.get(user_id=customer.user_id).lines.exists()

    failures, opened = crawl(django_app)

    assert failures == []
    assert len(opened) >= 50, f"only {len(opened)} pages reached from /"
    assert {"/cart/", "/checkout/", "/orders/", "/account/wishlist/"} <= set(opened)
    assert any(url.startswith("/orders/number/") for url in opened)
