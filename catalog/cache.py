"""Storefront caching that never shows a stale price.

Every cached storefront value belongs to a *catalog version*, a counter in the cache that is
bumped after any commit that changes a product, variant, price, image, category or stock level
(see catalog/signals.py; services that use `QuerySet.update()` bump it themselves). Fragments are
keyed by it; whole pages carry it in the entry. Bumping makes every older entry useless at once,
so invalidation is a single increment, not a key hunt.

The counter lives in the shared cache: with Redis (production) or a file cache every process sees
the same version. The local-memory default is private to one process, which is what `make run`
(a single runserver process) needs.
"""
from __future__ import annotations

import hashlib
import time
from functools import wraps

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language

VERSION_KEY = "catalog:version"
VARY = ["HX-Request", "HX-History-Restore-Request", "Cookie"]

# What `{% csrf_token %}` writes into a page rendered for everyone; each response gets the
# visitor's own token in its place (see `cache_storefront_page`). Letters only: HTML-safe as is.
CSRF_PLACEHOLDER = "sharedpagecsrftokenplaceholder"
_SHARED_RENDER = "_renders_shared_storefront_page"


def catalog_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # Start from the clock so a flushed cache can never bring back an old version number.
        version = time.time_ns() // 1000
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY, version)
    return version


def bump_catalog_version() -> None:
    """Invalidate every cached storefront page and fragment now."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # the key was evicted or never set
        cache.set(VERSION_KEY, time.time_ns() // 1000, timeout=None)


def bump_catalog_version_on_commit() -> None:
    """Bump once the surrounding transaction commits (immediately outside one).

    Bumping before commit would let a concurrent request cache the old data under the new version.
    Robust: a cache that is down after the change committed is logged, and neither fails the
    request nor stops the callbacks queued after this one (the order emails, say); entries cached
    before the outage then live at most STOREFRONT_CACHE_SECONDS.
    """
    transaction.on_commit(bump_catalog_version, robust=True)


def versioned_key(*parts: object) -> str:
    return ":".join(["catalog", str(catalog_version()), *map(str, parts)])


def wants_fragment(request: HttpRequest) -> bool:
    """htmx asked for a fragment; its history restore (Back after a cache miss) needs the page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _cacheable(request: HttpRequest) -> bool:
    # Only anonymous visitors without a session see the same page as everyone else: a session
    # carries a cart and messages that are theirs alone, and so does the cookie messages are kept
    # in until they are shown (e.g. a guest's refused "add to cart" before any session exists).
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
    )


def shared_page_csrf_token(request: HttpRequest) -> dict:
    """Context processor: `{% csrf_token %}` writes a placeholder in a page rendered for the cache.

    Without it the first visitor's token would be stored in the page and served to everyone.
    """
    if getattr(request, _SHARED_RENDER, False):
        return {"csrf_token": CSRF_PLACEHOLDER}
    return {}


def _with_visitor_csrf_token(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """Put this visitor's own CSRF token where the shared page has the placeholder.

    `get_token` also makes CsrfViewMiddleware set the visitor's CSRF cookie on the way out, and a
    fresh mask per response keeps the token safe from compression side channels (BREACH).
    """
    placeholder = CSRF_PLACEHOLDER.encode()
    if not response.streaming and placeholder in response.content:
        response.content = response.content.replace(placeholder, get_token(request).encode())
    return response


def cache_storefront_page(view):
    """Serve a whole rendered page from the cache for anonymous visitors.

    The key is the language, whether htmx asked for a fragment, and the absolute URL with its
    query string (filters live in the URL; the scheme and host are in the canonical URL and the
    structured data, so a page is never shared between hosts). The catalog version the page was
    rendered at is stored *in* the entry, and the current version and the entry are read together
    (one MGET on Redis): a hit costs one round trip, and an entry from an older version is a miss.

    A page rendered for the cache carries a placeholder instead of a CSRF token; every response
    served from this path, the miss that stores the page included, gets the visitor's own token.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _cacheable(request):
            response = view(request, *args, **kwargs)
            patch_vary_headers(response, VARY)
            return response
        path_hash = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()[:32]
        fragment = "htmx" if wants_fragment(request) else "page"
        key = f"catalog:page:{get_language()}:{fragment}:{path_hash}"
        found = cache.get_many([VERSION_KEY, key])
        version = found.get(VERSION_KEY)
        if version is None:
            version = catalog_version()
        hit = found.get(key)
        if hit is not None and hit[0] == version:
            _version, status, content_type, content = hit
            response = HttpResponse(content, status=status, content_type=content_type)
            response["X-Cache"] = "hit"
        else:
            setattr(request, _SHARED_RENDER, True)
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
            if response.status_code == 200 and not response.streaming and not response.cookies:
                # Stored under the version read *before* rendering: if the catalog changed while
                # we rendered, the entry is already outdated and the next request renders again.
                cache.set(
                    key,
                    (version, response.status_code, response["Content-Type"], response.content),
                    settings.STOREFRONT_CACHE_SECONDS,
                )
            response["X-Cache"] = "miss"
        _with_visitor_csrf_token(response, request)
        patch_vary_headers(response, VARY)
        return response

    return wrapped
