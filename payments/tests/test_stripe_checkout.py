"""Starting a Stripe payment: a Checkout Session created once, with the order in its metadata."""
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.tests import factories as f
from orders.models import Order
from payments.exceptions import OrderNotPayable, ProviderUnavailable
from payments.links import payment_token
from payments.models import Payment, Provider
from payments.providers import default_provider_name
from payments.providers.stripe import from_minor_units, line_items, to_minor_units
from payments.services import start_payment

from .helpers import CHECKOUT_URL, checkout_session_response, place, shopper_request

pytestmark = pytest.mark.django_db


def test_stripe_takes_payments_only_when_its_key_is_set(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert default_provider_name() == Provider.DEMO
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    assert default_provider_name() == Provider.STRIPE


def test_a_checkout_session_is_created_with_an_idempotency_key_and_the_order_in_its_metadata(
    fake_stripe, order, settings
):
    settings.SITE_URL = "https://shop.example.com"  # Stripe sends the shopper back to the public address

    # when
    response = start_payment(order=order, request=shopper_request())

    # then: the shopper goes to Stripe's page
    payment = Payment.objects.get(order=order)
    assert (response.status_code, response["Location"]) == (302, CHECKOUT_URL)
    [sent] = fake_stripe.requests_to("post", "/v1/checkout/sessions")
    assert sent.headers["Idempotency-Key"] == f"payment-{payment.pk}-checkout"
    assert sent.headers["Authorization"] == "Bearer sk_test_fake"
    params = sent.params
    assert (params["mode"], params["client_reference_id"], params["customer_email"]) == (
        "payment", order.number, "ada@example.com")
    for prefix in ("metadata", "payment_intent_data[metadata]"):
        assert params[f"{prefix}[order_id]"] == str(order.pk)
        assert params[f"{prefix}[order_number]"] == order.number
        assert params[f"{prefix}[payment_id]"] == str(payment.pk)
    # the order's line and its shipping, in cents, adding up to the order total
    assert (params["line_items[0][price_data][unit_amount]"], params["line_items[0][quantity]"]) == ("8000", "1")
    assert params["line_items[0][price_data][currency]"] == "usd"
    assert params["line_items[0][price_data][product_data][name]"] == "Storm Jacket"
    assert (params["line_items[1][price_data][unit_amount]"], params["line_items[1][quantity]"]) == ("495", "1")
    token = payment_token(payment)
    assert params["success_url"] == f"https://shop.example.com{reverse('payments:status', args=[token])}"
    assert params["cancel_url"] == f"https://shop.example.com{reverse('payments:status', args=[token])}?left=1"
    # Stripe accepts 30 minutes to 24 hours; the reservation runs 30 minutes, so about 31.
    assert int(params["expires_at"]) >= order.reservation_expires_at.timestamp()
    assert (payment.provider, payment.status, payment.amount) == (Provider.STRIPE, "pending", Decimal("84.95"))
    assert payment.provider_session_id.startswith("cs_test_")
    assert payment.redirect_url == CHECKOUT_URL


def test_paying_again_goes_back_to_the_same_checkout_page(fake_stripe, order):
    start_payment(order=order, request=shopper_request())

    again = start_payment(order=order, request=shopper_request())

    assert again["Location"] == CHECKOUT_URL
    assert Payment.objects.filter(order=order).count() == 1
    assert len(fake_stripe.requests_to("post", "/v1/checkout/sessions")) == 1


def test_an_htmx_checkout_is_sent_to_stripe_with_hx_redirect(fake_stripe, order):
    response = start_payment(order=order, request=shopper_request(htmx=True))

    assert response.status_code == 200
    assert response["HX-Redirect"] == CHECKOUT_URL


def test_stripe_refusing_the_session_leaves_the_order_pending_and_the_next_try_is_a_new_payment(fake_stripe, order):
    fake_stripe.forget("post", "/v1/checkout/sessions")
    fake_stripe.answer("post", "/v1/checkout/sessions",
                       {"error": {"type": "invalid_request_error", "message": "Not a valid URL"}}, status=400)
    fake_stripe.answer("post", "/v1/checkout/sessions", checkout_session_response())

    with pytest.raises(ProviderUnavailable):
        start_payment(order=order, request=shopper_request())

    order.refresh_from_db()
    failed = Payment.objects.get(order=order)
    assert order.is_awaiting_payment
    assert (failed.status, failed.provider_session_id) == ("cancelled", "")

    # Stripe replays a stored answer for a key it has seen, so the next try uses a new one.
    response = start_payment(order=order, request=shopper_request())
    retried = Payment.objects.exclude(pk=failed.pk).get(order=order)
    assert response["Location"] == CHECKOUT_URL
    sent = fake_stripe.requests_to("post", "/v1/checkout/sessions")
    assert sent[-1].headers["Idempotency-Key"] == f"payment-{retried.pk}-checkout"
    assert {r.headers["Idempotency-Key"] for r in sent[:-1]} == {f"payment-{failed.pk}-checkout"}


def test_while_a_bank_debit_is_processing_paying_again_shows_its_status(fake_stripe, order):
    start_payment(order=order, request=shopper_request())
    Payment.objects.filter(order=order).update(status="processing")

    response = start_payment(order=order, request=shopper_request())

    payment = Payment.objects.get(order=order)
    assert response["Location"] == reverse("payments:status", args=[payment_token(payment)])
    assert len(fake_stripe.requests_to("post", "/v1/checkout/sessions")) == 1


@pytest.mark.parametrize("status", [Order.FulfilmentStatus.CANCELLED, Order.FulfilmentStatus.EXPIRED])
def test_an_order_no_longer_waiting_for_payment_is_not_sent_to_pay(fake_stripe, order, status):
    Order.objects.filter(pk=order.pk).update(fulfilment_status=status)

    with pytest.raises(OrderNotPayable):
        start_payment(order=order, request=shopper_request())

    assert not Payment.objects.exists()
    assert fake_stripe.sent == []


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [(Decimal("10.15"), "USD", 1015), (Decimal("1235"), "JPY", 1235), (Decimal("1.234"), "KWD", 1234),
     (Decimal("0.5"), "EUR", 50)],
)
def test_amounts_go_to_stripe_in_the_currency_minor_unit(amount, currency, minor):
    assert to_minor_units(amount, currency) == minor
    assert from_minor_units(minor, currency.lower()) == amount


