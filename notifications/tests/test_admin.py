import pytest
from django.core import mail
from django.urls import reverse

from notifications import services
from notifications.models import OutboundEmail

from .conftest import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_email(smtp_server, email_settings):
    order = make_order()
    smtp_server.stop()
    with pytest.raises(OSError):
        services.send_order_email(order_id=order.pk, kind="confirmation")
    smtp_server.start()
    return OutboundEmail.objects.get()


def test_staff_see_unsent_emails_with_their_last_error(admin_client, failed_email):
    response = admin_client.get(reverse("admin:notifications_outboundemail_changelist"), {"status": "failed"})
    assert response.status_code == 200
    assert failed_email.key.encode() in response.content

    page = admin_client.get(reverse("admin:notifications_outboundemail_change", args=[failed_email.pk]))
    assert page.status_code == 200
    assert b"ConnectionRefusedError" in page.content
    assert b'name="_save"' not in page.content  # nothing on it is editable
    assert admin_client.get(reverse("admin:notifications_outboundemail_add")).status_code == 403


def test_send_now_action_sends_the_selected_unsent_email_once(admin_client, failed_email, smtp_server):
    url = reverse("admin:notifications_outboundemail_changelist")
    for _ in range(2):
        response = admin_client.post(url, {"action": "send_now", "_selected_action": [failed_email.pk]}, follow=True)
        assert response.status_code == 200

    assert len(smtp_server.inbox.messages) == 1
    failed_email.refresh_from_db()
    assert (failed_email.status, failed_email.attempts) == ("sent", 2)
    assert mail.outbox == []  # it went over SMTP, not to the test mailbox


def test_send_now_while_the_mail_server_is_still_down_records_the_attempt_and_its_next_time(
    admin_client, failed_email, smtp_server
):
    smtp_server.stop()

    response = admin_client.post(
        reverse("admin:notifications_outboundemail_changelist"),
        {"action": "send_now", "_selected_action": [failed_email.pk]}, follow=True,
    )

    # In a web process the send happens after the response, so the page cannot know how it went:
    # it says what it did, and the list says the rest.
    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == ["1 email queued for sending."]
    failed_email.refresh_from_db()
    assert (failed_email.status, failed_email.attempts) == ("failed", 2)
    assert failed_email.next_attempt_at > failed_email.last_attempt_at
    assert b"ConnectionRefusedError" in response.content


def test_an_email_given_up_is_shown_to_staff_with_its_error_and_staff_can_send_it(admin_client, failed_email,
                                                                                  smtp_server):
    OutboundEmail.objects.filter(pk=failed_email.pk).update(
        status=OutboundEmail.Status.GAVE_UP, attempts=services.delivery.GIVE_UP_AFTER_ATTEMPTS, next_attempt_at=None,
    )
    url = reverse("admin:notifications_outboundemail_changelist")

    listed = admin_client.get(url, {"status__exact": "gave_up"})

    assert failed_email.key.encode() in listed.content
    assert b"Failed, not retried any more" in listed.content and b"ConnectionRefusedError" in listed.content
    admin_client.post(url, {"action": "send_now", "_selected_action": [failed_email.pk]})
    assert len(smtp_server.inbox.messages) == 1
    assert OutboundEmail.objects.get(pk=failed_email.pk).status == "sent"
