"""The retry loop on the embedded default: the background thread's own schedule (no beat), the
command for cron, and the SMTP timeout that bounds each attempt."""
from __future__ import annotations

import datetime
import io
import threading
import time

import pytest
import time_machine
from celery.schedules import crontab
from django.core.management import call_command
from django.utils import timezone

from notifications import delivery, services
from notifications.models import OutboundEmail
from shop import background

from .conftest import SmtpServer, free_port, make_order, send_through
from .test_request_path import SilentServer

pytestmark = pytest.mark.django_db


def failed_confirmation(order, smtp_server) -> OutboundEmail:
    """The order's confirmation after one attempt while the mail server was down."""
    smtp_server.stop()
    with pytest.raises(ConnectionRefusedError):
        services.send_order_email(order_id=order.pk, kind="confirmation")
    smtp_server.start()
    return OutboundEmail.objects.get()


def test_the_background_threads_schedule_retries_a_failed_email_after_its_backoff_without_beat(
    smtp_server, order, settings,
):
    # given: no broker (the default), so no beat: the web process's thread runs the schedule
    assert settings.CELERY_TASK_ALWAYS_EAGER
    start = timezone.now()
    runner = background.Runner(beat_schedule=settings.CELERY_BEAT_SCHEDULE, clock=timezone.now)
    outbox = failed_confirmation(order, smtp_server)
    assert outbox.next_attempt_at == outbox.last_attempt_at + datetime.timedelta(minutes=1)

    # when: the thread looks at its schedule 30 s later: the email is not due
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        assert runner.tick() == []
    assert smtp_server.inbox.messages == []

    # when: a minute and a bit later (the loop runs every 60 s; the email's backoff is 1 minute)
    retry_time = outbox.next_attempt_at + datetime.timedelta(seconds=1)
    with time_machine.travel(retry_time, tick=False):
        ran = runner.tick()

    # then: it was sent, once, by itself
    assert "send-due-emails" in ran and "expire-unpaid-orders" in ran
    assert len(smtp_server.inbox.messages) == 1
    outbox.refresh_from_db()
    assert (outbox.status, outbox.attempts) == ("sent", 2)
    # and the next tick a moment later runs nothing (the loop's interval has not come round)
    with time_machine.travel(retry_time + datetime.timedelta(seconds=2), tick=False):
        assert "send-due-emails" not in runner.tick()


def test_the_schedule_runs_beats_crontab_jobs_at_their_time(settings):
    ran = []  # (hour, minute, jobs run)
    settings.CELERY_BEAT_SCHEDULE = {
        "nightly": {"task": "notifications.tasks.send_due_emails_task", "schedule": crontab(hour=2, minute=41)},
    }
    day = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    with time_machine.travel(day.replace(hour=1), tick=False):
        runner = background.Runner(beat_schedule=settings.CELERY_BEAT_SCHEDULE)
    for hour, minute in [(2, 40), (2, 41), (2, 42), (3, 0)]:
        with time_machine.travel(day.replace(hour=hour, minute=minute), tick=False):
            ran.append((hour, minute, runner.tick()))
    assert ran == [(2, 40, []), (2, 41, ["nightly"]), (2, 42, []), (3, 0, [])]


def test_two_processes_ticking_run_a_periodic_job_once_per_interval(settings):
    settings.CELERY_BEAT_SCHEDULE = {"loop": {"task": "notifications.tasks.send_due_emails_task", "schedule": 60.0}}
    start = timezone.now()
    first, second = (background.Runner(beat_schedule=settings.CELERY_BEAT_SCHEDULE) for _ in range(2))
    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        assert first.tick() == ["loop"]
        assert second.tick() == []  # the shared cache's lease: the other one has it
    with time_machine.travel(start + datetime.timedelta(seconds=125), tick=False):
        assert sorted([*first.tick(), *second.tick()]) == ["loop"]


def test_a_job_that_fails_is_logged_and_the_thread_goes_on(caplog):
    runner = background.Runner()
    runner.start()
    done = threading.Event()
    try:
        runner.submit(lambda: 1 / 0, name="broken")
        runner.submit(done.set, name="next")
        assert done.wait(10)
    finally:
        assert runner.stop()
    assert any("Background job broken failed" in record.getMessage() for record in caplog.records)


def test_the_command_sends_what_is_due_and_only_that(smtp_server, order, email_settings):
    due = failed_confirmation(order, smtp_server)
    OutboundEmail.objects.filter(pk=due.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    not_yet = OutboundEmail.objects.create(key=f"order:{order.pk}:cancelled", kind="order.cancelled", order=order,
                                           status="failed", attempts=1,
                                           next_attempt_at=timezone.now() + datetime.timedelta(minutes=5))
    out = io.StringIO()

    call_command("send_pending_emails", stdout=out)

    assert out.getvalue().strip() == "1 email(s) sent, 0 failed."
    assert [message["Subject"] for message in smtp_server.inbox.messages] == [
        f"Thank you for your order {order.number}"]
    assert OutboundEmail.objects.get(pk=not_yet.pk).status == "failed"


def test_the_command_stops_at_the_first_sign_the_mail_server_is_down(smtp_server, email_settings):
    now = timezone.now()
    for number in range(3):
        OutboundEmail.objects.create(key=f"order:{number}", kind="order.confirmation", order=make_order(),
                                     next_attempt_at=now)
    smtp_server.stop()
    err = io.StringIO()

    call_command("send_pending_emails", stdout=io.StringIO(), stderr=err)

    assert "Stopped: the mail server cannot be reached (ConnectionRefusedError" in err.getvalue()
    assert sorted(OutboundEmail.objects.values_list("attempts", flat=True)) == [0, 0, 1]


def test_an_smtp_server_that_never_answers_fails_the_attempt_within_email_timeout(settings, order):
    port = free_port()
    silent = SilentServer(port)
    send_through(settings, SmtpServer(port))
    settings.EMAIL_TIMEOUT = 1
    started = time.monotonic()
    try:
        with pytest.raises(delivery.MAIL_SERVER_DOWN):
            services.send_order_email(order_id=order.pk, kind="confirmation")
    finally:
        silent.stop()
    assert time.monotonic() - started < 3
    outbox = OutboundEmail.objects.get()
    assert outbox.status == "failed" and "timed out" in outbox.last_error


def test_email_timeout_is_bounded_by_default():
    from django.conf import settings as django_settings
    from django.core.mail import get_connection

    assert 0 < django_settings.EMAIL_TIMEOUT <= 30
    # Django's SMTP backend reads it, for the emails sent outside the outbox too (allauth's)
    assert get_connection("django.core.mail.backends.smtp.EmailBackend").timeout == django_settings.EMAIL_TIMEOUT
