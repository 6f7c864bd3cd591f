"""Account emails (verification, password reset) never hold a shopper's request: allauth sent them
inside it, so a mail server that accepts and never answers held "Reset my password" for the whole
EMAIL_TIMEOUT. They are rendered in the request and sent by the web process's background thread."""
from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from notifications.tests.conftest import SmtpServer, free_port, send_through
from notifications.tests.test_request_path import SilentServer
from shop import background

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL_TIMEOUT = 5.0


@pytest.fixture
def background_thread(settings):
    settings.BACKGROUND_THREAD = True
    background.shutdown()
    yield
    background.shutdown(timeout=30)


def _verified_shopper(email: str):
    from allauth.account.models import EmailAddress

    user = get_user_model().objects.create_user(username="sam", email=email, password="a-long-pass-phrase")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def test_a_password_reset_answers_at_once_while_the_mail_server_hangs(client, settings, background_thread):
    # given: a mail server that accepts connections and never answers
    port = free_port()
    silent = SilentServer(port)
    send_through(settings, SmtpServer(port))
    settings.EMAIL_TIMEOUT = EMAIL_TIMEOUT
    _verified_shopper("sam@example.com")
    try:
        # when
        started = time.monotonic()
        response = client.post("/account/password/reset/", {"email": "sam@example.com"})
        took = time.monotonic() - started

        # then: the shopper is told to check their email without waiting on the server
        assert response.status_code == 302 and response["Location"].endswith("/account/password/reset/done/")
        assert took < EMAIL_TIMEOUT / 2, f"the request waited {took:.1f}s on the mail server"
        assert silent.accepted.wait(EMAIL_TIMEOUT), "the thread never tried to send the email"
    finally:
        silent.stop()


def test_the_reset_email_is_sent_by_the_thread(client, settings, background_thread):
    server = SmtpServer(free_port())
    server.start()
    send_through(settings, server)
    _verified_shopper("sam@example.com")
    try:
        response = client.post("/account/password/reset/", {"email": "sam@example.com"})
        assert response.status_code == 302
        assert background.current().wait_until_idle(10)
    finally:
        server.stop()

    [message] = server.inbox.messages
    assert message["X-Envelope-To"] == "sam@example.com"
    assert "/account/password/reset/key/" in message.get_body(("plain",)).get_content()
