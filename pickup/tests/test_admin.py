"""The counter's steps in the back office, submitted as a browser does (django-webtest)."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail

from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.services import record_manual_payment
from pickup import codes
from pickup.models import Pickup

from .test_services import jacket, shop  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.usefixtures("stock_ledger_checked")]


@pytest.fixture
def paid_pickup(jacket, shop, admin_app):  # noqa: F811
    order = place_order(
        lines=[PlacementLine(jacket.pk, 1)], email="ada@example.com", idempotency_key="adm",
        shipping=ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk]),
    )
    record_manual_payment(order_id=order.pk, user=get_user_model().objects.get(username="webtest-admin"))
    return order


def test_ready_then_a_wrong_code_then_the_right_one(admin_app, paid_pickup, django_capture_on_commit_callbacks):
    order_page = admin_app.get(f"/admin/orders/order/{paid_pickup.pk}/change/")
    with django_capture_on_commit_callbacks(execute=True):
        ready = order_page.click(description="Ready for pickup…").forms["pickup_ready_form"].submit().follow()
    assert "Ready for pickup: the shopper was emailed their pick-up code." in ready.text
    assert any("ready for pickup" in m.subject for m in mail.outbox)

    collect = ready.click(description="Collect…")
    form = collect.forms["pickup_collect_form"]
    code = codes.pickup_code(order_id=paid_pickup.pk, salt=Pickup.objects.get().code_salt)
    form["code"] = "000000" if code != "000000" else "111111"
    refused = form.submit()
    assert refused.status_code == 200 and "That is not this order&#x27;s pick-up code" in refused.text
    paid_pickup.refresh_from_db()
    assert paid_pickup.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED

    form = refused.forms["pickup_collect_form"]
    form["code"] = code
    done = form.submit().follow()
    assert f"Collected: order {paid_pickup.number} was handed over." in done.text
    paid_pickup.refresh_from_db()
    assert paid_pickup.fulfilment_status == Order.FulfilmentStatus.FULFILLED
    assert Pickup.objects.get().status == Pickup.Status.COLLECTED


def test_staff_without_the_pickup_permission_cannot_hand_over(django_app, paid_pickup):
    clerk = get_user_model().objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))

    django_app.get(f"/admin/pickup/pickup/ready/{paid_pickup.pk}/", user=clerk, status=403)
    django_app.get(f"/admin/pickup/pickup/collect/{paid_pickup.pk}/", user=clerk, status=403)
    assert not Pickup.objects.exists()


def test_order_managers_may_hand_over(django_app, paid_pickup, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group

    manager = get_user_model().objects.create_user("manager", "manager@example.com", "pw", is_staff=True)
    manager.groups.add(Group.objects.get(name="Order managers"))

    page = django_app.get(f"/admin/pickup/pickup/ready/{paid_pickup.pk}/", user=manager)
    with django_capture_on_commit_callbacks(execute=True):
        page.forms["pickup_ready_form"].submit()
    assert Pickup.objects.get(order=paid_pickup).status == Pickup.Status.READY
    assert django_app.get(f"/admin/pickup/pickup/collect/{paid_pickup.pk}/", user=manager).status_code == 200


def _ready(admin_app, order, django_capture_on_commit_callbacks):
    order_page = admin_app.get(f"/admin/orders/order/{order.pk}/change/")
    with django_capture_on_commit_callbacks(execute=True):
        return order_page.click(description="Ready for pickup…").forms["pickup_ready_form"].submit().follow()


def _code(order) -> str:
    return codes.pickup_code(order_id=order.pk, salt=Pickup.objects.get(order=order).code_salt)


def test_staff_send_a_new_code_from_the_order_page(admin_app, paid_pickup, django_capture_on_commit_callbacks):
    order_page = _ready(admin_app, paid_pickup, django_capture_on_commit_callbacks)
    old = _code(paid_pickup)
    mail.outbox.clear()

    confirm = order_page.click(description="Send a new code…")
    with django_capture_on_commit_callbacks(execute=True):
        done = confirm.forms["pickup_new_code_form"].submit().follow()

    assert "A new pick-up code was emailed to ada@example.com; the previous code no longer works." in done.text
    new = _code(paid_pickup)
    (email,) = mail.outbox
    assert new != old and new in email.body and email.subject.startswith("Your new pick-up code")
    assert "New pick-up code sent to ada@example.com" in done.text  # the order's history
    form = done.click(description="Collect…").forms["pickup_collect_form"]
    form["code"] = old
    assert "That is not this order&#x27;s pick-up code" in form.submit().text
    assert Pickup.objects.get().status == Pickup.Status.READY


def test_staff_send_new_codes_from_the_pickup_list(admin_app, paid_pickup, django_capture_on_commit_callbacks):
    _ready(admin_app, paid_pickup, django_capture_on_commit_callbacks)
    old = _code(paid_pickup)
    mail.outbox.clear()

    form = admin_app.get("/admin/pickup/pickup/").forms["changelist-form"]
    form["action"] = "send_new_code"
    form.get("_selected_action", index=0).checked = True
    with django_capture_on_commit_callbacks(execute=True):
        done = form.submit().follow()

    assert f"New pick-up code emailed for {paid_pickup.number}" in done.text
    assert _code(paid_pickup) != old and [m.subject for m in mail.outbox] == [
        f"Your new pick-up code for order {paid_pickup.number}"]


def test_ship_does_not_hand_a_pickup_over_without_the_code(admin_app, paid_pickup, django_capture_on_commit_callbacks):
    order_page = _ready(admin_app, paid_pickup, django_capture_on_commit_callbacks)
    assert "Create shipment…" not in order_page.text  # the pick-up's way out is "Collect…"

    # The ship page as it was bookmarked, or a form posted from an old tab: refused, nothing moves.
    refused = admin_app.get(f"/admin/orders/order/{paid_pickup.pk}/ship/").follow()
    assert "is collected at Uptown shop: hand it over with &quot;Collect…&quot;" in refused.text
    line = paid_pickup.lines.get()
    admin_app.post(f"/admin/orders/order/{paid_pickup.pk}/ship/",
                   {"csrfmiddlewaretoken": order_page.forms["note-form"]["csrfmiddlewaretoken"].value,
                    f"line_{line.pk}": "1", "carrier": "DHL"}).follow()
    paid_pickup.refresh_from_db()
    assert paid_pickup.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED and not paid_pickup.shipments.exists()


def test_handing_over_without_the_code_asks_why_and_records_it(admin_app, paid_pickup,
                                                               django_capture_on_commit_callbacks):
    collect = _ready(admin_app, paid_pickup, django_capture_on_commit_callbacks).click(description="Collect…")

    empty = collect.forms["pickup_override_form"].submit()
    assert empty.status_code == 200 and "This field is required." in empty.text
    paid_pickup.refresh_from_db()
    assert paid_pickup.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED

    form = empty.forms["pickup_override_form"]
    form["reason"] = "Photo ID checked"
    with django_capture_on_commit_callbacks(execute=True):
        done = form.submit().follow()

    assert f"Collected without the code: order {paid_pickup.number} was handed over" in done.text
    assert "Handed over without the pick-up code by webtest-admin: Photo ID checked" in done.text
    paid_pickup.refresh_from_db()
    assert paid_pickup.fulfilment_status == Order.FulfilmentStatus.FULFILLED
    assert Pickup.objects.get().collected_by.username == "webtest-admin"
