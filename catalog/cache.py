"""Storefront caching that never shows a stale price.

Every cached storefront page is stamped with the versions of what it shows (catalog/versions.py):
the catalog's structure, the products and cards on it, the listings it draws from. A change bumps
only the versions it touches, after commit (catalog/invalidation.py, called from the model signals
and from the services that write with `QuerySet.update()`), so an order that sells one unit makes
that product's page render again, not every page of the store. Fragments shared by many pages
(the category tree) are keyed by the structure version; bumping it invalidates everything at once.

The versions live in the shared cache: with Redis (production) or a file cache every process sees
the same ones. The local-memory default is private to one process, which is what `make run`
(a single runserver process) needs.
"""
from __future__ import annotations

import hashlib
from functools import wraps

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language

from . import versions
from .versions import SEQ_KEY, VERSION_KEY

VARY = ["HX-Request", "HX-History-Restore-Request", "Cookie"]

# What `{% csrf_token %}` writes into a page rendered for everyone; each response gets the
# visitor's own token in its place (see `cache_storefront_page`). Letters only: HTML-safe as is.
CSRF_PLACEHOLDER = "sharedpagecsrftokenplaceholder"
_SHARED_RENDER = "_renders_shared_storefront_page"


def catalog_version() -> int:
    """The structure version (see catalog/versions.py), which every page and fragment depends on."""
    version = cache.get(VERSION_KEY)
    if version is None:
        # Start from the clock so a flushed cache can never bring back an old version number.
        version = versions.new_value()
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY, version)
    return version


def bump_catalog_version() -> None:
    """Invalidate every cached storefront page and fragment now (structure changes, bulk loads)."""
    versions.bump([VERSION_KEY])


def bump_catalog_version_on_commit() -> None:
    """Bump once the surrounding transaction commits (immediately outside one).

    For what changes everything; a change to some products bumps less (catalog/invalidation.py).
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
    structured data, so a page is never shared between hosts). The entry carries the versions of
    what the page shows (catalog/versions.py), checked on a hit: two round trips (the entry, then
    its versions in one MGET on Redis), and an entry any of whose versions moved is a miss.

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
        found = cache.get_many([key, SEQ_KEY])
        hit = found.get(key)
        if hit is not None and versions.is_current(hit[0]):
            _stamp, status, content_type, content = hit
            response = HttpResponse(content, status=status, content_type=content_type)
            response["X-Cache"] = "hit"
        else:
            setattr(request, _SHARED_RENDER, True)
            # The view says what the page shows (versions.depends_on); the stamp is None when
            # anything was bumped while it rendered, and such a page is not stored.
            with versions.recording(seq=found.get(SEQ_KEY)) as shown:
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response = response.render()
            if response.status_code == 200 and not response.streaming and not response.cookies:
                stamp = shown.stamp()
                if stamp is not None:
                    cache.set(
                        key,
                        (stamp, response.status_code, response["Content-Type"], response.content),
                        settings.STOREFRONT_CACHE_SECONDS,
                    )
            response["X-Cache"] = "miss"
        _with_visitor_csrf_token(response, request)
        patch_vary_headers(response, VARY)
        return response

    return wrapped
