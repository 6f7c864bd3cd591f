"""Account pages: the wishlist.

The "Save to wishlist" button sits on product pages and listing cards, which are cached whole
for anonymous visitors (catalog/cache.py). So the button never shows whether *this* visitor saved
the product: it is the same "Save" form for everyone, with the shared CSRF placeholder that the
cache swaps for each visitor's own token. Saving twice is harmless, and the answer to a save
(with htmx: the button swapped in place) shows "Saved" with a way to undo it.

Anonymous visitors who press it are sent to sign in and come back to the page they were on.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from carts.forms import safe_next

from ..models import WishlistItem
from ..selectors.wishlist import wishlist_entries
from ..services import customer_for_user
from ..services.wishlist import (
    WishlistError,
    add_to_wishlist,
    remove_product_from_wishlist,
    remove_wishlist_item,
)


class ProductForm(forms.Form):
    product = forms.IntegerField(min_value=1, error_messages={
        "required": _("Sorry, this product is not available."),
        "invalid": _("Sorry, this product is not available."),
        "min_value": _("Sorry, this product is not available."),
    })


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _back(request: HttpRequest) -> str:
    return safe_next(request.POST.get("next"), request=request) or reverse("customers:wishlist")


def _sign_in_first(request: HttpRequest) -> HttpResponse:
    """Send an anonymous visitor to sign in, then back to the page they pressed the button on
    (not to this POST-only URL). htmx gets HX-Redirect: following a 302 inside the request would
    swap the sign-in page into the button."""
    url = f"{reverse('account_login')}?{urlencode({'next': _back(request)})}"
    if _is_htmx(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _button(request: HttpRequest, *, product_id: int, saved: bool, message: str = "",
            error: bool = False) -> HttpResponse:
    """The toggle swapped in place (htmx): this shopper's own state, never cached."""
    return render(request, "customers/_wishlist_button.html", {
        "product_id": product_id, "saved": saved, "next": _back(request), "message": message, "error": error,
    })


@require_safe
@never_cache
@login_required
def wishlist(request: HttpRequest) -> HttpResponse:
    customer = customer_for_user(user=request.user)
    return render(request, "customers/wishlist.html", {"entries": wishlist_entries(customer=customer)})


@require_POST
@never_cache
def add(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return _sign_in_first(request)
    form = ProductForm(request.POST)
    error = ""
    if not form.is_valid():
        error = form.errors["product"][0]
    else:
        try:
            item, _created = add_to_wishlist(
                customer=customer_for_user(user=request.user), product_id=form.cleaned_data["product"]
            )
        except WishlistError as exc:
            error = exc.message
    if error:
        if _is_htmx(request):
            return _button(request, product_id=form.cleaned_data.get("product") or 0, saved=False, message=error,
                           error=True)
        messages.error(request, error)
        return redirect(_back(request))
    text = _("Saved %(title)s to your wishlist.") % {"title": item.product.title}
    if _is_htmx(request):
        return _button(request, product_id=item.product_id, saved=True, message=text)
    messages.success(request, text)
    return redirect(_back(request))


@require_POST
@never_cache
def remove_product(request: HttpRequest) -> HttpResponse:
    """The toggle's "remove": by product, on the shopper's own list only."""
    if not request.user.is_authenticated:
        return _sign_in_first(request)
    form = ProductForm(request.POST)
    if not form.is_valid():
        raise Http404("No such product")
    product_id = form.cleaned_data["product"]
    remove_product_from_wishlist(customer=customer_for_user(user=request.user), product_id=product_id)
    text = _("Removed from your wishlist.")
    if _is_htmx(request):
        return _button(request, product_id=product_id, saved=False, message=text)
    messages.success(request, text)
    return redirect(_back(request))


@require_POST
@never_cache
@login_required
def remove_item(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        item = remove_wishlist_item(customer=customer_for_user(user=request.user), item_id=item_id)
    except WishlistItem.DoesNotExist:
        raise Http404("No such wishlist item") from None
    text = _("Removed %(title)s from your wishlist.") % {"title": item.product.title}
    if _is_htmx(request):
        # The row is swapped for this notice; the rest of the list stays as it is.
        return HttpResponse(format_html('<li class="wishlist-removed" role="status">{}</li>', text))
    messages.success(request, text)
    return redirect("customers:wishlist")


urlpatterns = [
    path("wishlist/", wishlist, name="wishlist"),
    path("wishlist/add/", add, name="wishlist-add"),
    path("wishlist/remove/", remove_product, name="wishlist-remove-product"),
    path("wishlist/<int:item_id>/remove/", remove_item, name="wishlist-remove-item"),
]
