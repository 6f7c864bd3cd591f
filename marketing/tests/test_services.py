"""Sending a campaign: consent honoured, nobody emailed twice, mail outages survived, counts."""
from __future__ import annotations

import datetime
from smtplib import SMTPDataError

import pytest
from django.core import mail
from django.utils import timezone

from customers.models import Activity, ConsentRecord, RFMSegment, Segment
from customers.tests.factories import CustomerFactory, UserFactory
from customers.unsubscribe import customer_from_unsubscribe_token, unsubscribe_url
from marketing import services
from marketing.exceptions import CampaignError
from marketing.models import Campaign, CampaignMessage
from marketing.selectors import campaign_counts
from marketing.tasks import send_campaign_batch_task
from notifications.tests.conftest import parts

from .factories import CampaignFactory, consenting, segment_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(username="marketer", is_staff=True)


def send(campaign, staff, capture, *, execute=True):
    """Press "send" and let the transaction commit; returns what send_campaign returned."""
    with capture(execute=execute) as callbacks:
        started = services.send_campaign(campaign=campaign, actor=staff)
    campaign.refresh_from_db()
    return started, callbacks


def recipients_of(outbox) -> list[str]:
    return sorted(address for message in outbox for address in message.to)


def test_only_consenting_members_get_it_each_with_their_unsubscribe_link_and_header(
    email_settings, staff, django_capture_on_commit_callbacks
):
    # given: a segment with two consenting members, one without consent, one erased; and a
    # consenting customer outside the segment
    ada, bob = consenting(email="ada@example.com", first_name="Ada"), consenting(email="bob@example.com")
    silent = CustomerFactory(email="silent@example.com", accepts_marketing=False)
    erased = consenting(email="erased@example.com", erased_at=timezone.now())
    consenting(email="outsider@example.com")
    campaign = CampaignFactory(segment=segment_of(ada, bob, silent, erased))

    # when
    started, _ = send(campaign, staff, django_capture_on_commit_callbacks)

    # then
    assert started is True
    assert recipients_of(mail.outbox) == ["ada@example.com", "bob@example.com"]
    for message in mail.outbox:
        customer = ada if message.to == ["ada@example.com"] else bob
        link = unsubscribe_url(customer)
        assert link.startswith("https://shop.example/account/unsubscribe/")
        assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
        assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.extra_headers["Message-ID"] == f"<campaign.{campaign.pk}.{customer.pk}@shop.example>"
        assert link in message.body
        assert link in message.alternatives[0].content
        assert customer_from_unsubscribe_token(link.rstrip("/").rsplit("/", 1)[1]) == customer
    [to_ada] = [message for message in mail.outbox if message.to == ["ada@example.com"]]
    assert to_ada.subject == "News for Ada" and "Hello Ada," in to_ada.body
    assert (campaign.status, campaign.recipient_count, campaign.sent_by) == ("sent", 2, staff)
    assert campaign.sent_at is not None and campaign.finished_at is not None
    assert set(campaign.messages.values_list("customer__email", "status")) == {
        ("ada@example.com", "sent"), ("bob@example.com", "sent"),
    }
    activities = Activity.objects.filter(kind=Activity.Kind.CAMPAIGN)
    assert sorted(activities.values_list("customer__email", flat=True)) == ["ada@example.com", "bob@example.com"]
    assert activities.get(customer=ada).data["campaign_id"] == campaign.pk


def test_pressing_send_twice_emails_each_customer_once(email_settings, staff, django_capture_on_commit_callbacks):
    members = [consenting() for _ in range(3)]
    campaign = CampaignFactory(segment=segment_of(*members))

    first, _ = send(campaign, staff, django_capture_on_commit_callbacks)
    second, callbacks = send(campaign, staff, django_capture_on_commit_callbacks)

    assert (first, second) == (True, False)
    assert callbacks == []  # the second call enqueued nothing
    assert recipients_of(mail.outbox) == sorted(member.email for member in members)
    assert CampaignMessage.objects.count() == 3


def test_a_batch_run_again_after_success_sends_nothing(email_settings, staff, django_capture_on_commit_callbacks):
    members = [consenting() for _ in range(3)]
    campaign = CampaignFactory(segment=segment_of(*members))
    send(campaign, staff, django_capture_on_commit_callbacks)
    ids = list(campaign.messages.values_list("pk", flat=True))

    result = services.send_campaign_batch(campaign_id=campaign.pk, message_ids=ids)
    send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)

    assert result.sent == [] and len(mail.outbox) == 3
    assert Activity.objects.filter(kind=Activity.Kind.CAMPAIGN).count() == 3


