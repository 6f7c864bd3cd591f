"""A shopper's requests never wait on email: a mail server that accepts and never answers, and a
broker that is down, against "Place order" and "Pay" through the real views, with the web
process's background thread on (shop/background.py) as `make run` and gunicorn have it."""
from __future__ import annotations

import re
import socket
import threading
import time
from decimal import Decimal

import kombu.pools
import pytest
import time_machine
from django.utils import timezone

from checkout.models import ShippingMethod, ShippingZone
from notifications import delivery
from notifications.models import OutboundEmail
from orders.models import Order
from shop import background
from shop.celery import app

from .conftest import SmtpServer, free_port, send_through

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL_TIMEOUT = 5.0
KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')


class SilentServer:
    """Accepts every connection and never says a word (an SMTP server that sends no greeting, a
    broker that never replies)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: list[socket.socket] = []
        self.accepted = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", port))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed by stop()
                return
            self.connections.append(connection)
            self.accepted.set()

    def stop(self) -> None:
        """Close the port and every connection held open (a client waiting on one gets EOF)."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        except OSError:
            pass
        self._listener.close()
        for connection in self.connections:
            connection.close()
        self._thread.join(5)


@pytest.fixture
def silent_smtp(settings):
    port = free_port()
    server = SilentServer(port)
    send_through(settings, SmtpServer(port))
    settings.EMAIL_TIMEOUT = EMAIL_TIMEOUT
    yield server
    server.stop()


@pytest.fixture
def background_thread(settings):
    """The web process's thread, as outside tests; ended (and its queue drained) afterwards."""
    settings.BACKGROUND_THREAD = True
    background.shutdown()
    yield
    background.shutdown(timeout=30)


@pytest.fixture
def delivery_zone(db):
    ShippingZone.objects.all().delete()
    zone = ShippingZone.objects.create(name="Domestic", countries="US", position=0)
    return ShippingMethod.objects.create(zone=zone, name="Standard", kind=ShippingMethod.Kind.FLAT,
                                         price=Decimal("5.00"))


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def place_order(client, method: ShippingMethod):
    """Cart, details, review, then "Place order": the response and how long that last POST took."""
    from catalog.models import Variant

    lamp = Variant.objects.get(sku="LAMP-1")
    added = client.post("/cart/add/", {"variant": lamp.pk, "product": lamp.product_id, "quantity": "1"})
    assert added.status_code == 302
    details = client.post("/checkout/", {
        "email": "sam@example.com", "phone": "", "delivery": f"method:{method.pk}", "billing_same": "1",
        "shipping-name": "Sam Shopper", "shipping-company": "", "shipping-line1": "1 Main St", "shipping-line2": "",
        "shipping-city": "Springfield", "shipping-region": "IL", "shipping-postal_code": "62701",
        "shipping-country": "US",
    })
    assert details.status_code == 302, details.content[:2000]
    key = KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]
    return _timed(lambda: client.post("/checkout/place/", {"idempotency_key": key}))


def pay_with_demo_card(client, placed):
    assert placed.status_code == 302 and placed["Location"].startswith("/payments/demo/"), placed
    assert client.get(placed["Location"]).status_code == 200
    card = {"number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123", "name": "Sam"}
    return _timed(lambda: client.post(placed["Location"], card))


