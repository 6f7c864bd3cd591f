"""The shopper's order pages: confirmation, order detail (signed link or owner), history, and
"Pay now" for an order still waiting for its payment.

Who may see an order is decided by `orders.selectors` (a valid signed token, or being the
signed-in owner); every other case is a 404, never a 403, so nobody learns which order numbers
exist. These pages are personal: they are never put in the storefront page cache, and they tell
browsers and proxies not to store them (`_private`) and search engines not to index them.
"""
from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from payments.exceptions import PaymentError
from payments.services import start_payment
from shop.money import format_money

from . import selectors
from .links import order_token
from .models import Order

HISTORY_PER_PAGE = 10


def _private(view):
    """Headers for a page only its visitor may see: not stored anywhere, not indexed, and the
    signed token in the URL never leaves the site in a Referer header (carrier tracking links)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        patch_vary_headers(response, ["Cookie"])
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapped


def _signed_or_404(token: str) -> Order:
    order = selectors.signed_order(token=token)
    if order is None:
        raise Http404("No such order.")
    return order


def _owned_or_404(request: HttpRequest, number: str) -> Order:
    order = selectors.owned_order(number=number, user=request.user)
    if order is None:
        raise Http404("No such order.")
    return order


def _links(order: Order, *, signed: bool) -> dict[str, str]:
    """The page's own URL (the no-JS refresh link), its status fragment's and its "Pay now"
    form's, all of the same kind."""
    if signed:
        token = order_token(order)
        return {
            "page_url": reverse("orders:detail_signed", kwargs={"token": token}),
            "status_url": reverse("orders:status_signed", kwargs={"token": token}),
            "pay_url": reverse("orders:pay_signed", kwargs={"token": token}),
        }
    return {
        "page_url": reverse("orders:detail", kwargs={"number": order.number}),
        "status_url": reverse("orders:status", kwargs={"number": order.number}),
        "pay_url": reverse("orders:pay", kwargs={"number": order.number}),
    }


def _render_detail(request: HttpRequest, order: Order, *, signed: bool) -> HttpResponse:
    context = {"page": selectors.order_page(order=order), **_links(order, signed=signed)}
    return render(request, "orders/detail.html", context)


def _render_status(request: HttpRequest, order: Order, *, signed: bool) -> HttpResponse:
    """The status box alone, for the poller. Answers 204 (htmx keeps the box as it is) while
    nothing in it changed; once it changes, the new box, plus the timeline out of band when the
    wait is over, so the page is up to date without a reload."""
    status = selectors.order_status(order=order)
    if request.GET.get("shown") == status.key:
        return HttpResponse(status=204)
    context = {"status": status, "order": order, **_links(order, signed=signed)}
    if not status.polling:
        context["page"] = selectors.order_page(order=order)
        context["timeline_out_of_band"] = True
    return render(request, "orders/_status.html", context)


@require_safe
@_private
def detail_signed(request: HttpRequest, token: str) -> HttpResponse:
    return _render_detail(request, _signed_or_404(token), signed=True)


@require_safe
@_private
def detail(request: HttpRequest, number: str) -> HttpResponse:
    if not request.user.is_authenticated:
        # Checked before any lookup: the answer is the same for every number, so it says nothing.
        return redirect_to_login(request.get_full_path())
    return _render_detail(request, _owned_or_404(request, number), signed=False)


@require_safe
@_private
def status_signed(request: HttpRequest, token: str) -> HttpResponse:
    return _render_status(request, _signed_or_404(token), signed=True)


@require_safe
@_private
def status(request: HttpRequest, number: str) -> HttpResponse:
    return _render_status(request, _owned_or_404(request, number), signed=False)


def _pay(request: HttpRequest, order: Order, *, signed: bool) -> HttpResponse:
    """"Pay now": a new attempt through `payments.services.start_payment`, which refuses an order
    that is paid, cancelled, expired or past its reservation, changing nothing; the shopper is
    then back on the order page with the reason."""
    try:
        return start_payment(order=order, request=request)
    except PaymentError as error:
        messages.error(request, str(error))
        return redirect(_links(order, signed=signed)["page_url"])


@require_POST
@_private
def pay_signed(request: HttpRequest, token: str) -> HttpResponse:
    return _pay(request, _signed_or_404(token), signed=True)


@require_POST
@_private
def pay(request: HttpRequest, number: str) -> HttpResponse:
    # No sign-in redirect here (a POST cannot come back after it): anyone but the owner gets 404.
    return _pay(request, _owned_or_404(request, number), signed=False)


@require_safe
@_private
def confirmation(request: HttpRequest, token: str) -> HttpResponse:
    order = _signed_or_404(token)
    context = {"page": selectors.order_page(order=order), **_links(order, signed=True)}
    return render(request, "orders/confirmation.html", context)


@require_safe
@_private
def history(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    page = Paginator(selectors.customer_orders(user=request.user), HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        (order, selectors.order_status(order=order), format_money(order.total, order.currency))
        for order in page.object_list
    ]
    return render(request, "orders/history.html", {"page": page, "rows": rows})