def test_messages_go_out_in_batches_of_batch_size(email_settings, staff, django_capture_on_commit_callbacks,
                                                  monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    campaign = CampaignFactory(segment=segment_of(*[consenting() for _ in range(5)]))

    _, callbacks = send(campaign, staff, django_capture_on_commit_callbacks)

    assert len(callbacks) == 3 and len(mail.outbox) == 5


def test_someone_who_unsubscribes_between_send_and_their_batch_is_skipped(
    email_settings, staff, django_capture_on_commit_callbacks
):
    stays, leaves = consenting(email="stays@example.com"), consenting(email="leaves@example.com")
    campaign = CampaignFactory(segment=segment_of(stays, leaves))
    _, callbacks = send(campaign, staff, django_capture_on_commit_callbacks, execute=False)

    # when: the unsubscribe lands before the batch task runs
    leaves.accepts_marketing = False
    leaves.save(update_fields=["accepts_marketing"])
    for callback in callbacks:
        callback()

    # then
    assert recipients_of(mail.outbox) == ["stays@example.com"]
    skipped = CampaignMessage.objects.get(customer=leaves)
    assert skipped.status == "skipped" and "consent" in skipped.error
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    counts = campaign_counts(campaign=campaign)
    assert (counts.recipients, counts.sent, counts.skipped, counts.failed, counts.pending) == (2, 1, 1, 0, 0)


def test_someone_who_unsubscribes_while_their_batch_is_sending_is_skipped(
    email_settings, staff, django_capture_on_commit_callbacks, monkeypatch
):
    # given: a batch that has read its recipients (both consenting then)
    first, second = consenting(email="first@example.com"), consenting(email="second@example.com")
    campaign = CampaignFactory(segment=segment_of(first, second))
    _, callbacks = send(campaign, staff, django_capture_on_commit_callbacks, execute=False)
    real_send_one = services._send_one

    def send_one_then_second_unsubscribes(*, message, **kwargs):
        sent = real_send_one(message=message, **kwargs)
        # when: the second customer unsubscribes while the first email goes out
        type(second).objects.filter(pk=second.pk).update(accepts_marketing=False)
        return sent

    monkeypatch.setattr(services, "_send_one", send_one_then_second_unsubscribes)
    for callback in callbacks:
        callback()

    # then: consent is checked when the message is claimed, not only when the batch started
    assert recipients_of(mail.outbox) == ["first@example.com"]
    skipped = CampaignMessage.objects.get(customer=second)
    assert skipped.status == "skipped" and "consent" in skipped.error
    campaign.refresh_from_db()
    assert campaign.status == "sent"


def test_erased_between_send_and_batch_is_skipped(email_settings, staff, django_capture_on_commit_callbacks):
    gone = consenting()
    campaign = CampaignFactory(segment=segment_of(gone))
    _, callbacks = send(campaign, staff, django_capture_on_commit_callbacks, execute=False)
    gone.erased_at = timezone.now()
    gone.save(update_fields=["erased_at"])

    callbacks[0]()

    assert mail.outbox == [] and CampaignMessage.objects.get().status == "skipped"


def test_a_segment_with_nobody_to_email_is_refused_and_stays_a_draft(email_settings, staff,
                                                                      django_capture_on_commit_callbacks):
    campaign = CampaignFactory(segment=segment_of(CustomerFactory(accepts_marketing=False)))

    with pytest.raises(CampaignError, match="Nobody in segment .* accepts marketing email now"):
        send(campaign, staff, django_capture_on_commit_callbacks)

    campaign.refresh_from_db()
    assert campaign.status == "draft" and not CampaignMessage.objects.exists()


def test_a_campaign_without_segment_or_with_a_broken_template_is_refused(staff, django_capture_on_commit_callbacks):
    no_segment = CampaignFactory(segment=None)
    with pytest.raises(CampaignError, match="Choose the segment"):
        services.send_campaign(campaign=no_segment, actor=staff)
    broken = CampaignFactory(segment=segment_of(consenting()), html_body="{% if %}")
    with pytest.raises(CampaignError, match="templates have an error"):
        services.send_campaign(campaign=broken, actor=staff)
    assert set(Campaign.objects.values_list("status", flat=True)) == {"draft"}


def test_rfm_segments_are_read_from_the_customers_scores(email_settings, staff, django_capture_on_commit_callbacks):
    champion = consenting(email="champ@example.com", rfm_segment=RFMSegment.CHAMPIONS)
    consenting(email="lost@example.com", rfm_segment=RFMSegment.LOST)
    # The built-in segment from the migration (transactional tests elsewhere may have wiped it).
    segment, _created = Segment.objects.get_or_create(
        kind=Segment.Kind.RFM, rfm_segment=RFMSegment.CHAMPIONS, defaults={"name": "Champions"}
    )
    campaign = CampaignFactory(segment=segment)

    send(campaign, staff, django_capture_on_commit_callbacks)

    assert recipients_of(mail.outbox) == [champion.email]


def test_a_test_send_goes_to_the_typed_address_now_and_marks_nothing(
    email_settings, staff, django_capture_on_commit_callbacks
):
    member = consenting(email="member@example.com", first_name="Grace")
    campaign = CampaignFactory(segment=segment_of(member))

    services.send_test_email(campaign=campaign, to=" me@shop.example ", actor=staff)

    [test] = mail.outbox
    # Rendered for a made-up customer: a member's name and picks never go to a typed address.
    assert test.to == ["me@shop.example"] and test.subject == "[Test] News for Alex"
    assert "Grace" not in test.body
    # Its unsubscribe link is a dummy: clicking it in a test must not unsubscribe Grace.
    assert "https://shop.example/account/unsubscribe/preview/" in test.body
    assert test.extra_headers["List-Unsubscribe"] == "<https://shop.example/account/unsubscribe/preview/>"
    campaign.refresh_from_db()
    assert campaign.status == "draft" and not CampaignMessage.objects.exists()
    assert not Activity.objects.filter(kind=Activity.Kind.CAMPAIGN).exists()

    # and the real send still reaches the member
    send(campaign, staff, django_capture_on_commit_callbacks)
    assert recipients_of(mail.outbox[1:]) == ["member@example.com"]


def test_a_test_send_to_a_bad_address_is_refused(staff):
    campaign = CampaignFactory(segment=segment_of(consenting()))
    with pytest.raises(CampaignError, match="is not an email address"):
        services.send_test_email(campaign=campaign, to="not-an-address", actor=staff)
    assert mail.outbox == []


def test_cancelling_a_sending_campaign_skips_what_is_unsent(email_settings, staff, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(segment=segment_of(consenting(), consenting()))
    _, callbacks = send(campaign, staff, django_capture_on_commit_callbacks, execute=False)

    assert services.cancel_campaign(campaign=campaign) == 2
    for callback in callbacks:
        callback()

    assert mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert set(campaign.messages.values_list("status", flat=True)) == {"skipped"}
    with pytest.raises(CampaignError, match="cannot be cancelled"):
        services.cancel_campaign(campaign=campaign)
    assert services.send_campaign(campaign=campaign, actor=staff) is False


def test_resume_sends_what_lost_tasks_left_pending_once(email_settings, staff, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(segment=segment_of(consenting(), consenting()))
    send(campaign, staff, django_capture_on_commit_callbacks, execute=False)  # the broker lost the tasks

    with django_capture_on_commit_callbacks(execute=True):
        assert services.resume_campaign(campaign=campaign) == 2
    with django_capture_on_commit_callbacks(execute=True):
        campaign.refresh_from_db()
        with pytest.raises(CampaignError, match="not sending"):
            services.resume_campaign(campaign=campaign)

    assert len(mail.outbox) == 2 and campaign.status == "sent"


# --- Over real SMTP ----------------------------------------------------------------------------------

def test_a_batch_stopped_by_a_mail_error_and_retried_sends_each_remaining_message_once(
    smtp_server, staff, django_capture_on_commit_callbacks
):
    # given: five recipients, and a mail server that takes two messages and then answers "try later"
    members = [consenting(email=f"m{index}@example.com") for index in range(5)]
    campaign = CampaignFactory(segment=segment_of(*members))
    send(campaign, staff, django_capture_on_commit_callbacks, execute=False)
    ids = list(campaign.messages.values_list("pk", flat=True))
    smtp_server.inbox.accept = 2

    # when: the task's first attempt
    with pytest.raises(SMTPDataError):
        send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)

    # then: two sent, the third pending with its error, the rest untouched
    assert len(smtp_server.inbox.messages) == 2
    states = list(campaign.messages.order_by("pk").values_list("status", "attempts"))
    assert states == [("sent", 1), ("sent", 1), ("pending", 1), ("pending", 0), ("pending", 0)]
    assert "451" in campaign.messages.order_by("pk")[2].error
    assert Activity.objects.filter(kind=Activity.Kind.CAMPAIGN).count() == 2
    campaign.refresh_from_db()
    assert campaign.status == "sending"

    # when: the server recovers; the retry runs, and a late duplicate of it too
    smtp_server.inbox.accept = None
    send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)
    send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)

    # then: every member has exactly one email
    delivered = sorted(message["X-Envelope-To"] for message in smtp_server.inbox.messages)
    assert delivered == [member.email for member in members]
    assert set(campaign.messages.values_list("status", flat=True)) == {"sent"}
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    message = smtp_server.inbox.messages[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = message["List-Unsubscribe"].strip()  # folded after the colon: the link is long
    assert header.startswith("<https://shop.example/account/unsubscribe/") and header.endswith("/>")
    bodies = parts(message)
    assert header[1:-1] in bodies["text/plain"] and header[1:-1] in bodies["text/html"]


def test_a_mail_server_that_is_down_leaves_the_batch_pending(smtp_server, staff, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(segment=segment_of(consenting(), consenting()))
    send(campaign, staff, django_capture_on_commit_callbacks, execute=False)
    ids = list(campaign.messages.values_list("pk", flat=True))
    smtp_server.stop()

    with pytest.raises(ConnectionRefusedError):
        send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)

    first, second = campaign.messages.order_by("pk")
    assert (first.status, first.attempts, second.attempts) == ("pending", 1, 0)
    assert "ConnectionRefusedError" in first.error
    smtp_server.start()
    send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)
    assert len(smtp_server.inbox.messages) == 2


