""""Pay now" on the shopper's order pages: a new payment attempt for an order still waiting for
one, through payments.services.start_payment; refused, changing nothing, for any other order."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.tests import factories as f
from conftest import html_tags
from orders import links
from orders.models import Order, OrderEvent
from orders.services import PlacementLine, ShippingChoice, cancel_order, confirm_payment, place_order
from payments.exceptions import ProviderUnavailable
from payments.links import demo_url
from payments.models import Payment
from payments.providers.demo import DemoProvider

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
DELIVERY = ShippingChoice(name="Standard delivery", price=Decimal("4.95"))


@pytest.fixture
def browser() -> Client:
    """A shopper's browser: CSRF is checked, as it is for real."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def tee():
    variant = f.VariantFactory(sku="TEE-1", price=Decimal("25.00"), product__title="Trail Tee")
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=10)
    return variant


def _place(variant, *, user=None, key: str = "pay-now-1") -> Order:
    return place_order(lines=[PlacementLine(variant.pk, 2)], email="ada@example.com", idempotency_key=key,
                       shipping=DELIVERY, user=user)


def _user(name: str):
    return get_user_model().objects.create_user(username=name, password="pw-123456!")


def _owner_url(order: Order) -> str:
    return reverse("orders:detail", kwargs={"number": order.number})


def _pay_now_form(client: Client, page_url: str) -> dict | None:
    """The "Pay now" form on a page, with the CSRF token it carries, or None."""
    content = client.get(page_url).content
    forms = html_tags(content, "form", id="pay-now-form")
    if not forms:
        return None
    [token] = html_tags(content, "input", name="csrfmiddlewaretoken")
    return {"action": forms[0]["action"], "csrf": token["value"]}


def _press(client: Client, page_url: str):
    form = _pay_now_form(client, page_url)
    return client.post(form["action"], {"csrfmiddlewaretoken": form["csrf"]})


def _snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return order.payment_status, order.fulfilment_status, order.events.count(), list(order.payments.values_list("pk", "status"))


def test_every_order_page_offers_pay_now_while_the_order_waits_for_payment(browser, tee):
    alice = _user("alice")
    order = _place(tee, user=alice)
    token = links.order_token(order)
    signed_pay = reverse("orders:pay_signed", kwargs={"token": token})

    assert _pay_now_form(browser, links.signed_confirmation_url(order))["action"] == signed_pay
    assert _pay_now_form(browser, links.signed_order_url(order))["action"] == signed_pay
    fragment = browser.get(reverse("orders:status_signed", kwargs={"token": token}), headers={"HX-Request": "true"})
    assert html_tags(fragment.content, "form", id="pay-now-form", action=signed_pay)
    browser.force_login(alice)
    assert _pay_now_form(browser, _owner_url(order))["action"] == reverse("orders:pay",
                                                                          kwargs={"number": order.number})


def test_pay_now_starts_a_new_attempt_when_the_provider_was_down_at_checkout(browser, tee, monkeypatch):
    order = _place(tee)
    # given: at checkout the provider could not be reached (the attempt is closed, as start_payment leaves it)
    down = Payment.objects.create(order=order, provider="demo", amount=order.total, currency="USD",
                                  status=Payment.Status.CANCELLED, failure_message="down")

    response = _press(browser, links.signed_confirmation_url(order))

    attempt = order.payments.exclude(pk=down.pk).get()
    assert (attempt.status, attempt.provider, attempt.amount) == (Payment.Status.PENDING, "demo", Decimal("54.95"))
    assert response.status_code == 302 and response["Location"] == demo_url(attempt)
    # The attempt is this browser's: its card form opens.
    assert browser.get(response["Location"]).status_code == 200


def test_pay_now_after_a_declined_payment_offers_the_card_form_again(browser, tee):
    order = _place(tee)
    declined = Payment.objects.create(order=order, provider="demo", amount=order.total, currency="USD",
                                      status=Payment.Status.FAILED, failure_message="Your card was declined.")

    response = _press(browser, links.signed_order_url(order))

    # A declined attempt may be tried again: the same payment, nothing charged twice.
    assert response["Location"] == demo_url(declined)
    assert order.payments.count() == 1
    assert browser.get(response["Location"]).status_code == 200


def test_the_signed_in_owner_can_pay_now(browser, tee):
    alice = _user("alice")
    order = _place(tee, user=alice)
    browser.force_login(alice)

    response = _press(browser, _owner_url(order))

    assert response["Location"] == demo_url(order.payments.get())


def test_a_provider_that_is_down_again_is_said_plainly(browser, tee, monkeypatch):
    order = _place(tee)

    def down(self, payment, request):
        raise ProviderUnavailable(detail="timeout")

    monkeypatch.setattr(DemoProvider, "start", down)
    response = _press(browser, links.signed_order_url(order))

    assert response["Location"] == links.signed_order_url(order)
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "could not be reached" in message
    assert order.payments.get().status == Payment.Status.CANCELLED  # the next press starts afresh


@pytest.mark.parametrize("state", ["paid", "cancelled", "expired", "reservation_over"])
def test_an_order_that_no_longer_waits_for_payment_is_not_paid_and_nothing_changes(browser, tee, state):
    order = _place(tee)
    page = links.signed_order_url(order)
    form = _pay_now_form(browser, page)  # the page was open while the order changed
    if state == "paid":
        confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)
    elif state == "cancelled":
        cancel_order(order_id=order.pk, actor=OrderEvent.Actor.STAFF)
    elif state == "expired":
        Order.objects.filter(pk=order.pk).update(fulfilment_status=FS.EXPIRED)
    else:
        Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    before = _snapshot(order)

    response = browser.post(form["action"], {"csrfmiddlewaretoken": form["csrf"]}, follow=True)

    assert _snapshot(order) == before
    assert response.redirect_chain == [(page, 302)]
    [message] = [str(m) for m in response.context["messages"]]
    expected = {"paid": "already paid", "cancelled": "was cancelled", "expired": "not paid in time",
                "reservation_over": "not paid in time"}[state]
    assert order.number in message and expected in message
    assert not html_tags(response.content, "form", id="pay-now-form")  # and the button is gone


def test_nobody_pays_for_someone_elses_order(browser, tee):
    alice, mallory = _user("alice"), _user("mallory")
    order = _place(tee, user=alice)
    other = _place(tee, key="pay-now-2")
    by_number = reverse("orders:pay", kwargs={"number": order.number})
    forged = reverse("orders:pay_signed", kwargs={"token": f"{order.number}:{links.order_token(other).split(':')[1]}"})
    csrf = _pay_now_form(browser, links.signed_order_url(other))["csrf"]

    anonymous = browser.post(by_number, {"csrfmiddlewaretoken": csrf})
    altered = browser.post(forged, {"csrfmiddlewaretoken": csrf})
    browser.force_login(mallory)
    csrf = _pay_now_form(browser, links.signed_order_url(other))["csrf"]
    not_mine = browser.post(by_number, {"csrfmiddlewaretoken": csrf})

    assert (anonymous.status_code, altered.status_code, not_mine.status_code) == (404, 404, 404)
    assert not order.payments.exists()


def test_pay_now_takes_only_a_post_with_its_csrf_token(browser, tee):
    order = _place(tee)
    pay_url = reverse("orders:pay_signed", kwargs={"token": links.order_token(order)})

    assert browser.get(pay_url).status_code == 405
    assert browser.post(pay_url).status_code == 403
    assert not order.payments.exists()
