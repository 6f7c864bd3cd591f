"""Stripe: a hosted Checkout Session per payment, refunds through the Refunds API.

The shopper pays on Stripe's page; the store learns the outcome from webhooks only
(`payments.services.handle_stripe_event`), never from the browser coming back. Every call that
creates something at Stripe carries an idempotency key derived from our row's id, so a retry
(ours or the library's, `max_network_retries`) never creates a second session or refund.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import stripe
from babel.numbers import get_currency_precision
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order
from shop.money import quantize
from shop.site import absolute_url

from ..exceptions import ProviderUnavailable
from ..links import status_url
from ..models import Payment, Provider, Refund
from .base import RefundResult

logger = logging.getLogger(__name__)

# Tests put a stripe.HTTPClient that answers with canned responses here; None is the library's
# requests client with TIMEOUT. Everything else in this module is the real client.
http_client: stripe.HTTPClient | None = None
# (connect, read) seconds per try. The library's default, 80 s, times its two retries would keep a
# shopper at checkout for four minutes when Stripe does not answer; this bounds it near a minute,
# after which they are told the order is not paid and offered "Pay now".
TIMEOUT = (5, 15)

# Stripe accepts a Checkout Session lifetime of 30 minutes to 24 hours.
MIN_SESSION_LIFETIME = timedelta(minutes=31)
MAX_SESSION_LIFETIME = timedelta(hours=23)


def client() -> stripe.StripeClient:
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, http_client=http_client or default_http_client(),
                               max_network_retries=2)


def default_http_client() -> stripe.HTTPClient:
    return stripe.RequestsClient(timeout=TIMEOUT)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """`amount` in the currency's smallest unit, as Stripe wants it: $10.15 -> 1015, ¥1235 -> 1235.

    Babel's (ISO 4217) precision; Stripe agrees for the store's currencies. (A handful differ,
    e.g. HUF and TWD, which Stripe takes with two decimals in some flows; not supported here.)
    """
    currency = currency.upper()
    return int(quantize(amount, currency).scaleb(get_currency_precision(currency)))


def from_minor_units(value: int, currency: str) -> Decimal:
    currency = currency.upper()
    return quantize(Decimal(value).scaleb(-get_currency_precision(currency)), currency)


def line_items(order: Order, amount: Decimal | None = None) -> list[dict]:
    """What the Checkout page lists: the order's lines and shipping, summing to the order total.

    Should they not add up to the total in minor units (a discount the lines do not show), one
    line for the whole order is sent instead: the amount charged must be the order's total. When
    the payment is for less than the total (`amount`: gift cards paid the rest), one line says so.
    """
    currency = order.currency.upper()
    if amount is not None and amount != order.total:
        return [_item(name=_("Order %(number)s, after gift cards") % {"number": order.number},
                      unit_amount=to_minor_units(amount, currency), quantity=1, currency=currency)]
    items = []
    for line in order.lines.all():
        unit = line.unit_price if order.prices_include_tax else line.unit_price + line.unit_tax
        name = f"{line.product_title} ({line.options})" if line.options else line.product_title
        items.append(_item(name=name, unit_amount=to_minor_units(unit, currency), quantity=line.quantity,
                           currency=currency))
    if order.shipping_total:
        name = _("Shipping: %(method)s") % {"method": order.shipping_method_name} if order.shipping_method_name \
            else _("Shipping")
        items.append(_item(name=name, unit_amount=to_minor_units(order.shipping_total, currency), quantity=1,
                           currency=currency))
    total = to_minor_units(order.total, currency)
    if sum(item["price_data"]["unit_amount"] * item["quantity"] for item in items) != total:
        items = [_item(name=_("Order %(number)s") % {"number": order.number}, unit_amount=total, quantity=1,
                       currency=currency)]
    return items


def _item(*, name: str, unit_amount: int, quantity: int, currency: str) -> dict:
    return {
        "price_data": {"currency": currency.lower(), "unit_amount": unit_amount, "product_data": {"name": name[:250]}},
        "quantity": quantity,
    }


def _session_expiry(order: Order) -> int:
    """Close the Checkout page when the reservation runs out (within what Stripe allows)."""
    now = timezone.now()
    wanted = order.reservation_expires_at or now + MIN_SESSION_LIFETIME
    return int(min(max(wanted, now + MIN_SESSION_LIFETIME), now + MAX_SESSION_LIFETIME).timestamp())


def expandable_id(value) -> str:
    """An expandable field: an id, or the object itself when it was expanded."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


