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
from functools import lru_cache, wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import get_language

from analytics.utm import without_tracking

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


# --- The page cache -----------------------------------------------------------------------------
#
# A page is rendered once for everyone, as an anonymous visitor without a session would see it,
# with a marker where each personal bit goes (`{% personal %}` in templates/base.html) and a
# placeholder for the CSRF token. That copy is stored; every response, the miss that stored it
# included, gets the visitor's own bits in place of the markers, rendered from cheap per-request
# data: signed in or not (the session and the user: the only queries), the cart count (the cache,
# see carts/cache.py) and the flash messages waiting for them.

# Each personal bit and the small template that renders it, from the context named in
# `_personal_context` only (so a snippet is the same for everyone in the same state).
PERSONAL_SNIPPETS = {
    "account": "customers/_account_link.html",
    "mini_cart": "carts/_mini_cart.html",
    "messages": "_messages.html",
}


def personal_marker(name: str) -> str:
    # An HTML comment: rich text loses its comments to the sanitiser, and escaped text cannot hold
    # one, so only the layout's `{% personal %}` writes it.
    return f"<!--personal:{name}:sharedpagepersonalbit-->"


def _cacheable(request: HttpRequest) -> bool:
    return request.method in ("GET", "HEAD")


def _is_personal(request: HttpRequest) -> bool:
    """A session (a cart, a sign-in) or messages waiting in their cookie: bits that are theirs."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES or CookieStorage.cookie_name in request.COOKIES


def shared_page(request: HttpRequest) -> dict:
    """Context processor: a page rendered for the cache gets markers, not anyone's data.

    `{% csrf_token %}` writes a placeholder (else the first visitor's token would be served to
    everyone), `{% personal %}` a marker, and `messages` is empty, so nothing can show (and use
    up) the visitor's messages in the shared copy.
    """
    if getattr(request, _SHARED_RENDER, False):
        return {"csrf_token": CSRF_PLACEHOLDER, "messages": (), "shared_page": True}
    return {}


def render_personal(name: str, context: dict) -> str:
    """One personal bit for a shopper, from the context `_personal_context` describes."""
    if name == "messages":
        return render_to_string(PERSONAL_SNIPPETS[name], context).strip() if context["messages"] else ""
    # The account link and the cart count depend only on these values: render each once.
    state = context["signed_in"] if name == "account" else context["mini_cart"].item_count
    if settings.DEBUG:  # templates edited under runserver show at once
        return _rendered_snippet.__wrapped__(name, get_language(), state)
    return _rendered_snippet(name, get_language(), state)


@lru_cache(maxsize=512)
def _rendered_snippet(name: str, language: str | None, state: object) -> str:
    if name == "account":
        return render_to_string(PERSONAL_SNIPPETS[name], {"signed_in": state}).strip()
    return render_to_string(PERSONAL_SNIPPETS[name], {"mini_cart": MiniCartCount(item_count=state)}).strip()


class MiniCartCount:
    """What `carts/_mini_cart.html` reads: the count alone."""

    __slots__ = ("item_count",)

    def __init__(self, *, item_count: int) -> None:
        self.item_count = item_count


def _personal_context(request: HttpRequest, names: list[str]) -> dict:
    """The data the bits in `names` need, for this request: no query without a session."""
    context: dict = {}
    if not _is_personal(request):
        # No session and no messages cookie: the same bits as everyone without them.
        context.update(signed_in=False, mini_cart=MiniCartCount(item_count=0), messages=())
        return context
    if "account" in names:
        context["signed_in"] = request.user.is_authenticated
    if "mini_cart" in names:
        from carts.selectors import mini_cart  # carts imports the catalog, not the other way round

        context["mini_cart"] = mini_cart(user=request.user, session=request.session)
    if "messages" in names:
        # Iterating marks them shown: the message middleware then drops them, so they appear once.
        context["messages"] = list(messages.get_messages(request))
    return context


def _with_visitor_bits(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """Put this visitor's own bits and CSRF token where the shared page has markers.

    `get_token` also makes CsrfViewMiddleware set the visitor's CSRF cookie on the way out, and a
    fresh mask per response keeps the token safe from compression side channels (BREACH). A
    response that got anything of the visitor's is `Cache-Control: private`: no shared proxy
    keeps it. Messages are only read (and so used up) when the page has a place to show them:
    an htmx fragment leaves them for the next full page.
    """
    if response.streaming:
        return response
    content = response.content
    names = [name for name in PERSONAL_SNIPPETS if personal_marker(name).encode() in content]
    filled = _is_personal(request)
    if names:
        context = _personal_context(request, names)
        for name in names:
            content = content.replace(personal_marker(name).encode(), render_personal(name, context).encode(), 1)
    placeholder = CSRF_PLACEHOLDER.encode()
    if placeholder in content:
        content = content.replace(placeholder, get_token(request).encode())
        filled = True
    response.content = content
    if filled:
        patch_cache_control(response, private=True)
    return response


def _render_shared(view, request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Render the page as a visitor with no session, no sign-in and no messages would get it.

    The request's user and session are swapped for anonymous, empty ones while the view and its
    templates run, so nothing of this visitor can reach the copy every visitor will be served,
    whatever a template reads; they are put back before the response leaves.
    """
    user, session = getattr(request, "user", None), getattr(request, "session", None)
    request.user = AnonymousUser()
    if session is not None:
        request.session = type(session)()  # no key: empty, and never loaded or saved
    setattr(request, _SHARED_RENDER, True)
    try:
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and callable(response.render):
            response = response.render()
    finally:
        setattr(request, _SHARED_RENDER, False)
        if user is not None:
            request.user = user
        if session is not None:
            request.session = session
    return response


