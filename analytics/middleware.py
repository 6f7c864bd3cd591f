"""Count storefront page views, cached pages included, and keep the visitor cookie.

The page cache (catalog/cache.py) answers a hit without running the view, so the view cannot
record its own view. This middleware records after the response, from the URL's name and
arguments: a product by its slug, a listing by its category path, a search by its query (the
flush looks the product up and adds the result count), and a "campaign_click" for any page
reached through a link with UTM parameters (analytics/utm.py). It costs no SQL.
"""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import recorder

# URL name -> event name. Only full GET pages that answered 200.
PAGE_EVENTS = {
    "catalog:product": "product_viewed",
    "catalog:category": "listing_viewed",
    "catalog:search": "search",
}


def _answered_get(request: HttpRequest, response: HttpResponse) -> bool:
    """A GET the URLconf resolved that answered 200: the only responses that count."""
    return request.resolver_match is not None and request.method == "GET" and response.status_code == 200


def _htmx_fragment(request: HttpRequest) -> bool:
    """An htmx swap inside a page already shown (a history restore is a full page again)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _campaign_click(request: HttpRequest, response: HttpResponse) -> tuple[str, dict] | None:
    """A full page reached through a link with UTM parameters (a campaign or order email's signed
    link, or anyone's hand-made one): one "campaign_click" per arrival, on any page (an order
    email links to the order's page, which records nothing else). The recorder adds the
    parameters and whether the store signed them."""
    if not _answered_get(request, response) or _htmx_fragment(request):
        return None
    if not any(request.GET.get(field) for field in recorder.UTM_FIELDS):
        return None
    return "campaign_click", {"page": request.resolver_match.view_name}


def _page_event(request: HttpRequest, response: HttpResponse) -> tuple[str, dict] | None:
    if not _answered_get(request, response):
        return None
    match = request.resolver_match
    name = PAGE_EVENTS.get(match.view_name)
    if name is None:
        return None
    if name == "product_viewed":
        # Choosing a size or colour swaps the purchase box in (htmx): the same view, not a new one.
        if _htmx_fragment(request):
            return None
        return name, {"slug": match.kwargs.get("slug", "")}
    if name == "listing_viewed":
        return name, {"path": match.kwargs.get("path", ""), "page": request.GET.get("page", "1")[:10]}
    query = request.GET.get("q", "").strip()[:200]
    if not query:
        return None
    properties = {"query": query}
    results = getattr(request, "analytics_search_results", None)
    if results is not None:
        properties["results"] = results
    return name, properties


class AnalyticsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        try:
            for event in (_campaign_click(request, response), _page_event(request, response)):
                if event is not None:
                    recorder.record(request, event[0], **event[1])
        except Exception:  # never let counting break a page
            recorder.logger.warning("Page view not recorded", exc_info=True)
        if recorder.is_new_visitor(request):
            # Set only when something was recorded (never for Do Not Track): a random id, no
            # personal data, read by this site alone.
            response.set_cookie(
                recorder.VISITOR_COOKIE, request.analytics_visitor, max_age=recorder.VISITOR_COOKIE_AGE,
                secure=request.is_secure(), httponly=True, samesite="Lax",
            )
        return response
