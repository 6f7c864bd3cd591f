"""Campaign test set-up: the store's email settings, and a real SMTP server that can be told to
refuse (aiosmtpd, as in notifications/tests)."""
from __future__ import annotations

import pytest

from notifications.tests.conftest import Inbox, SmtpServer, free_port, send_through


class FlakyInbox(Inbox):
    """Accepts `accept` messages, then answers every DATA with a temporary error (451) until
    `accept` is raised again; refuses the recipients in `refused` outright (550)."""

    def __init__(self) -> None:
        super().__init__()
        self.accept: int | None = None  # None: accept everything
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.accept is not None and len(self.messages) >= self.accept:
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def email_settings(settings):
    settings.STORE_NAME = "Northwind Supply"
    settings.SITE_URL = "https://shop.example"
    settings.DEFAULT_FROM_EMAIL = "Northwind Supply <news@shop.example>"
    settings.STORE_LOCALE = "en_US"
    settings.LANGUAGE_CODE = "en"
    return settings


@pytest.fixture
def smtp_server(settings, email_settings):
    """A running SMTP server Django's SMTP backend sends to; its `inbox` is a FlakyInbox."""
    server = SmtpServer(free_port())
    server.inbox = FlakyInbox()
    server.start()
    send_through(settings, server)
    yield server
    server.stop()