def cache_storefront_page(view):
    """Serve a whole rendered page from the shared cache to every visitor, personal bits filled in.

    The key is the language, whether htmx asked for a fragment, and the absolute URL with its
    query string less any utm_* parameter (filters live in the URL; campaign parameters do not
    change the page, see `wrapped`; the scheme and host are in the canonical URL and the
    structured data, so a page is never shared between hosts). The entry carries the versions of
    what the page shows (catalog/versions.py), checked on a hit: two round trips (the entry, then
    its versions in one MGET on Redis), and an entry any of whose versions moved is a miss.

    The stored page is rendered as for an anonymous visitor without a session (`_render_shared`)
    and holds markers and a CSRF placeholder; every response served from this path, the miss
    that stores the page included, gets the visitor's own account link, cart count, messages and
    token (`_with_visitor_bits`). The view itself therefore never sees who asks.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _cacheable(request):
            response = view(request, *args, **kwargs)
            patch_vary_headers(response, VARY)
            return response
        query = request.META.get("QUERY_STRING", "")
        clean = without_tracking(query)
        if clean == query:
            return serve(request, *args, **kwargs)
        # Campaign parameters (utm_*, analytics/utm.py) change nothing on the page: the page is
        # looked up and rendered as for the URL without them, so one entry serves every link and
        # no link's parameters end up in the copy everyone gets (a form's `next`, a listing's
        # hidden filters). The analytics middleware reads them after the parameters are back.
        params = request.GET
        request.META["QUERY_STRING"] = clean
        request.GET = QueryDict(clean, encoding=request.encoding)
        try:
            return serve(request, *args, **kwargs)
        finally:
            request.META["QUERY_STRING"] = query
            request.GET = params

    def serve(request: HttpRequest, *args, **kwargs) -> HttpResponse:
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
            # The view says what the page shows (versions.depends_on); the stamp is None when
            # anything was bumped while it rendered, and such a page is not stored.
            with versions.recording(seq=found.get(SEQ_KEY)) as shown:
                response = _render_shared(view, request, *args, **kwargs)
            if response.status_code == 200 and not response.streaming and not response.cookies:
                stamp = shown.stamp()
                # A page whose sale labels start or end on schedule is kept only until then.
                timeout = shown.timeout(settings.STOREFRONT_CACHE_SECONDS)
                if stamp is not None and timeout is not None:
                    cache.set(
                        key,
                        (stamp, response.status_code, response["Content-Type"], response.content),
                        timeout,
                    )
            response["X-Cache"] = "miss"
        _with_visitor_bits(response, request)
        patch_vary_headers(response, VARY)
        return response

    return wrapped
