"""Concurrent sends on PostgreSQL: two clicks start one send, duplicate batch tasks send each
message once (the second waits for the first one's row lock)."""
from __future__ import annotations

import threading

import pytest
from django.db import connections

from conftest import run_together
from customers.tests.factories import UserFactory
from marketing import services
from marketing.models import Campaign, CampaignMessage
from notifications.tests.test_concurrency import _sessions_waiting_for_a_lock, _wait_until

from .factories import CampaignFactory, consenting, segment_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_send_clicks_start_one_send_and_email_each_member_once(smtp_server):
    members = [consenting(email=f"m{index}@example.com") for index in range(6)]
    campaign = CampaignFactory(segment=segment_of(*members))
    staff = UserFactory(is_staff=True)

    # Each thread commits for real, so its on_commit batches run (eagerly) in that thread.
    results = run_together(lambda _: services.send_campaign(campaign=campaign, actor=staff), 4)

    assert sorted(results, key=str) == [False, False, False, True]
    delivered = sorted(message["X-Envelope-To"] for message in smtp_server.inbox.messages)
    assert delivered == [member.email for member in members]
    assert CampaignMessage.objects.filter(status="sent").count() == 6
    assert Campaign.objects.get().status == "sent"


def test_duplicate_batch_tasks_wait_for_the_message_being_sent_and_send_each_message_once(smtp_server, monkeypatch):
    # given: a sending campaign whose batch task was delivered three times
    members = [consenting(email=f"d{index}@example.com") for index in range(5)]
    campaign = CampaignFactory(segment=segment_of(*members))
    smtp_server.inbox.hold_first = threading.Event()
    # Lose the tasks send_campaign enqueues: this test runs the duplicates itself.
    with monkeypatch.context() as patch:
        patch.setattr(services, "_enqueue_batches", lambda **kwargs: None)
        services.send_campaign(campaign=campaign, actor=None)
    ids = list(CampaignMessage.objects.values_list("pk", flat=True))
    results: list = []
    failures: list[Exception] = []

    def run() -> None:
        try:
            results.append(services.send_campaign_batch(campaign_id=campaign.pk, message_ids=ids))
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=run)
    first.start()
    assert smtp_server.inbox.first_arrived.wait(timeout=20), "the first worker never reached the SMTP server"

    # when: two duplicates start while the first is in the middle of its first message
    others = [threading.Thread(target=run) for _ in range(2)]
    for thread in others:
        thread.start()
    blocked = _wait_until(lambda: _sessions_waiting_for_a_lock('%"marketing_campaignmessage"%') == 2)
    smtp_server.inbox.hold_first.set()
    for thread in [first, *others]:
        thread.join(timeout=30)

    # then
    assert blocked, "the duplicates did not wait for the first one's row lock"
    assert not failures
    delivered = sorted(message["X-Envelope-To"] for message in smtp_server.inbox.messages)
    assert delivered == [member.email for member in members]
    assert sum(len(result.sent) for result in results) == 5
    assert Campaign.objects.get().status == "sent"


def test_a_mail_server_that_never_answers_holds_no_message_row_while_the_batch_waits(settings, email_settings):
    from notifications.tests.conftest import SmtpServer, free_port, send_through
    from notifications.tests.test_request_path import SilentServer

    member = consenting(email="wen@example.com")
    campaign = CampaignFactory(segment=segment_of(member))
    port = free_port()
    silent = SilentServer(port)
    send_through(settings, SmtpServer(port))
    settings.EMAIL_TIMEOUT = 20
    failures: list[Exception] = []

    def run() -> None:
        try:
            services.send_campaign(campaign=campaign, actor=None)  # its batch runs after commit, here
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    sender = threading.Thread(target=run)
    sender.start()
    try:
        assert silent.accepted.wait(20), "the batch never connected"
        # while the batch waits for the server: its message row can be written at once
        with connections["default"].cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
            updated = CampaignMessage.objects.filter(campaign=campaign).update(error="touched")
            cursor.execute("SET lock_timeout = 0")
        assert updated == 1
    finally:
        silent.stop()
        sender.join(30)

    [message] = CampaignMessage.objects.all()
    assert (message.status, message.attempts) == ("pending", 1) and "SMTPServerDisconnected" in message.error
    assert len(failures) <= 1  # the batch's mail error, logged by on_commit(robust=True) or raised
