"""Concurrent senders and order services on PostgreSQL: one email, and no deadlock."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone

from conftest import run_together

from notifications import services
from notifications.models import OutboundEmail
from orders.models import Order, OrderEvent

from .conftest import make_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _sessions_waiting_for_a_lock(query_like: str = '%"notifications_outboundemail"%FOR UPDATE%') -> int:
    with connections["default"].cursor() as cursor:
        # Inside a transaction PostgreSQL keeps showing the activity it saw first; look afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            [query_like],
        )
        return cursor.fetchone()[0]


def _wait_until(condition, *, seconds: float = 20) -> bool:
    """Poll `condition` until it holds or time runs out (there is no event for "a session is blocked")."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.02)
    return True


def test_a_second_task_while_the_first_is_talking_to_the_mail_server_sends_nothing_and_waits_for_nothing(
    smtp_server, email_settings
):
    # given: the first worker is in the middle of the SMTP conversation (the server holds its DATA)
    order = make_order()
    inbox = smtp_server.inbox
    inbox.hold_first = threading.Event()
    results: dict[str, bool] = {}
    failures: list[Exception] = []

    def send(name: str) -> None:
        try:
            results[name] = services.send_order_email(order_id=order.pk, kind="confirmation")
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    try:
        assert inbox.first_arrived.wait(timeout=20), "the first worker never reached the SMTP server"
        # No lock is held while the mail server is talked to: the row says who has it, until when.
        claimed = OutboundEmail.objects.get()
        assert (claimed.status, claimed.attempts) == ("sending", 1)
        assert _sessions_waiting_for_a_lock() == 0

        # when: a second worker (a duplicate delivery, the retry loop) runs meanwhile
        send("second")
        # then: it returns at once, sending nothing
        assert results == {"second": False}
    finally:
        inbox.hold_first.set()
        first.join(timeout=30)

    assert not failures
    assert results == {"first": True, "second": False}
    assert len(inbox.messages) == 1
    outbox = OutboundEmail.objects.get()
    assert (outbox.status, outbox.attempts) == ("sent", 1)
    assert OrderEvent.objects.filter(order=order, kind="email").count() == 1


def test_two_retry_loops_racing_send_each_due_email_once(smtp_server, email_settings):
    # given: twelve emails due (their first attempts failed a while ago), and two processes' loops
    now = timezone.now()
    for _ in range(12):
        order = make_order()
        OutboundEmail.objects.create(key=f"order:{order.pk}:confirmation", kind="order.confirmation", order=order,
                                     status="failed", attempts=1, next_attempt_at=now)

    # when: both run at once
    runs = run_together(lambda i: services.send_due_emails(), 2)

    # then: every email went once, each by one loop
    assert not [run for run in runs if isinstance(run, Exception)], runs
    assert sum(run.sent for run in runs) == 12 and all(run.failed == 0 for run in runs)
    ids = [message["Message-ID"] for message in smtp_server.inbox.messages]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("sent", 2)}
    assert OrderEvent.objects.filter(kind="email").count() == 12


def test_many_concurrent_tasks_send_one_email(smtp_server, email_settings):
    order = make_order()
    barrier = threading.Barrier(6)
    results: list[bool] = []
    failures: list[Exception] = []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(services.send_order_email(order_id=order.pk, kind="confirmation"))
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures
    assert sorted(results) == [False] * 5 + [True]
    assert len(smtp_server.inbox.messages) == 1
    assert OutboundEmail.objects.get().attempts == 1


def test_enqueueing_under_the_order_lock_while_that_email_is_being_sent_does_not_deadlock(
    smtp_server, email_settings
):
    """The sender's COMMIT waits for the order lock (its OrderEvent references the order) while it
    holds the outbox row; an order service holding that order lock must not then wait for the row."""
    order = make_order()
    # As placing the order left it: enqueued, committed, its task not run yet.
    OutboundEmail.objects.create(key=f"order:{order.pk}:confirmation", kind="order.confirmation", order=order)
    failures: list[Exception] = []

    def send() -> None:
        try:
            services.send_order_email(order_id=order.pk, kind="confirmation")
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    sender = threading.Thread(target=send)
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order.pk)  # what the order services do first
        sender.start()
        # Its email is sent; its COMMIT checks the OrderEvent's foreign key, which needs the order.
        reached = _wait_until(lambda: _sessions_waiting_for_a_lock("COMMIT") == 1 or not sender.is_alive())
        assert reached and sender.is_alive(), f"the sender never reached the order lock {failures}"
        services.enqueue_order_email(order_id=order.pk, kind="confirmation")
    sender.join(timeout=30)

    assert not failures
    assert len(smtp_server.inbox.messages) == 1
    assert OutboundEmail.objects.get().status == "sent"
