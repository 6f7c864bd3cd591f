"""A real Celery worker, fed through Redis, delivers the confirmation email to a real SMTP server."""
from __future__ import annotations

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections, transaction

from notifications import services
from notifications.models import OutboundEmail
from notifications.tasks import send_order_email_task
from orders.models import OrderEvent
from shop.celery import app

from .conftest import make_order

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_worker_sends_the_confirmation_after_the_order_commits(smtp_server, email_settings):
    # given: tasks go through the broker (the suite's autouse fixture makes them eager)
    email_settings.CELERY_TASK_ALWAYS_EAGER = False
    assert app.conf.task_always_eager is False  # the app reads Django's settings live
    assert app.conf.broker_url.startswith("redis://")
    finished = threading.Event()

    def after_task(sender=None, kwargs=None, **_):
        if getattr(sender, "name", None) == send_order_email_task.name:
            # The worker thread's database connection must not outlive the test's database.
            connections.close_all()
            finished.set()

    task_postrun.connect(after_task, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING", shutdown_timeout=30):
            # when: an order is placed (committed) with its confirmation enqueued
            with transaction.atomic():
                order = make_order()
                services.enqueue_order_email(order_id=order.pk, kind="confirmation")
                assert not smtp_server.inbox.received.is_set()

            # then: the worker delivers it over SMTP
            assert smtp_server.inbox.received.wait(timeout=30), "no email reached the SMTP server"
            assert finished.wait(timeout=30), "the task did not finish"
    finally:
        task_postrun.disconnect(after_task)

    [message] = smtp_server.inbox.messages
    assert message["Subject"] == f"Thank you for your order {order.number}"
    assert message["To"] == order.email
    outbox = OutboundEmail.objects.get(key=f"order:{order.pk}:confirmation")
    assert (outbox.status, outbox.attempts) == ("sent", 1)
    assert OrderEvent.objects.filter(order=order, kind="email", actor="task").count() == 1