class StripeProvider:
    name = Provider.STRIPE

    def start(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        if payment.redirect_url and payment.expires_at and payment.expires_at > timezone.now() + timedelta(minutes=1):
            return HttpResponseRedirect(payment.redirect_url)  # the same Checkout page, still open
        order = payment.order
        back = absolute_url(status_url(payment))  # SITE_URL: Stripe sends the shopper back there
        metadata = {"order_id": str(order.pk), "order_number": order.number, "payment_id": str(payment.pk)}
        params = {
            "mode": "payment",
            "line_items": line_items(order, payment.amount),
            "success_url": back,
            "cancel_url": f"{back}?left=1",
            "client_reference_id": order.number,
            "customer_email": order.email,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "expires_at": _session_expiry(order),
        }
        try:
            session = client().v1.checkout.sessions.create(
                params=params, options={"idempotency_key": payment.checkout_idempotency_key}
            )
        except stripe.StripeError as error:
            logger.warning("Stripe refused to open a Checkout Session for payment %s: %s", payment.pk, error)
            raise ProviderUnavailable(detail=str(error)) from error
        data = session.to_dict(for_json=True)
        payment.provider_session_id = data["id"]
        payment.provider_payment_id = expandable_id(data.get("payment_intent")) or payment.provider_payment_id
        payment.redirect_url = data["url"]
        payment.expires_at = datetime.fromtimestamp(data["expires_at"], tz=UTC) if data.get("expires_at") else None
        payment.raw = {"checkout_session": data}
        payment.save(update_fields=["provider_session_id", "provider_payment_id", "redirect_url", "expires_at",
                                    "raw", "updated_at"])
        return HttpResponseRedirect(payment.redirect_url)

    def refund(self, refund: Refund) -> RefundResult:
        payment = refund.payment
        if not payment.provider_payment_id:
            raise ProviderUnavailable(detail=f"payment {payment.pk} has no PaymentIntent to refund")
        params = {
            "payment_intent": payment.provider_payment_id,
            "amount": to_minor_units(refund.amount, payment.currency),
            # refund_id: a webhook for a refund whose answer we lost finds our row by it
            # (stripe_events._sync_refund).
            "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.pk),
                         "refund_id": str(refund.pk), "reason": refund.reason[:500]},
        }
        try:
            result = client().v1.refunds.create(params=params, options={"idempotency_key": refund.idempotency_key})
        except stripe.APIConnectionError as error:
            # No answer (after the library's own retries with the same key): Stripe may or may not
            # have made the refund; asking again with the same key finds out without a second one.
            logger.warning("Stripe did not answer refund %s of payment %s: %s", refund.idempotency_key, payment.pk,
                           error)
            raise ProviderUnavailable(detail=str(error)) from error
        except stripe.StripeError as error:
            logger.warning("Stripe refused refund %s of payment %s: %s", refund.idempotency_key, payment.pk, error)
            raise ProviderUnavailable(detail=str(error), answered=True) from error
        data = result.to_dict()
        if data.get("status") in ("failed", "canceled"):
            raise ProviderUnavailable(detail=f"refund {data['id']} {data['status']}", answered=True)
        # "pending" (or "requires_action"): Stripe finishes it later and says so in refund.updated
        # or refund.failed (payments.services.handle_stripe_event).
        return RefundResult(reference=data["id"], succeeded=data.get("status") == "succeeded")


def refund_status(data: dict) -> str:
    """Our Refund.Status for a Stripe refund object's status."""
    status = data.get("status")
    if status == "succeeded":
        return Refund.Status.SUCCEEDED
    if status in ("failed", "canceled"):
        return Refund.Status.FAILED
    return Refund.Status.PENDING  # pending, requires_action


def list_refunds(charge_id: str) -> list[dict]:
    """Every refund of a charge (a webhook's charge carries at most a page of them, or none)."""
    refunds = client().v1.refunds.list(params={"charge": charge_id, "limit": 100})
    return [refund.to_dict(for_json=True) for refund in refunds.auto_paging_iter()]
