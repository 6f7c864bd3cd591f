"""The shopper's return form and photo, for the order's owner or whoever holds its signed link.

Who may see an order is decided as on the order pages (`orders.views`: a signed token or the
signed-in owner; anything else is a 404). These pages are personal: never cached, not indexed.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from catalog.validators import IMAGE_FORMATS
from orders.links import order_token
from orders.models import Order
from orders.views import _owned_or_404, _private, _signed_or_404

from . import selectors, services
from .exceptions import ReturnError
from .forms import ReturnRequestForm
from .models import ReturnRequest

CONTENT_TYPES = {extension: content_type for extension, content_type in IMAGE_FORMATS.values()}


def _order_url(order: Order, *, signed: bool) -> str:
    if signed:
        return reverse("orders:detail_signed", kwargs={"token": order_token(order)})
    return reverse("orders:detail", kwargs={"number": order.number})


def _start(request: HttpRequest, order: Order, *, signed: bool) -> HttpResponse:
    rules = selectors.eligibility(order=order)
    form = ReturnRequestForm(request.POST or None, request.FILES or None, eligibility=rules)
    if request.method == "POST" and form.is_valid():
        try:
            made = services.request_return(
                order=order, quantities=form.quantities(), reason=form.cleaned_data["reason"],
                comment=form.cleaned_data["comment"], photo=form.cleaned_data["photo"],
                user=request.user if request.user.is_authenticated else None)
        except ReturnError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _(
                "We received your return request R%(pk)s. We will email you at %(email)s once it is reviewed, "
                "usually within two working days.") % {"pk": made.pk, "email": order.email})
            return redirect(_order_url(order, signed=signed))
    context = {"order": order, "form": form, "rules": rules, "order_url": _order_url(order, signed=signed)}
    return render(request, "returns/start.html", context, status=400 if form.is_bound and form.errors else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@_private
def start_signed(request: HttpRequest, token: str) -> HttpResponse:
    return _start(request, _signed_or_404(token), signed=True)


@require_http_methods(["GET", "HEAD", "POST"])
@_private
def start(request: HttpRequest, number: str) -> HttpResponse:
    if not request.user.is_authenticated:
        if request.method == "POST":
            raise Http404("No such order.")
        return redirect_to_login(request.get_full_path())
    return _start(request, _owned_or_404(request, number), signed=False)


def photo_response(return_request: ReturnRequest) -> FileResponse:
    """The photo's bytes with its own content type, never cached by a shared cache, shown inline."""
    if not return_request.photo:
        raise Http404("No photo.")
    extension = return_request.photo.name.rsplit(".", 1)[-1].lower()
    try:
        handle = return_request.photo.open("rb")
    except FileNotFoundError:
        raise Http404("No photo.") from None
    response = FileResponse(handle, content_type=CONTENT_TYPES.get(extension, "application/octet-stream"))
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _photo(order: Order, pk: int) -> HttpResponse:
    return_request = ReturnRequest.objects.filter(order=order, pk=pk).first()
    if return_request is None:
        raise Http404("No such return.")
    return photo_response(return_request)


@require_safe
@_private
def photo_signed(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    return _photo(_signed_or_404(token), pk)


@require_safe
@_private
def photo(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    if not request.user.is_authenticated:
        raise Http404("No such order.")
    return _photo(_owned_or_404(request, number), pk)