def test_prices_without_tax_are_sent_with_their_tax(jacket, settings):
    settings.STORE_PRICES_INCLUDE_TAX = False
    from orders.services import PlacementLine, place_order

    from .helpers import DELIVERY

    order = place_order(lines=[PlacementLine(jacket.pk, 2)], email="a@example.com", idempotency_key="tax",
                        shipping=DELIVERY, tax_rate_for=lambda variant: Decimal("20"))

    items = line_items(order)

    assert [(i["price_data"]["unit_amount"], i["quantity"]) for i in items] == [(9600, 2), (495, 1)]
    assert to_minor_units(order.total, "USD") == 9600 * 2 + 495


def test_lines_that_do_not_add_up_to_the_total_become_one_line_for_the_order(order):
    Order.objects.filter(pk=order.pk).update(total=Decimal("70.00"))  # e.g. a discount the lines do not show
    order.refresh_from_db()

    items = line_items(order)

    assert [(i["price_data"]["unit_amount"], i["quantity"]) for i in items] == [(7000, 1)]
    assert order.number in items[0]["price_data"]["product_data"]["name"]


def test_options_are_part_of_the_line_name(fake_stripe, jacket):
    jacket.option_values.add(f.OptionValueFactory(option=f.OptionFactory(slug="size", name="Size"), value="M"))
    order = place(jacket, key="with-options")

    assert line_items(order)[0]["price_data"]["product_data"]["name"] == "Storm Jacket (Size: M)"
