"""The demo provider through the real views: test cards, a clear decline, pages only for their owner."""
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from conftest import html_tags
from orders.links import signed_confirmation_url
from orders.models import Order
from payments.forms import DemoCardForm
from payments.links import payment_token
from payments.models import Payment

from .helpers import place, start_in_browser

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
NEXT_YEAR = str(date.today().year + 1)[2:]


def card(number: str = "4242 4242 4242 4242", **fields) -> dict:
    return {"number": number, "expiry": f"12/{NEXT_YEAR}", "cvc": "123", "name": "Ada Lovelace", **fields}


@pytest.fixture
def demo_page(client, order) -> str:
    """The demo card form's URL, the order's payment started in `client`'s browser."""
    response = start_in_browser(client, order)
    assert response.status_code == 302
    return response["Location"]


def test_the_card_form_says_it_is_a_demo(client, demo_page, order):
    response = client.get(demo_page)

    assert response.status_code == 200
    text = response.content.decode()
    assert "Demo payment: no real money is taken" in text
    assert "4242 4242 4242 4242" in text and "4000 0000 0000 0002" in text
    assert "$84.95" in text
    fields = ("number", "expiry", "cvc", "name")
    assert [html_tags(response.content, "input", name=name)[0]["autocomplete"] for name in fields] == [
        "cc-number", "cc-exp", "cc-csc", "cc-name"]
    assert "no-store" in response["Cache-Control"]


def test_the_good_test_card_pays_the_order(client, demo_page, order):
    response = client.post(demo_page, card())

    order.refresh_from_db()
    payment = Payment.objects.get(order=order)
    assert order.payment_status == P.PAID
    assert payment.status == "succeeded" and payment.provider_payment_id.startswith("demo_pi_")
    # on to the status page, which sends the shopper to the order confirmation now it is paid
    assert response["Location"] == reverse("payments:status", args=[payment_token(payment)])
    follow = client.get(response["Location"])
    assert follow["Location"] == signed_confirmation_url(order)


def test_the_declined_card_shows_a_clear_error_and_no_order_is_paid(client, demo_page, order):
    response = client.post(demo_page, card("4000 0000 0000 0002"))

    order.refresh_from_db()
    payment = Payment.objects.get(order=order)
    assert response.status_code == 200
    assert html_tags(response.content, "p", id="payment-error")
    assert "Your card was declined" in response.content.decode()
    assert (order.payment_status, payment.status) == (P.UNPAID, "failed")
    assert not Order.objects.filter(payment_status=P.PAID).exists()
    [cvc] = html_tags(response.content, "input", name="cvc")
    assert "value" not in cvc  # the security code is not sent back

    # the shopper tries again with another card, on the same page
    client.post(demo_page, card())
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.payment_status, payment.status) == (P.PAID, "succeeded")


def test_submitting_twice_charges_once(client, demo_page, order):
    client.post(demo_page, card())

    again = client.post(demo_page, card())

    assert again.status_code == 302
    assert order.events.filter(to_status=P.PAID).count() == 1
    assert Payment.objects.filter(order=order, status="succeeded").count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"number": "4242 4242 4242 4241"}, "number"),  # fails the Luhn check
        ({"number": "5555 5555 5555 4444"}, "number"),  # a real-looking card, not a demo one
        ({"number": "4242"}, "number"),
        ({"expiry": "01/20"}, "expiry"),
        ({"expiry": "13/30"}, "expiry"),
        ({"expiry": "tomorrow"}, "expiry"),
        ({"cvc": "12"}, "cvc"),
        ({"cvc": "abc"}, "cvc"),
    ],
)
def test_bad_card_details_are_refused_and_nothing_changes(client, demo_page, order, fields, field):
    response = client.post(demo_page, card(**fields))

    order.refresh_from_db()
    assert response.status_code == 200
    assert html_tags(response.content, "p", id=f"{field}-error")
    assert order.is_awaiting_payment
    assert Payment.objects.get(order=order).status == "pending"


def test_expiry_this_month_is_accepted():
    today = date.today()
    form = DemoCardForm(card(expiry=f"{today.month:02d}/{today.year}"))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["expiry"] == (today.month, today.year)


def test_a_forged_token_answers_404(client, demo_page, order):
    payment = Payment.objects.get(order=order)
    forged = f"{payment.pk}:{'A' * 27}"

    assert client.get(reverse("payments:demo", args=[forged])).status_code == 404
    assert client.get(reverse("payments:status", args=[forged])).status_code == 404
    assert client.post(reverse("payments:demo", args=[forged]), card()).status_code == 404


def test_another_shoppers_payment_page_answers_404(client, demo_page, order):
    stranger = Client()

    assert stranger.get(demo_page).status_code == 404
    assert stranger.post(demo_page, card()).status_code == 404
    order.refresh_from_db()
    assert order.is_awaiting_payment


def test_a_signed_in_customer_opens_their_own_payment_from_another_browser(jacket):
    owner = get_user_model().objects.create_user(username="ada", password="pw")
    other = get_user_model().objects.create_user(username="bob", password="pw")
    order = place(jacket, key="owned", user=owner)
    first_browser = Client()
    first_browser.force_login(owner)
    page = start_in_browser(first_browser, order)["Location"]

    second_browser, someone_else = Client(), Client()
    second_browser.force_login(owner)
    someone_else.force_login(other)

    assert second_browser.get(page).status_code == 200
    assert someone_else.get(page).status_code == 404


def test_a_payment_for_an_order_that_expired_meanwhile_is_not_charged(client, demo_page, order):
    Order.objects.filter(pk=order.pk).update(fulfilment_status=FS.EXPIRED)

    response = client.post(demo_page, card())

    assert response.status_code == 302
    assert Payment.objects.get(order=order).status == "pending"
    page = client.get(response["Location"])
    assert "no longer waiting for payment" in page.content.decode()


def test_an_unsent_demo_form_is_not_paid_yet_and_offers_the_form_again(client, demo_page, order):
    payment = Payment.objects.get(order=order)

    page = client.get(reverse("payments:status", args=[payment_token(payment)]))

    [box] = html_tags(page.content, "section", id="payment-status")
    assert box["data-state"] == "not_paid" and "data-hx-get" not in box
    assert html_tags(page.content, "button", id="payment-retry")


def test_coming_back_without_paying_offers_to_pay_again(client, demo_page, order):
    payment = Payment.objects.get(order=order)
    url = reverse("payments:status", args=[payment_token(payment)])

    page = client.get(url, {"left": "1"})  # Stripe's cancel_url; the demo says the same without it

    [box] = html_tags(page.content, "section", id="payment-status")
    assert box["data-state"] == "not_paid" and "data-hx-get" not in box
    [form] = html_tags(page.content, "form", action=reverse("payments:retry", args=[payment_token(payment)]))
    again = client.post(form["action"])
    assert again["Location"] == demo_page  # the same payment, still open


def test_after_a_decline_the_status_page_offers_to_pay_again(client, demo_page, order):
    client.post(demo_page, card("4000000000000002"))
    payment = Payment.objects.get(order=order)

    page = client.get(reverse("payments:status", args=[payment_token(payment)]))

    [box] = html_tags(page.content, "section", id="payment-status")
    assert box["data-state"] == "failed"
    assert html_tags(page.content, "button", id="payment-retry")
