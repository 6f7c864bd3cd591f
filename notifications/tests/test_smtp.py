"""Order emails over real SMTP (aiosmtpd): what arrives, and what a mail server outage does."""
from __future__ import annotations

import logging
import re

import pytest
from django.db import transaction

from notifications import services
from notifications.models import OutboundEmail
from notifications.tasks import send_order_email_task
from orders.models import Order, OrderEvent

from .conftest import make_order, parts

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
    before = Order.objects.values("status", "updated_at").get(pk=order.pk)

    # when: the task's first attempt
    with pytest.raises(send_order_email_task.autoretry_for) as failure:
        send_order_email_task(order_id=order.pk, kind="confirmation")

    # then: a retryable error; the order is untouched and the outbox says what happened
    assert isinstance(failure.value, ConnectionRefusedError)
    assert Order.objects.values("status", "updated_at").get(pk=order.pk) == before
    outbox = OutboundEmail.objects.get(key=f"order:{order.pk}:confirmation")
    assert (outbox.status, outbox.attempts, outbox.sent_at) == ("failed", 1, None)
    assert "ConnectionRefusedError" in outbox.last_error
    assert not OrderEvent.objects.filter(order=order, kind="email").exists()

    # when: the server is back and the retry runs
    smtp_server.start()
    send_order_email_task(order_id=order.pk, kind="confirmation")
    # ... and a late duplicate of the retry runs too
    send_order_email_task(order_id=order.pk, kind="confirmation")

    # then: exactly one email
    [message] = smtp_server.inbox.messages
    assert order.number in message["Subject"]
    outbox.refresh_from_db()
    assert (outbox.status, outbox.attempts, outbox.last_error) == ("sent", 2, "")
    assert OrderEvent.objects.filter(order=order, kind="email").count() == 1


def test_placing_an_order_while_smtp_is_down_keeps_the_order_in_eager_mode(
    smtp_server, email_settings, django_capture_on_commit_callbacks, caplog
):
    """Without a broker the task runs inline after commit: its failure must not reach the shopper."""
    smtp_server.stop()

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            order = make_order()
            services.enqueue_order_email(order_id=order.pk, kind="confirmation")

    assert Order.objects.filter(pk=order.pk).exists()
    outbox = OutboundEmail.objects.get(key=f"order:{order.pk}:confirmation")
    # Eager mode with CELERY_TASK_EAGER_PROPAGATES raises Celery's Retry after the first attempt;
    # on_commit(robust=True) logs it, and requeue_unsent_emails (or the admin) sends it later.
    assert (outbox.status, outbox.attempts) == ("failed", 1)
    assert any("on_commit" in record.getMessage() for record in caplog.records)
    assert smtp_server.inbox.messages == []

    smtp_server.start()
    assert services.send_order_email(order_id=order.pk, kind="confirmation") is True
    assert len(smtp_server.inbox.messages) == 1