def test_a_refused_address_fails_its_message_and_the_others_still_go(smtp_server, staff,
                                                                     django_capture_on_commit_callbacks):
    good, bad = consenting(email="good@example.com"), consenting(email="bad@example.com")
    smtp_server.inbox.refused = {"bad@example.com"}
    campaign = CampaignFactory(segment=segment_of(bad, good))

    send(campaign, staff, django_capture_on_commit_callbacks)

    assert [message["X-Envelope-To"] for message in smtp_server.inbox.messages] == ["good@example.com"]
    failed = campaign.messages.get(customer=bad)
    assert failed.status == "failed" and "SMTPRecipientsRefused" in failed.error
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    assert (campaign_counts(campaign=campaign).failed, campaign_counts(campaign=campaign).sent) == (1, 1)


def test_a_message_that_keeps_failing_is_given_up_after_max_attempts(smtp_server, staff,
                                                                     django_capture_on_commit_callbacks):
    campaign = CampaignFactory(segment=segment_of(consenting()))
    send(campaign, staff, django_capture_on_commit_callbacks, execute=False)
    ids = list(campaign.messages.values_list("pk", flat=True))
    smtp_server.inbox.accept = 0

    for _ in range(services.MAX_ATTEMPTS):
        with pytest.raises(SMTPDataError):
            send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)
    send_campaign_batch_task(campaign_id=campaign.pk, message_ids=ids)  # nothing left to try

    message = campaign.messages.get()
    assert (message.status, message.attempts) == ("failed", services.MAX_ATTEMPTS)
    campaign.refresh_from_db()
    assert campaign.status == "sent"


