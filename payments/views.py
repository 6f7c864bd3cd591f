"""Payment pages: the demo card form, "payment processing", paying again, and Stripe's webhook.

A payment page opens only for the browser that started the payment or the order's signed-in
owner (`selectors.payment_for_visitor`); everyone else, and every altered link, gets a 404.
"""
from __future__ import annotations

import logging
from functools import wraps

import stripe
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from orders.links import signed_confirmation_url
from shop.money import format_money

from . import selectors, services
from .exceptions import PaymentError
from .forms import DemoCardForm
from .links import retry_url, status_url
from .models import Payment, Provider

logger = logging.getLogger(__name__)

POLL_SECONDS = 3


def _private(view):
    """A page only its visitor may see: never stored by caches, never indexed."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        patch_vary_headers(response, ["Cookie"])
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapped


def _visible_or_404(request: HttpRequest, token: str) -> Payment:
    payment = selectors.payment_for_visitor(token=token, request=request)
    if payment is None:
        raise Http404("No such payment.")
    return payment


@require_http_methods(["GET", "HEAD", "POST"])
@_private
def demo_pay(request: HttpRequest, token: str) -> HttpResponse:
    payment = _visible_or_404(request, token)
    if payment.provider != Provider.DEMO:
        raise Http404("No such payment.")
    payable = payment.status in (Payment.Status.PENDING, Payment.Status.FAILED) and \
        payment.order.is_awaiting_payment
    if request.method != "POST" and not payable:
        return redirect(status_url(payment))  # which says why (paid, or no longer payable)
    form = DemoCardForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            payment = services.pay_with_demo_card(
                payment_id=payment.pk, card_number=form.cleaned_data["number"], user=request.user
            )
        except PaymentError as error:
            messages.error(request, str(error))
            return redirect(status_url(payment))
        if payment.status == Payment.Status.SUCCEEDED:
            return redirect(status_url(payment))
        form.add_error(None, payment.failure_message)
    context = {"form": form, "payment": payment, "order": payment.order,
               "amount": format_money(payment.amount, payment.currency)}
    return render(request, "payments/demo.html", context)


@require_safe
@_private
def payment_status(request: HttpRequest, token: str) -> HttpResponse:
    """"Payment processing" until the provider's webhook confirms; then on to the order's page.

    The box polls with htmx every few seconds (204 while nothing changed); without JavaScript a
    refresh link does the same.
    """
    payment = _visible_or_404(request, token)
    state = selectors.payment_state(payment=payment, left=request.GET.get("left") == "1")
    if state.key == "paid":
        destination = signed_confirmation_url(payment.order)
        return HttpResponseClientRedirect(destination) if request.htmx else redirect(destination)
    if request.htmx and request.GET.get("shown") == state.key:
        return HttpResponse(status=204)
    context = {
        "payment": payment, "order": payment.order, "state": state, "poll_seconds": POLL_SECONDS,
        "amount": format_money(payment.amount, payment.currency),
        "status_url": status_url(payment), "retry_url": retry_url(payment),
    }
    template = "payments/_status.html" if request.htmx else "payments/status.html"
    return render(request, template, context)


@require_POST
@_private
def retry(request: HttpRequest, token: str) -> HttpResponse:
    """Pay again for the payment's order (after a decline, or coming back without paying)."""
    payment = _visible_or_404(request, token)
    try:
        return services.start_payment(order=payment.order, request=request)
    except PaymentError as error:
        messages.error(request, str(error))
        return redirect(status_url(payment))


@csrf_exempt  # Stripe cannot send a CSRF token; the signature check below stands in for it.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events. 400 for a missing or bad signature or a body that is not an event, with
    nothing changed; 503 for an event that must wait for another (Stripe sends it again);
    otherwise 200 with what was done, also for replays and event types the store ignores."""
    try:
        event = stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature"), settings.STRIPE_WEBHOOK_SECRET
        )
    except stripe.SignatureVerificationError:
        logger.warning("Stripe webhook with a missing or bad signature refused.")
        return HttpResponseBadRequest("Bad signature.")
    except (ValueError, UnicodeDecodeError):
        return HttpResponseBadRequest("Not a Stripe event.")
    try:
        result = services.handle_stripe_event(event=event)
    except services.RetryLater as wait:
        logger.info("Stripe event %s deferred: %s", event.id, wait)
        return HttpResponse(str(wait), status=503, content_type="text/plain")
    return JsonResponse({"result": result})
