"""The code box's one action: enter or remove a code, then back to the cart or the review.

A plain form post that redirects with a message (works without JavaScript); with htmx the form
asks for the page it came back to and swaps its `<main>` in place (`hx-select`), so the totals,
the line discounts and the message change together without a page load.
"""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from carts.forms import safe_next

from . import services
from .exceptions import CodeNotFound


@require_POST
@never_cache
def code(request: HttpRequest) -> HttpResponse:
    back = safe_next(request.POST.get("next"), request=request) or reverse("carts:detail")
    if "remove" in request.POST:
        services.remove_code(session=request.session)
        messages.info(request, _("The code was removed."))
        return redirect(back)
    try:
        entered = services.enter_code(session=request.session, text=request.POST.get("code", ""))
    except CodeNotFound as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Code %(code)s added.") % {"code": entered})
    return redirect(back)
