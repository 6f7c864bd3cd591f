"""The outbox services: enqueueing after commit, what each email says, stock alerts, recovery."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.utils import timezone

from catalog.tests.factories import LocationFactory, OptionValueFactory, StockLevelFactory, VariantFactory
from notifications import services
from notifications.models import OutboundEmail
from notifications.tasks import (
    send_due_emails_task,
    send_low_stock_alert_task,
    send_order_email_task,
    send_staff_alert_task,
)
from orders.models import Order, OrderEvent, Shipment, ShipmentLine

from .conftest import make_order

pytestmark = pytest.mark.django_db


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


# --- Enqueueing ------------------------------------------------------------------------------------

def test_enqueue_sends_nothing_until_the_transaction_commits(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            services.enqueue_order_email(order_id=order.pk, kind="confirmation")
            # The outbox row is written with the caller's change ...
            assert OutboundEmail.objects.get().status == "pending"
        # ... and the task is only registered to run after commit.
        assert mail.outbox == []

    assert len(callbacks) == 1
    callbacks[0]()
    [message] = mail.outbox
    assert message.subject == f"Thank you for your order {order.number}"
    assert OutboundEmail.objects.get().status == "sent"


def test_a_rolled_back_change_sends_no_email_and_leaves_no_row(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.enqueue_order_email(order_id=order.pk, kind="cancelled")
            raise RuntimeError("the cancellation failed")

    assert callbacks == []
    assert mail.outbox == []
    assert not OutboundEmail.objects.exists()


def test_enqueueing_the_same_email_twice_sends_it_once(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            services.enqueue_order_email(order_id=order.pk, kind="payment_received")
            services.enqueue_order_email(order_id=order.pk, kind="payment_received")

    assert len(mail.outbox) == 1
    assert OutboundEmail.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, kind="email").count() == 1


def test_enqueue_costs_the_caller_two_queries_and_one_when_already_enqueued(
    order, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        with django_assert_num_queries(2):
            services.enqueue_order_email(order_id=order.pk, kind="confirmation")
        with django_assert_num_queries(1):
            services.enqueue_order_email(order_id=order.pk, kind="confirmation")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"kind": "invoice"}, "Unknown order email kind"), ({"kind": "shipped"}, "needs the shipment_id")],
)
def test_enqueue_refuses_a_bad_kind_before_anything_is_written(order, arguments, message):
    with pytest.raises(ValueError, match=message):
        services.enqueue_order_email(order_id=order.pk, **arguments)
    assert not OutboundEmail.objects.exists()


def test_refunds_without_an_id_each_send_an_email_and_with_an_id_once(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_order_email(order_id=order.pk, kind="refunded", amount=Decimal("10.00"))
        services.enqueue_order_email(order_id=order.pk, kind="refunded", amount=Decimal("10.00"))
        services.enqueue_order_email(order_id=order.pk, kind="refunded", refund_id=7, amount="5")
        services.enqueue_order_email(order_id=order.pk, kind="refunded", refund_id=7, amount="5")

    assert [message.body.count("We have refunded $10.00") for message in mail.outbox[:2]] == [1, 1]
    assert "We have refunded $5.00" in mail.outbox[2].body
    assert len(mail.outbox) == 3
    assert OutboundEmail.objects.filter(key=f"order:{order.pk}:refunded:7").count() == 1


# --- What the emails say ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "subject", "sentence"),
    [
        ("confirmation", "Thank you for your order {number}", "We have received it"),
        ("payment_received", "Payment received for order {number}", "We have received your payment of $1,275.00"),
        ("cancelled", "Your order {number} has been cancelled", "has been cancelled"),
    ],
)
def test_each_order_email_has_its_subject_summary_and_link(order, kind, subject, sentence):
    assert services.send_order_email(order_id=order.pk, kind=kind) is True

    [message] = mail.outbox
    assert message.subject == subject.format(number=order.number)
    assert message.to == ["ada@example.com"]
    token_url = f"https://shop.example/orders/{order.number}:"
    for body in (message.body, html_of(message)):
        assert sentence in body
        assert "Storm Shell" in body and "$1,275.00" in body
        assert token_url in body
    assert f'href="{token_url}' in html_of(message)


def test_shipped_email_names_the_carrier_tracking_and_what_is_in_the_parcel(order):
    first_line = order.lines.first()
    shipment = Shipment.objects.create(
        order=order, carrier="DHL Express", tracking_number="JD014600003",
        tracking_url="https://track.example/JD014600003",
    )
    ShipmentLine.objects.create(shipment=shipment, line=first_line, quantity=1)

    services.send_order_email(order_id=order.pk, kind="shipped", shipment_id=shipment.pk)

    [message] = mail.outbox
    assert message.subject == f"Your order {order.number} is on its way"
    html = html_of(message)
    assert "Carrier: DHL Express" in message.body
    assert "Tracking number: JD014600003" in message.body
    assert "Track your parcel: https://track.example/JD014600003" in message.body
    assert "- 1 × Storm Shell (Colour: Red, Size: M)" in message.body
    assert '<a href="https://track.example/JD014600003"' in html and "JD014600003</a>" in html
    assert OutboundEmail.objects.get().key == f"order:{order.pk}:shipped:{shipment.pk}"

    # A second parcel is a second email.
    second = Shipment.objects.create(order=order, carrier="DHL Express", tracking_number="JD2")
    assert services.send_order_email(order_id=order.pk, kind="shipped", shipment_id=second.pk) is True
    assert len(mail.outbox) == 2


def test_pick_up_orders_show_the_shop_instead_of_a_shipping_address(pickup_order):
    services.send_order_email(order_id=pickup_order.pk, kind="confirmation")

    [message] = mail.outbox
    # The US order (shop/addresses.py): "city, state ZIP" (this shop has no state filled in).
    assert "Pick-up:\nDowntown shop\n1 Market Street\nSan Francisco, 94105\nUnited States" in message.body
    assert "Shipping to" not in message.body
    assert "1 Market Street<br>San Francisco, 94105<br>United States" in html_of(message)


def test_customer_text_is_escaped_in_html_and_left_alone_in_plain_text(email_settings):
    order = make_order(customer_name="<script>alert(1)</script> & Co")

    services.send_order_email(order_id=order.pk, kind="confirmation")

    [message] = mail.outbox
    assert "Hello <script>alert(1)</script> & Co," in message.body
    assert "<script>" not in html_of(message)
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co," in html_of(message)


def test_a_missing_shipment_is_recorded_on_the_row_and_raised(order):
    with pytest.raises(Shipment.DoesNotExist):
        services.send_order_email(order_id=order.pk, kind="shipped", shipment_id=999_999)

    outbox = OutboundEmail.objects.get()
    assert (outbox.status, outbox.attempts) == ("failed", 1)
    assert outbox.last_error.startswith("DoesNotExist")
    assert mail.outbox == []
    assert not OrderEvent.objects.filter(kind="email").exists()


def test_the_task_for_a_deleted_order_does_nothing(order):
    order_id = order.pk
    Order.objects.filter(pk=order_id).delete()

    send_order_email_task.delay(order_id=order_id, kind="confirmation")

    assert mail.outbox == []
    assert not OutboundEmail.objects.exists()


# --- Low-stock alerts ------------------------------------------------------------------------------

@pytest.fixture
def low_levels(db, email_settings):
    email_settings.STORE_LOW_STOCK_THRESHOLD = 5
    warehouse = LocationFactory(code="warehouse", name="Main warehouse")
    red = OptionValueFactory(option__slug="colour", option__name="Colour", slug="red", value="Red")
    shell = VariantFactory(sku="SHELL-RED-S", product__title="Storm Shell", option_values=[red])
    lamp = VariantFactory(sku="LAMP-1", product__title="Camp Lamp")
    tee = VariantFactory(sku="TEE-1", product__title="Trail Tee")
    return {
        # 7 on hand, 3 promised to orders: 4 available, under the threshold.
        "shell": StockLevelFactory(variant=shell, location=warehouse, on_hand=7, reserved=3),
        "lamp": StockLevelFactory(variant=lamp, location=warehouse, on_hand=5),  # exactly at it
        "tee": StockLevelFactory(variant=tee, location=warehouse, on_hand=40),  # refilled since
    }


def test_low_stock_alert_lists_the_low_variants_for_the_configured_staff(low_levels, email_settings):
    email_settings.STAFF_ALERT_EMAILS = ["stock@shop.example", "boss@shop.example"]
    ids = [level.pk for level in low_levels.values()]

    assert services.send_low_stock_alert(key="low_stock:test", stock_level_ids=ids) is True

    [message] = mail.outbox
    assert message.to == ["stock@shop.example", "boss@shop.example"]
    assert message.subject == "Low stock at Northwind Supply: 2 items"
    assert "These items have 5 or fewer units available:" in message.body
    assert "- SHELL-RED-S  Storm Shell (Colour: Red)\n  Main warehouse: 4 available" in message.body
    assert "- LAMP-1  Camp Lamp\n  Main warehouse: 5 available" in message.body
    assert "TEE-1" not in message.body and "TEE-1" not in html_of(message)
    assert "SHELL-RED-S" in html_of(message) and "Main warehouse" in html_of(message)
    # Each row links to the variant in the back office.
    variant_url = f"https://shop.example/admin/catalog/variant/{low_levels['shell'].variant_id}/change/"
    assert variant_url in message.body and f'href="{variant_url}"' in html_of(message)


def test_low_stock_alert_goes_to_active_superusers_when_no_address_is_configured(low_levels, email_settings):
    email_settings.STAFF_ALERT_EMAILS = []
    User = get_user_model()
    User.objects.create_superuser("owner", "owner@shop.example", "x")
    User.objects.create_superuser("second", "second@shop.example", "x")
    User.objects.create_superuser("former", "former@shop.example", "x", is_active=False)
    User.objects.create_superuser("nomail", "", "x")
    User.objects.create_user("clerk", "clerk@shop.example", "x", is_staff=True)

    send_low_stock_alert_task.delay(key="low_stock:test", stock_level_ids=[low_levels["lamp"].pk])

    [message] = mail.outbox
    assert message.to == ["owner@shop.example", "second@shop.example"]
    assert message.subject == "Low stock at Northwind Supply: 1 item"


def test_low_stock_alert_is_skipped_when_nothing_is_low_any_more_or_nobody_would_read_it(low_levels, email_settings):
    email_settings.STAFF_ALERT_EMAILS = ["stock@shop.example"]
    assert services.send_low_stock_alert(key="low_stock:refilled", stock_level_ids=[low_levels["tee"].pk]) is False

    email_settings.STAFF_ALERT_EMAILS = []
    assert services.send_low_stock_alert(key="low_stock:nobody", stock_level_ids=[low_levels["lamp"].pk]) is False

    assert mail.outbox == []
    skipped = {row.key: row for row in OutboundEmail.objects.all()}
    assert skipped["low_stock:refilled"].status == "skipped"
    assert "is low any more" in skipped["low_stock:refilled"].last_error
    assert skipped["low_stock:nobody"].status == "skipped"


def test_enqueued_low_stock_alert_is_sent_after_commit_once(
    low_levels, email_settings, django_capture_on_commit_callbacks
):
    email_settings.STAFF_ALERT_EMAILS = ["stock@shop.example"]
    with django_capture_on_commit_callbacks() as callbacks:
        services.enqueue_low_stock_alert(stock_level_ids=[low_levels["shell"].pk, low_levels["shell"].pk])
        services.enqueue_low_stock_alert(stock_level_ids=[])
    assert mail.outbox == []
    assert len(callbacks) == 1

    callbacks[0]()
    callbacks[0]()  # a redelivered task

    [message] = mail.outbox
    assert "SHELL-RED-S" in message.body
    [outbox] = OutboundEmail.objects.all()
    assert outbox.kind == "low_stock" and outbox.params == {"stock_level_ids": [low_levels["shell"].pk]}


# --- Staff alerts ----------------------------------------------------------------------------------

REFUND_FAILED = "Refund re_123 of $84.95 FAILED at the provider.\nRefund it again from the order's page."


def test_a_staff_alert_names_the_order_its_state_and_links_to_it_in_the_back_office(order, email_settings):
    email_settings.STAFF_ALERT_EMAILS = ["money@shop.example", "boss@shop.example"]
    Order.objects.filter(pk=order.pk).update(payment_status=Order.PaymentStatus.PAID)

    sent = services.send_staff_alert(key="staff_alert:test", subject="Refund failed", order_id=order.pk,
                                     message=REFUND_FAILED)

    assert sent is True
    [message] = mail.outbox
    assert message.to == ["money@shop.example", "boss@shop.example"]
    assert message.subject == f"Northwind Supply alert: Refund failed (order {order.number})"
    assert "Refund re_123 of $84.95 FAILED at the provider.\nRefund it again" in message.body
    assert f"Order {order.number}, status now: Paid" in message.body
    admin_url = f"https://shop.example/admin/orders/order/{order.pk}/change/"
    assert admin_url in message.body and f'href="{admin_url}"' in html_of(message)
    assert "Refund re_123 of $84.95 FAILED at the provider.<br>" in html_of(message)
    assert "STAFF_ALERT_EMAILS" in html_of(message)
    outbox = OutboundEmail.objects.get()
    assert (outbox.kind, outbox.order, outbox.status, outbox.recipients) == (
        "staff_alert", order, "sent", ["money@shop.example", "boss@shop.example"])
    # Staff mail is not the customer's: nothing lands in the order's history.
    assert not OrderEvent.objects.filter(order=order, kind="email").exists()


def test_a_staff_alert_without_an_order_says_only_what_it_was_given(db, email_settings):
    email_settings.STAFF_ALERT_EMAILS = ["ops@shop.example"]

    send_staff_alert_task.delay(key="staff_alert:plain", subject="Mail queue stuck", order_id=None,
                                message="Nothing sent for an hour.")

    [message] = mail.outbox
    assert message.subject == "Northwind Supply alert: Mail queue stuck"
    assert "Nothing sent for an hour." in message.body and "Order" not in message.body


def test_a_staff_alert_goes_to_the_same_people_as_low_stock_alerts_or_is_skipped(order, email_settings):
    email_settings.STAFF_ALERT_EMAILS = []
    User = get_user_model()
    User.objects.create_superuser("owner", "owner@shop.example", "x")
    User.objects.create_superuser("former", "former@shop.example", "x", is_active=False)
    User.objects.create_user("clerk", "clerk@shop.example", "x", is_staff=True)

    assert services.send_staff_alert(key="staff_alert:a", subject="S", order_id=order.pk, message="M") is True
    assert mail.outbox[0].to == ["owner@shop.example"]

    User.objects.filter(username="owner").update(is_active=False)
    assert services.send_staff_alert(key="staff_alert:b", subject="S", order_id=order.pk, message="M") is False
    skipped = OutboundEmail.objects.get(key="staff_alert:b")
    assert skipped.status == "skipped" and "Nobody to alert" in skipped.last_error
    assert len(mail.outbox) == 1


def test_an_enqueued_staff_alert_is_sent_after_commit_once_per_key(
    order, email_settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    email_settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            with django_assert_num_queries(2):
                services.enqueue_staff_alert(key="event:1", subject="Refund failed", order_id=order.pk,
                                             message=REFUND_FAILED)
            services.enqueue_staff_alert(key="event:1", subject="Refund failed", order_id=order.pk,
                                         message=REFUND_FAILED)
        assert mail.outbox == []

    for callback in callbacks:
        callback()
    callbacks[0]()  # a redelivered task

    [message] = mail.outbox
    assert message.subject == f"Northwind Supply alert: Refund failed (order {order.number})"
    [outbox] = OutboundEmail.objects.all()
    assert (outbox.key, outbox.kind, outbox.order_id, outbox.status) == ("staff_alert:event:1", "staff_alert",
                                                                         order.pk, "sent")
    assert outbox.params == {"subject": "Refund failed", "message": REFUND_FAILED}


def test_a_rolled_back_alert_is_never_sent(order, email_settings, django_capture_on_commit_callbacks):
    email_settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.enqueue_staff_alert(key="event:2", subject="S", order_id=order.pk, message="M")
            raise RuntimeError("the webhook failed")

    assert callbacks == [] and mail.outbox == []
    assert not OutboundEmail.objects.exists()


def test_a_staff_alert_for_a_deleted_order_is_not_sent(order, email_settings):
    email_settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    order_id = order.pk
    Order.objects.filter(pk=order_id).delete()

    send_staff_alert_task.delay(key="staff_alert:gone", subject="S", order_id=order_id, message="M")

    assert mail.outbox == []
    assert not OutboundEmail.objects.exists()


def test_the_retry_loop_sends_a_stalled_staff_alert_once_its_grace_is_over(order, email_settings):
    email_settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    # The task enqueued with it never ran (the test's transaction never commits).
    services.enqueue_staff_alert(key="event:3", subject="Refund failed", order_id=order.pk, message=REFUND_FAILED)
    now = timezone.now()

    assert services.send_due_emails(now=now).sent == 0  # its task may still be on its way
    assert services.send_due_emails(now=now + services.delivery.FIRST_ATTEMPT_GRACE).sent == 1

    [message] = mail.outbox
    assert message.subject == f"Northwind Supply alert: Refund failed (order {order.number})"
    assert "Refund re_123" in message.body
    assert OutboundEmail.objects.get().status == "sent"


# --- Recovery --------------------------------------------------------------------------------------

def test_the_retry_loop_sends_what_is_due_and_leaves_the_rest(order, email_settings):
    now = timezone.now()
    # Registered an hour ago, but the broker was down at commit: the task never ran (here the
    # test's transaction never commits, so the on_commit callback never runs either).
    services.enqueue_order_email(order_id=order.pk, kind="confirmation")
    stalled = OutboundEmail.objects.get()
    OutboundEmail.objects.filter(pk=stalled.pk).update(next_attempt_at=now - datetime.timedelta(hours=1))
    other = make_order(email="bo@example.com")
    later = now + datetime.timedelta(minutes=1)
    OutboundEmail.objects.create(key="order:retry-later", kind="order.confirmation", order=other, status="failed",
                                 attempts=1, next_attempt_at=later)
    OutboundEmail.objects.create(key="order:held", kind="order.confirmation", order=other, status="sending",
                                 attempts=1, next_attempt_at=later)  # another sender's claim
    OutboundEmail.objects.create(key="order:hopeless", kind="order.confirmation", order=other, status="gave_up",
                                 attempts=services.delivery.GIVE_UP_AFTER_ATTEMPTS)

    send_due_emails_task.delay()

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    statuses = dict(OutboundEmail.objects.values_list("key", "status"))
    assert statuses == {stalled.key: "sent", "order:retry-later": "failed", "order:held": "sending",
                        "order:hopeless": "gave_up"}
    assert services.send_due_emails().sent == 0
    # Once their times come: the failed one is sent, and so is the one whose sender's claim lapsed.
    assert services.send_due_emails(now=later).sent == 2
    assert OutboundEmail.objects.get(key="order:hopeless").status == "gave_up"  # left to staff