# --- Counts ------------------------------------------------------------------------------------------

def test_an_unsubscribe_counts_for_the_last_campaign_received_before_it(db):
    ada, bob, cy = consenting(), consenting(), consenting()
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    spring = CampaignFactory(status="sent", sent_at=now - 10 * hour)
    summer = CampaignFactory(status="sent", sent_at=now - 5 * hour)
    for customer in (ada, bob, cy):
        CampaignMessage.objects.create(campaign=spring, customer=customer, email=customer.email, status="sent",
                                       sent_at=now - 10 * hour)
    CampaignMessage.objects.create(campaign=summer, customer=bob, email=bob.email, status="sent",
                                   sent_at=now - 5 * hour)

    def withdraw(customer, *, at, source=ConsentRecord.Source.UNSUBSCRIBE_LINK):
        record = ConsentRecord.objects.create(customer=customer, granted=False, source=source)
        ConsentRecord.objects.filter(pk=record.pk).update(created_at=at)

    withdraw(ada, at=now - 8 * hour)  # after spring, before summer: spring lost her
    withdraw(bob, at=now - 1 * hour)  # after summer: summer lost him, not spring
    withdraw(cy, at=now - 1 * hour, source=ConsentRecord.Source.ACCOUNT)  # not through a link

    assert campaign_counts(campaign=spring).unsubscribed == 1
    assert campaign_counts(campaign=summer).unsubscribed == 1
    assert campaign_counts(campaign=spring).sent == 3