def test_a_mail_server_that_never_answers_delays_no_request_and_the_retry_loop_sends_later(
    client, storefront_catalog, delivery_zone, silent_smtp, background_thread, settings,
):
    # given: the background thread holds its jobs back until the shopper is done, so that the
    # measurement cannot depend on how the two threads interleave (and SQLite's in-memory test
    # database sees one writer at a time)
    runner = background.current()
    gate = threading.Event()
    runner.submit(lambda: gate.wait(60), name="gate")

    # when: the shopper places the order and pays
    placed, place_seconds = place_order(client, delivery_zone)
    paid, pay_seconds = pay_with_demo_card(client, placed)

    # then: both return well within the SMTP timeout (before the fix each waited for all of it,
    # sending inside the request), and the order is placed and paid
    assert place_seconds < EMAIL_TIMEOUT / 2 and pay_seconds < EMAIL_TIMEOUT / 2, (place_seconds, pay_seconds)
    assert paid.status_code == 302
    order = Order.objects.get()
    assert order.payment_status == Order.PaymentStatus.PAID
    outbox = {row.kind: row for row in OutboundEmail.objects.filter(order=order)}
    assert {kind: row.status for kind, row in outbox.items()} == {
        "order.confirmation": "pending", "order.payment_received": "pending"}

    # when: the thread sends, to a server that accepted and said nothing, until it hangs up
    gate.set()
    assert silent_smtp.accepted.wait(EMAIL_TIMEOUT), "the background thread never connected"
    silent_smtp.stop()
    assert runner.wait_until_idle(4 * EMAIL_TIMEOUT)

    # then: each email failed, with its error and its next attempt recorded
    rows = list(OutboundEmail.objects.filter(order=order).order_by("pk"))
    assert [(row.status, row.attempts) for row in rows] == [("failed", 1), ("failed", 1)]
    assert all(row.next_attempt_at == row.last_attempt_at + delivery.retry_delay(1) for row in rows)

    # when: the mail server answers again, and the retry loop's time comes (the thread's own
    # schedule, driven here at a later time: no beat, no sleep)
    server = SmtpServer(silent_smtp.port)
    server.start()
    try:
        with time_machine.travel(max(row.next_attempt_at for row in rows), tick=False):
            ran = runner.tick()
    finally:
        server.stop()

    # then: both emails went, once
    assert "send-due-emails" in ran
    assert sorted(message["Subject"].split(" ")[0] for message in server.inbox.messages) == ["Payment", "Thank"]
    assert set(OutboundEmail.objects.filter(order=order).values_list("status", flat=True)) == {"sent"}


@pytest.fixture(params=["closed", "silent"])
def broker_down(request, settings):
    """A broker URL whose port nothing listens on ("closed"), or where a server accepts and never
    replies ("silent"). Celery's cached connections are dropped before and after, so that neither
    this test nor the next uses a connection made for another broker."""
    port = free_port()
    silent = SilentServer(port) if request.param == "silent" else None

    def reset() -> None:
        # What Celery does in a forked child: new pools, made from the settings of the moment.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    reset()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    yield silent
    if silent is not None:
        silent.stop()
    reset()


def test_a_broker_that_is_down_delays_no_request_and_the_email_is_sent_by_the_retry_loop(
    client, storefront_catalog, delivery_zone, broker_down, background_thread, smtp_server, settings,
):
    assert app.conf.broker_url == settings.CELERY_BROKER_URL and not app.conf.task_always_eager

    placed, place_seconds = place_order(client, delivery_zone)
    paid, pay_seconds = pay_with_demo_card(client, placed)

    # Before the fix a silent broker held the request for ever (a closed port for a second per task).
    assert place_seconds < 2 and pay_seconds < 2, (place_seconds, pay_seconds)
    order = Order.objects.get()
    assert order.payment_status == Order.PaymentStatus.PAID and paid.status_code == 302
    # The thread's publishes fail (and are logged): nothing reaches a worker.
    if broker_down is not None:
        broker_down.stop()  # so that the publishes fail now rather than after the socket timeout
    assert background.current().wait_until_idle(30)
    assert set(OutboundEmail.objects.filter(order=order).values_list("status", flat=True)) == {"pending"}
    assert smtp_server.inbox.messages == []

    # The outbox rows are what counts: the retry loop sends them once their grace is over.
    from notifications.services import send_due_emails

    assert send_due_emails(now=timezone.now() + delivery.FIRST_ATTEMPT_GRACE).sent == 2
    assert len(smtp_server.inbox.messages) == 2
