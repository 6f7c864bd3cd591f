"""The back office shows payments, refunds and provider events, and lets nobody edit them."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import Payment, Refund, WebhookEvent
from payments.services import handle_stripe_event

from .helpers import place
from .stripe_fakes import stripe_event, stripe_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser(username="boss", password="pw"))
    return client


def _payments(jacket, count: int) -> list[Payment]:
    payments = []
    for n in range(count):
        order = place(jacket, key=f"admin-{len(Payment.objects.all())}-{n}")
        payment = Payment.objects.create(order=order, provider="stripe", amount=order.total, currency="USD",
                                         status="succeeded", provider_session_id=f"cs_test_{order.pk}",
                                         provider_payment_id=f"pi_test_{order.pk}")
        Refund.objects.create(payment=payment, amount=Decimal("5.00"), status="succeeded",
                              provider_reference=f"re_test_{order.pk}", reason="Scratched")
        payments.append(payment)
    return payments


def test_payment_list_shows_amounts_statuses_and_references(admin_client, jacket):
    [payment] = _payments(jacket, 1)

    response = admin_client.get(reverse("admin:payments_payment_changelist"))

    text = response.content.decode()
    assert response.status_code == 200
    for expected in ("$84.95", "$5.00", "Succeeded", payment.provider_session_id, payment.provider_payment_id,
                     payment.order.number):
        assert expected in text


def test_the_payment_list_costs_the_same_queries_for_many_payments(admin_client, jacket):
    _payments(jacket, 1)
    url = reverse("admin:payments_payment_changelist")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    _payments(jacket, 4)

    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)

    assert len(many) == len(few)


def test_refund_and_webhook_lists_render(admin_client, jacket):
    _payments(jacket, 2)
    handle_stripe_event(event=stripe_event("customer.created", stripe_object("charge"), event_id="evt_test_admin"))

    refunds = admin_client.get(reverse("admin:payments_refund_changelist"))
    events = admin_client.get(reverse("admin:payments_webhookevent_changelist"))

    assert refunds.status_code == 200 and "re_test_" in refunds.content.decode()
    assert events.status_code == 200 and "evt_test_admin" in events.content.decode()
    detail = admin_client.get(reverse("admin:payments_webhookevent_change", args=[WebhookEvent.objects.get().pk]))
    assert detail.status_code == 200 and "customer.created" in detail.content.decode()


def test_money_cannot_be_added_edited_or_deleted_by_hand(admin_client, jacket):
    [payment] = _payments(jacket, 1)
    change_url = reverse("admin:payments_payment_change", args=[payment.pk])

    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_refund_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_payment_delete", args=[payment.pk])).status_code == 403
    page = admin_client.get(change_url)
    assert page.status_code == 200 and b'name="amount"' not in page.content
    admin_client.post(change_url, {"amount": "1.00", "status": "failed"})
    payment.refresh_from_db()
    assert (payment.amount, payment.status) == (Decimal("84.95"), "succeeded")


def test_order_managers_see_payments_and_support_sees_no_provider_events(client, jacket):
    from django.contrib.auth.models import Group

    [payment] = _payments(jacket, 1)
    manager = get_user_model().objects.create_user(username="olga", password="pw", is_staff=True)
    manager.groups.add(Group.objects.get(name="Order managers"))
    support = get_user_model().objects.create_user(username="sid", password="pw", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))

    client.force_login(manager)
    assert client.get(reverse("admin:payments_payment_change", args=[payment.pk])).status_code == 200
    assert client.get(reverse("admin:payments_webhookevent_changelist")).status_code == 200
    client.force_login(support)
    assert client.get(reverse("admin:payments_refund_changelist")).status_code == 200
    assert client.get(reverse("admin:payments_webhookevent_changelist")).status_code == 403
