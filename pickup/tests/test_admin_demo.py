"""The counter's pick-up steps on the demo store (`seed_demo`: the demo catalog, its shops with
their hours). The demo seeds no pick-up orders, so the shopper places one as on the storefront:
a demo product into the cart, checkout's "Pick up at <shop>", the demo card. Staff then drive the
back office as a browser submits its forms (WebTest `admin_app`): ready, a new code for a shopper
who lost the email (the old one refused at the counter, the new one hands it over), and a
hand-over without the code on staff's word once wrong codes locked it.

The demo store is seeded once for the module in a transaction rolled back after it (each test
runs in its own savepoint inside it), so the module costs one seed."""
import re
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.db.models import F

from catalog.models import Location, StockLevel
from checkout.tests.conftest import address, fill_cart
from orders.models import Order
from pickup import codes
from pickup.models import Pickup
from saleschannels.selectors import channel_products, web_channel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture(scope="module")
def demo_store(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", "--products", "12", "--customers", "0", "--no-images", stdout=StringIO())
        yield
        transaction.set_rollback(True)


def order_page(order: Order) -> str:
    return f"/admin/orders/order/{order.pk}/change/"


def shop_stock() -> StockLevel:
    """A demo shop that allows pick-up, and a demo variant it has on its shelf."""
    level = (StockLevel.objects.filter(location__kind=Location.Kind.SHOP, location__pickup_allowed=True,
                                       location__is_active=True, on_hand__gt=F("reserved"), variant__is_active=True,
                                       variant__product__in=channel_products(channel=web_channel()))
             .select_related("variant", "location").order_by("pk").first())
    assert level is not None, "the demo shops hold demo products"
    return level


def placed_pickup(client, level: StockLevel, email: str) -> Order:
    """The shopper's way: cart, checkout with "Pick up at <shop>", review, place, the demo card."""
    fill_cart(client, (level.variant.sku, 1))
    details = client.get("/checkout/").content.decode()
    assert f"Pick up at {level.location.name}" in details
    response = client.post("/checkout/", address(email=email, delivery=f"pickup:{level.location_id}"))
    assert response.status_code == 302 and response["Location"] == "/checkout/review/", response.content[:2000]
    key = KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]
    response = client.post("/checkout/place/", {"idempotency_key": key})
    assert response.status_code == 302 and response["Location"].startswith("/payments/demo/"), response
    client.post(response["Location"], {"number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123",
                                       "name": "Ada Lovelace"}, follow=True)
    order = Order.objects.get(email=email)
    assert (order.payment_status, order.pickup_location_id) == (Order.PaymentStatus.PAID, level.location_id)
    return order


def made_ready(admin_app, order: Order, capture) -> tuple:
    """"Ready for pickup…" from the order's page; returns the page after it and the emailed code."""
    mail.outbox.clear()
    with capture(execute=True):
        page = admin_app.get(order_page(order)).click(description="Ready for pickup…").forms[
            "pickup_ready_form"].submit().follow()
    assert "Ready for pickup: the shopper was emailed their pick-up code." in page.text
    (email,) = [m for m in mail.outbox if "ready for pickup" in m.subject.lower()]
    return page, email


def test_a_new_code_for_a_demo_pickup_the_shopper_lost_the_email_of(
        demo_store, client, admin_app, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    level = shop_stock()
    order = placed_pickup(client, level, "ada@example.com")
    page, ready_email = made_ready(admin_app, order, django_capture_on_commit_callbacks)
    old = codes.pickup_code(order_id=order.pk, salt=Pickup.objects.get(order=order).code_salt)
    assert old in ready_email.body and level.location.name in ready_email.body

    # The shopper lost the email: staff send a new code from the order page.
    mail.outbox.clear()
    confirm = page.click(description="Send a new code…")
    with django_capture_on_commit_callbacks(execute=True):
        page = confirm.forms["pickup_new_code_form"].submit().follow()
    assert "A new pick-up code was emailed to ada@example.com; the previous code no longer works." in page.text
    assert "New pick-up code sent to ada@example.com" in page.text  # the order's history
    (new_email,) = mail.outbox
    new = codes.pickup_code(order_id=order.pk, salt=Pickup.objects.get(order=order).code_salt)
    assert new != old and new in new_email.body and old not in new_email.body
    assert new_email.subject == f"Your new pick-up code for order {order.number}"

    # At the counter: the old code is refused and changes nothing, the new one hands it over.
    collect = page.click(description="Collect…").forms["pickup_collect_form"]
    collect["code"] = old
    refused = collect.submit()
    assert "That is not this order&#x27;s pick-up code" in refused.text
    order.refresh_from_db()
    assert order.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED
    collect = refused.forms["pickup_collect_form"]
    collect["code"] = new
    with django_capture_on_commit_callbacks(execute=True):
        done = collect.submit().follow()
    assert f"Collected: order {order.number} was handed over." in done.text
    order.refresh_from_db()
    assert order.fulfilment_status == Order.FulfilmentStatus.FULFILLED
    assert Pickup.objects.get(order=order).status == Pickup.Status.COLLECTED
    shelf = StockLevel.objects.get(pk=level.pk)
    assert (shelf.on_hand, shelf.reserved) == (level.on_hand - 1, level.reserved)  # left the shop's shelf

    # The order's page with its pick-up box, history and shipment: 21 queries when measured.
    with django_assert_max_num_queries(21):
        assert "Collected" in admin_app.get(order_page(order)).text


def test_a_demo_pickup_locked_by_wrong_codes_is_handed_over_on_staffs_word(
        demo_store, client, admin_app, settings, django_capture_on_commit_callbacks):
    settings.PICKUP_CODE_ATTEMPTS = 2
    level = shop_stock()
    order = placed_pickup(client, level, "grace@example.com")
    page, _email = made_ready(admin_app, order, django_capture_on_commit_callbacks)
    code = codes.pickup_code(order_id=order.pk, salt=Pickup.objects.get(order=order).code_salt)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    collect = page.click(description="Collect…")
    for _ in range(2):
        form = collect.forms["pickup_collect_form"]
        form["code"] = wrong
        collect = form.submit()
    form = collect.forms["pickup_collect_form"]
    form["code"] = code  # even the right code: locked after two wrong ones
    locked = form.submit()
    assert "Too many wrong pick-up codes for this order" in locked.text
    order.refresh_from_db()
    assert order.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED

    # Staff check the shopper's photo ID and hand it over without the code, saying why.
    override = locked.forms["pickup_override_form"]
    empty = override.submit()
    assert empty.status_code == 200 and "This field is required." in empty.text
    override = empty.forms["pickup_override_form"]
    override["reason"] = "Photo ID checked, name matches the order"
    with django_capture_on_commit_callbacks(execute=True):
        done = override.submit().follow()

    assert f"Collected without the code: order {order.number} was handed over" in done.text
    assert ("Handed over without the pick-up code by webtest-admin: Photo ID checked, name matches the order"
            in done.text)
    order.refresh_from_db()
    pickup = Pickup.objects.get(order=order)
    assert order.fulfilment_status == Order.FulfilmentStatus.FULFILLED
    assert (pickup.status, pickup.collected_by.username, pickup.failed_attempts) == (
        Pickup.Status.COLLECTED, "webtest-admin", 2)
    shelf = StockLevel.objects.get(pk=level.pk)
    assert (shelf.on_hand, shelf.reserved) == (level.on_hand - 1, level.reserved)
