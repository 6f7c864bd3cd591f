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
