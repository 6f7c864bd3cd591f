"""A real SMTP server for the email tests (aiosmtpd on a free loopback port), and a known order."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from decimal import Decimal
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from catalog.tests.factories import LocationFactory
from orders.tests.factories import OrderFactory, OrderLineFactory


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts and says when one arrives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.received = threading.Event()
        self._lock = threading.Lock()
        # Set to hold the first message's DATA until the test releases it (see test_concurrency).
        self.hold_first: threading.Event | None = None
        self.first_arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.hold_first is not None and not self.first_arrived.is_set():
            self.first_arrived.set()
            # Holds this message only: other connections are greeted and served meanwhile (a
            # duplicate sender reaches its row lock, not a frozen server). Bounded, so a failing
            # test cannot hang the run.
            await asyncio.get_running_loop().run_in_executor(None, self.hold_first.wait, 30)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._lock:
            self.messages.append(message)
        self.received.set()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A running SMTP server that Django's SMTP backend sends to; `.stop()`/`.start()` it at will."""
    server = SmtpServer(free_port())
    server.start()
    send_through(settings, server)
    yield server
    server.stop()


def send_through(settings, server: SmtpServer) -> None:
    """Point Django's SMTP backend at `server` (plain SMTP on loopback, no login)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10


@pytest.fixture
def email_settings(settings):
    settings.STORE_NAME = "Northwind Supply"
    settings.SITE_URL = "https://shop.example"
    settings.DEFAULT_FROM_EMAIL = "Northwind Supply <orders@shop.example>"
    settings.STORE_LOCALE = "en_US"
    settings.LANGUAGE_CODE = "en"
    return settings


def make_order(**fields):
    """An order for two lines with options, shipping, tax and a shipping address; totals add up."""
    defaults = {
        "email": "ada@example.com", "customer_name": "Ada Lovelace", "currency": "USD",
        "subtotal": Decimal("1260.00"), "shipping_total": Decimal("15.00"), "tax_total": Decimal("212.50"),
        "total": Decimal("1275.00"), "prices_include_tax": True, "shipping_method_name": "Standard parcel",
        "shipping_address": {
            "name": "Ada Lovelace", "line1": "12 St James's Square", "line2": "", "postal_code": "SW1Y 4JH",
            "city": "London", "region": "", "country": "GB",
        },
    }
    order = OrderFactory(**{**defaults, **fields})
    OrderLineFactory(
        order=order, product_title="Storm Shell", sku="SHELL-RED-M", options="Colour: Red, Size: M",
        quantity=2, unit_price=Decimal("600.00"), line_total=Decimal("1200.00"),
    )
    OrderLineFactory(
        order=order, product_title="Camp Lamp", sku="LAMP-1", options="",
        quantity=1, unit_price=Decimal("60.00"), line_total=Decimal("60.00"),
    )
    return order


@pytest.fixture
def order(db, email_settings):
    return make_order()


@pytest.fixture
def pickup_order(db, email_settings):
    shop = LocationFactory(
        code="downtown", name="Downtown shop", pickup_allowed=True, address_line1="1 Market Street",
        postal_code="94105", city="San Francisco", country="US",
    )
    return make_order(pickup_location=shop, shipping_address={}, shipping_total=Decimal("0"),
                      shipping_method_name="Click and collect", total=Decimal("1260.00"))


def parts(message: EmailMessage) -> dict[str, str]:
    """The message's text parts by content type: {"text/plain": …, "text/html": …}."""
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
