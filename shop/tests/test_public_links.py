"""Every absolute link the store gives away names SITE_URL (shop/site.py), port included.

`PORT=8311 make run` serves on 8311 and SITE_URL follows it (test_settings.py); here SITE_URL is
set to such an address and the real emails are rendered and sent (order, shipping, refund,
cancellation, staff alerts, a campaign with its picks and unsubscribe link), Stripe Checkout is
opened through its real client, and the pages crawlers read are fetched. Every link found must
start with that address; only named outside parties (a carrier's tracking page, schema.org
vocabulary, Stripe's own page) may differ.
"""
from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from django.core import mail

from catalog.tests.factories import LocationFactory, StockLevelFactory, VariantFactory
from customers.tests.factories import UserFactory
from marketing import services as marketing
from marketing.tests.factories import CampaignFactory, consenting, segment_of
from notifications import services as notifications
from notifications.tests.conftest import make_order
from orders.models import Shipment, ShipmentLine
from payments.providers import stripe as stripe_provider
from payments.services import start_payment
from payments.tests.helpers import checkout_session_response, place, shopper_request
from payments.tests.stripe_fakes import FakeStripeHTTP

pytestmark = pytest.mark.django_db

SITE = "http://127.0.0.1:8311"
URL = re.compile(r"""https?://[^\s"'<>)\]]+""")
OUTSIDE = ("https://track.example/", "https://schema.org", "https://checkout.stripe.com/")


@pytest.fixture
def site(settings):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
    settings.STAFF_ALERT_EMAILS = ["stock@shop.example"]
    return settings


def links(text: str) -> list[str]:
    return [url.rstrip(".,;") for url in URL.findall(text)]


def links_in_message(message) -> list[str]:
    found = links(message.body)
    for content, _mimetype in getattr(message, "alternatives", []):
        found += links(content)
    for name, value in message.extra_headers.items():
        if name != "Message-ID":
            found += links(value)
    return found


def assert_on_site(found: list[str], *, what: str) -> None:
    own = [url for url in found if not url.startswith(OUTSIDE)]
    assert own, f"{what}: no link to the store at all"
    wrong = [url for url in own if not url.startswith(f"{SITE}/")]
    assert not wrong, f"{what}: links that do not start with SITE_URL {SITE}: {wrong}"


def test_every_order_email_links_to_site_url(site):
    order = make_order()
    shipment = Shipment.objects.create(order=order, carrier="DHL", tracking_number="JD1",
                                       tracking_url="https://track.example/JD1")
    ShipmentLine.objects.create(shipment=shipment, line=order.lines.first(), quantity=1)

    sends = {
        "confirmation": {}, "payment_received": {}, "cancelled": {},
        "shipped": {"shipment_id": shipment.pk}, "refunded": {"amount": "10.00"}, "receipt": {},
        "ready_for_pickup": {}, "pickup_reminder": {}, "pickup_code": {}, "payment_link": {},
    }
    assert set(sends) == set(notifications.ORDER_EMAIL_KINDS)  # a new kind of email is checked too
    for kind, extra in sends.items():
        notifications.send_order_email(order_id=order.pk, kind=kind, **extra)

    assert len(mail.outbox) == len(sends)
    for message in mail.outbox:
        assert_on_site(links_in_message(message), what=message.subject)
        assert f"{SITE}/orders/{order.number}:" in message.body  # the signed order page


def test_staff_alert_emails_link_to_site_url(site):
    warehouse = LocationFactory(code="warehouse")
    level = StockLevelFactory(variant=VariantFactory(sku="LOW-1"), location=warehouse, on_hand=1)
    order = make_order()

    notifications.send_low_stock_alert(key="low_stock:links", stock_level_ids=[level.pk])
    notifications.send_staff_alert(key="alert:links", subject="Look at this", order_id=order.pk, message="Hello")

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert_on_site(links_in_message(message), what=message.subject)


def test_campaign_emails_link_their_picks_and_unsubscribe_to_site_url(site, storefront_catalog,
                                                                      django_capture_on_commit_callbacks):
    ada = consenting(email="ada@example.com", first_name="Ada")
    campaign = CampaignFactory(segment=segment_of(ada))

    with django_capture_on_commit_callbacks(execute=True):
        marketing.send_campaign(campaign=campaign, actor=UserFactory(is_staff=True))

    [message] = mail.outbox
    found = links_in_message(message)
    assert_on_site(found, what="campaign")
    assert any(url.startswith(f"{SITE}/p/") for url in found)  # the picks
    assert any(url.startswith(f"{SITE}/account/unsubscribe/") for url in found)
    assert message.extra_headers["List-Unsubscribe"].startswith(f"<{SITE}/account/unsubscribe/")


def test_stripe_sends_the_shopper_back_to_site_url(site, monkeypatch):
    site.STRIPE_SECRET_KEY, site.STRIPE_WEBHOOK_SECRET = "sk_test_fake", "whsec_test_secret"
    fake = FakeStripeHTTP()
    monkeypatch.setattr(stripe_provider, "http_client", fake)
    fake.answer("post", "/v1/checkout/sessions", checkout_session_response())
    variant = VariantFactory(price=Decimal("80.00"))
    StockLevelFactory(variant=variant, location=LocationFactory(code="warehouse"), on_hand=5)

    start_payment(order=place(variant), request=shopper_request())  # the request came to "testserver"

    [sent] = fake.requests_to("post", "/v1/checkout/sessions")
    assert sent.params["success_url"].startswith(f"{SITE}/payments/")
    assert sent.params["cancel_url"].startswith(f"{SITE}/payments/")
    assert parse_qs(sent.params["cancel_url"].split("?", 1)[1]) == {"left": ["1"]}


@pytest.mark.parametrize("host", ["testserver", "127.0.0.1"])
def test_pages_for_crawlers_name_site_url_whatever_host_was_asked(site, client, storefront_catalog, host):
    robots = client.get("/robots.txt", HTTP_HOST=host).content.decode()
    index = client.get("/sitemap.xml", HTTP_HOST=host).content.decode()
    sections = [client.get(url.removeprefix(SITE), HTTP_HOST=host).content.decode() for url in links(index)
                if url.endswith(".xml")]
    product = client.get("/p/storm-shell/", HTTP_HOST=host).content.decode()
    category = client.get("/c/clothing/", HTTP_HOST=host).content.decode()

    assert links(robots) == [f"{SITE}/sitemap.xml"]
    sitemap_links = [url for url in links(index) + links("".join(sections)) if "sitemaps.org" not in url
                     and "w3.org" not in url]
    assert_on_site(sitemap_links, what="sitemaps")
    assert f"{SITE}/p/storm-shell/" in sitemap_links
    head = product.split("</head>")[0]  # canonical, Open Graph and structured data
    assert_on_site(links(head), what="product page head")
    assert f'<link rel="canonical" href="{SITE}/p/storm-shell/">' in head
    assert f'<link rel="canonical" href="{SITE}/c/clothing/">' in category
