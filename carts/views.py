"""Cart pages and actions. A form validates, one service acts, the view renders or redirects.

Every action works as a plain form post (redirect with a message) and, with htmx, answers with
the fragment to swap plus an `HX-Trigger: cart-changed` event that refreshes the header's
mini-cart. Personal pages are never cached.
"""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

import analytics
from promotions.selectors import price_cart

from . import selectors, services
from .exceptions import CartError
from .forms import AddToCartForm, QuantityForm, first_error, safe_next

CART_CHANGED = "cart-changed"


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _shown_cart(request: HttpRequest) -> dict:
    """The cart as the shopper will see it: brought in line with the catalog first.

    When stock fell below a line's quantity or a price changed, `reconcile_cart` adjusts the lines
    and the page says what changed; the contents are then read again (only in that case).
    """
    contents = selectors.cart_contents(user=request.user, session=request.session)
    notices = services.reconcile_cart(contents=contents) if contents.warnings else []
    if any(notice.kind in ("price_changed", "quantity_reduced") for notice in notices):
        contents = selectors.cart_contents(user=request.user, session=request.session)
    selectors.remember_item_count(cart_id=contents.cart_id, item_count=contents.item_count)
    return {
        "cart": contents,
        "notices": notices,
        "mini_cart": selectors.MiniCart(item_count=contents.item_count),
        # The promotions the cart gets now, and the code box's state (promotions.selectors).
        "pricing": price_cart(cart=contents, user=request.user, session=request.session) if contents.items else None,
    }


@require_safe
@never_cache
def detail(request: HttpRequest) -> HttpResponse:
    return render(request, "carts/cart.html", _shown_cart(request))


@require_safe
@never_cache
def mini(request: HttpRequest) -> HttpResponse:
    """The header's cart link alone, for htmx to swap in after a change.

    Rendered without the request's context processors: the link needs only the count, not the
    category menu every page carries.
    """
    # Fresh: htmx asks right after a change, and the count it gets is kept for cached pages.
    summary = selectors.mini_cart(user=request.user, session=request.session, fresh=True)
    return HttpResponse(render_to_string("carts/_mini_cart.html", {"mini_cart": summary}))


def _cart_fragment(request: HttpRequest, *, message: str, level: str) -> HttpResponse:
    context = _shown_cart(request)
    context.update(message=message, message_level=level)
    response = render(request, "carts/_cart_body.html", context)
    response["HX-Trigger"] = CART_CHANGED
    return response


@require_POST
@never_cache
def add(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    back = safe_next(request.POST.get("next"), request=request)
    line, text = None, ""
    if not form.is_valid():
        error = first_error(form)
    else:
        try:
            line = services.add_to_cart(
                user=request.user, session=request.session, variant_id=form.cleaned_data["variant"],
                product_id=form.cleaned_data["product"], quantity=form.cleaned_data["quantity"],
            )
            error = ""
        except CartError as exc:
            error = exc.message
    if line is not None:
        analytics.record(request, "added_to_cart", product_id=line.variant.product_id, variant_id=line.variant_id,
                         quantity=form.cleaned_data["quantity"])
        text = _("Added %(quantity)d × %(title)s to your cart.") % {
            "quantity": form.cleaned_data["quantity"], "title": line.variant.product.title,
        }
    if _is_htmx(request):
        response = render(
            request, "carts/_add_result.html",
            {"message": error or text, "message_level": "error" if error else "success", "added": line is not None},
        )
        if line is not None:
            response["HX-Trigger"] = CART_CHANGED
        return response
    if error:
        messages.error(request, error)
        return redirect(back or reverse("carts:detail"))
    messages.success(request, text)
    return redirect(back or line.variant.product.get_absolute_url())


def _line_action(request: HttpRequest, *, line_id: int, remove: bool) -> HttpResponse:
    error, text = "", ""
    if remove:
        try:
            line = services.remove_line(user=request.user, session=request.session, line_id=line_id)
            analytics.record(request, "removed_from_cart", product_id=line.variant.product_id, variant_id=line.variant_id)
            text = _("Removed %(title)s from your cart.") % {"title": line.variant.product.title}
        except CartError as exc:
            error = exc.message
    else:
        form = QuantityForm(request.POST)
        if not form.is_valid():
            error = first_error(form)
        else:
            try:
                line = services.set_line_quantity(
                    user=request.user, session=request.session, line_id=line_id,
                    quantity=form.cleaned_data["quantity"],
                )
                text = _("%(title)s: quantity set to %(quantity)d.") % {
                    "title": line.variant.product.title, "quantity": line.quantity,
                }
            except CartError as exc:
                error = exc.message
    if _is_htmx(request):
        return _cart_fragment(request, message=error or text, level="error" if error else "success")
    if error:
        messages.error(request, error)
    else:
        messages.success(request, text)
    return redirect("carts:detail")


@require_POST
@never_cache
def update_line(request: HttpRequest, line_id: int) -> HttpResponse:
    return _line_action(request, line_id=line_id, remove=False)


@require_POST
@never_cache
def remove_line(request: HttpRequest, line_id: int) -> HttpResponse:
    return _line_action(request, line_id=line_id, remove=True)
