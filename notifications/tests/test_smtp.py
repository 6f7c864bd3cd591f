"""Order emails over real SMTP (aiosmtpd): what arrives, and what a mail server outage does."""
from __future__ import annotations

import datetime
import logging
import re

import pytest
from django.utils import timezone

from notifications import delivery, services
from notifications.models import OutboundEmail
from notifications.tasks import send_order_email_task
from orders.models import Order, OrderEvent

from .conftest import parts

pytestmark = pytest.mark.django_db


def test_confirmation_email_arrives_over_smtp_with_text_and_html(smtp_server, order):
    # when
    sent = services.send_order_email(order_id=order.pk, kind="confirmation")

    # then
    assert sent is True
    [message] = smtp_server.inbox.messages
    assert message["Subject"] == f"Thank you for your order {order.number}"
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Northwind Supply <orders@shop.example>"
    assert message["Message-ID"] == f"<order.{order.pk}.confirmation@shop.example>"
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    for body in bodies.values():
        assert order.number in body
        assert "Storm Shell" in body and "Colour: Red, Size: M" in body
        assert "$600.00" in body and "$1,200.00" in body  # unit price and line total
        assert "$1,260.00" in body and "$15.00" in body and "$212.50" in body and "$1,275.00" in body
        # The UK's order (shop/addresses.py): the town, then the postcode on its own line.
        assert re.search(r"London(\r?\n|<br>)SW1Y 4JH(\r?\n|<br>)United Kingdom", body)
        assert "Northwind Supply" in body
    assert "2 × $600.00 = $1,200.00" in bodies["text/plain"]
    # The apostrophe is escaped in HTML, not in the text part.
    assert "12 St James's Square" in bodies["text/plain"]
    assert "12 St James&#x27;s Square" in bodies["text/html"]
    outbox = OutboundEmail.objects.get(key=f"order:{order.pk}:confirmation")
    assert (outbox.status, outbox.attempts, outbox.recipients) == ("sent", 1, ["ada@example.com"])
    assert outbox.subject == message["Subject"] and outbox.sent_at is not None
    event = OrderEvent.objects.get(order=order, kind="email")
    assert event.actor == "task" and event.data == {"email": "confirmation", "key": outbox.key}


def test_running_the_task_twice_sends_one_email(smtp_server, order):
    send_order_email_task.delay(order_id=order.pk, kind="confirmation")
    send_order_email_task.delay(order_id=order.pk, kind="confirmation")

    assert len(smtp_server.inbox.messages) == 1
    assert services.send_order_email(order_id=order.pk, kind="confirmation") is False
    assert len(smtp_server.inbox.messages) == 1
    assert OutboundEmail.objects.get().attempts == 1
    assert OrderEvent.objects.filter(order=order, kind="email").count() == 1


def test_smtp_down_delays_the_email_and_it_is_sent_once_when_smtp_is_back(smtp_server, order):
    # given: the mail server is down when the order is placed
    smtp_server.stop()
    before = Order.objects.values("payment_status", "fulfilment_status", "updated_at").get(pk=order.pk)

    # when: the task's attempt
    send_order_email_task(order_id=order.pk, kind="confirmation")

    # then: the order is untouched and the outbox says what happened and when it is tried again
    assert Order.objects.values("payment_status", "fulfilment_status", "updated_at").get(pk=order.pk) == before
    outbox = OutboundEmail.objects.get(key=f"order:{order.pk}:confirmation")
    assert (outbox.status, outbox.attempts, outbox.sent_at) == ("failed", 1, None)
    assert "ConnectionRefusedError" in outbox.last_error
    assert outbox.next_attempt_at == outbox.last_attempt_at + delivery.retry_delay(1)
    assert not OrderEvent.objects.filter(order=order, kind="email").exists()

    # when: the server is back; the retry loop runs before the email is due, then when it is
    smtp_server.start()
    assert services.send_due_emails(now=outbox.next_attempt_at - datetime.timedelta(seconds=1)).sent == 0
    assert services.send_due_emails(now=outbox.next_attempt_at).sent == 1
    # ... and a late duplicate of the task runs too
    send_order_email_task(order_id=order.pk, kind="confirmation")

    # then: exactly one email
    [message] = smtp_server.inbox.messages
    assert order.number in message["Subject"]
    outbox.refresh_from_db()
    assert (outbox.status, outbox.attempts, outbox.last_error, outbox.next_attempt_at) == ("sent", 2, "", None)
    assert OrderEvent.objects.filter(order=order, kind="email").count() == 1


def test_retries_back_off_and_stop_after_the_last_attempt(smtp_server, order):
    smtp_server.stop()
    now = timezone.now()
    OutboundEmail.objects.create(key=f"order:{order.pk}:confirmation", kind="order.confirmation", order=order,
                                 next_attempt_at=now)
    waits = []
    for _ in range(delivery.GIVE_UP_AFTER_ATTEMPTS):
        run = services.send_due_emails(now=now)
        assert (run.sent, run.failed) == (0, 1) and "ConnectionRefusedError" in run.stopped
        outbox = OutboundEmail.objects.get()
        if outbox.status == "gave_up":
            break
        waits.append(outbox.next_attempt_at - now)
        now = outbox.next_attempt_at

    minutes = [wait.total_seconds() / 60 for wait in waits]
    assert minutes[:8] == [1, 2, 4, 8, 16, 32, 60, 60] and set(minutes[6:]) == {60}
    assert len(minutes) == delivery.GIVE_UP_AFTER_ATTEMPTS - 1
    assert 23 < sum(minutes) / 60 < 25  # about a day
    # given up: nothing sends it any more by itself; the outbox shows it to staff with the error
    assert (outbox.status, outbox.attempts, outbox.next_attempt_at) == ("gave_up", 30, None)
    assert "ConnectionRefusedError" in outbox.last_error
    smtp_server.start()
    assert services.send_due_emails(now=now + datetime.timedelta(days=30)).sent == 0
    assert smtp_server.inbox.messages == []
