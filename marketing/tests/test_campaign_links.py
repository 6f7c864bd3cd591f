"""A campaign email's links carry the campaign's signed parameters, and following one records a
visit attributed to that campaign; order emails' links name the email that brought the shopper."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from analytics import services as analytics, utm
from analytics.models import Event
from conftest import html_tags
from customers.tests.factories import UserFactory
from customers.unsubscribe import unsubscribe_url
from marketing import services

from .factories import CampaignFactory, consenting, segment_of

pytestmark = pytest.mark.django_db


def follow(client, link: str):
    """Open an emailed link as a mail reader's browser would (the test client has no host)."""
    parts = urlsplit(link)
    return client.get(parts.path, dict(parse_qsl(parts.query)))


def product_link(message, product: str) -> str:
    """The first link to `product` in the email's HTML (staff's own; the picks may link it too)."""
    return next(tag["href"] for tag in html_tags(message.alternatives[0].content, "a")
                if tag["href"].split("?")[0] == f"https://shop.example{product}")


@pytest.fixture
def sent_campaign(email_settings, storefront_catalog, django_capture_on_commit_callbacks):
    ada = consenting(email="ada@example.com", first_name="Ada")
    product = reverse("catalog:product", args=["storm-shell"])
    campaign = CampaignFactory(
        segment=segment_of(ada),
        html_body=f'<p>Hello {{{{ customer.first_name }}}}</p><p><a href="{{{{ site_url }}}}p/storm-shell/">'
                  f'The Storm Shell</a></p>{{{{ picks }}}}<p><a href="https://maps.example/shop">Find us</a></p>',
        text_body="",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.send_campaign(campaign=campaign, actor=UserFactory(username="marketer", is_staff=True))
    [message] = mail.outbox
    return campaign, ada, message, product


def test_the_sent_emails_links_to_the_store_carry_the_campaigns_valid_signature(sent_campaign):
    campaign, ada, message, product = sent_campaign
    html = message.alternatives[0].content

    links = [tag["href"] for tag in html_tags(html, "a")]
    store_links = [link for link in links if link.startswith("https://shop.example/")]
    leave = unsubscribe_url(ada)
    assert leave in links and "https://maps.example/shop" in links  # left as they are
    tagged = [link for link in store_links if link != leave]
    assert f"https://shop.example{product}" in [link.split("?")[0] for link in tagged]
    assert "https://shop.example/" in [link.split("?")[0] for link in tagged]  # the store's name on top
    for link in tagged:
        params = dict(parse_qsl(urlsplit(link).query))
        assert (params["utm_source"], params["utm_medium"], params["utm_campaign"]) == (
            "campaign", "email", str(campaign.pk))
        assert utm.verified(params)
    # the text part, made from the HTML, has the same signed links
    assert f"https://shop.example{product}?utm_source=campaign&utm_medium=email&utm_campaign={campaign.pk}&utm_sig=" \
        in message.body
    assert "utm_" not in leave


def test_following_a_campaign_link_records_a_visit_attributed_to_that_campaign(client, sent_campaign):
    campaign, _ada, message, product = sent_campaign
    link = product_link(message, product)

    response = follow(client, link)
    analytics.flush_events()

    assert response.status_code == 200
    click = Event.objects.get(name="campaign_click")
    assert (click.utm_source, click.utm_medium, click.utm_campaign, click.utm_verified) == (
        "campaign", "email", str(campaign.pk), True)
    assert click.properties == {"page": "catalog:product"}
    viewed = Event.objects.get(name="product_viewed")
    assert (viewed.utm_campaign, viewed.utm_verified, viewed.visitor_id) == (str(campaign.pk), True, click.visitor_id)


def test_a_link_edited_to_claim_another_campaign_is_kept_but_not_attributed(client, sent_campaign):
    campaign, _ada, message, product = sent_campaign
    link = product_link(message, product)

    follow(client, link.replace(f"utm_campaign={campaign.pk}", f"utm_campaign={campaign.pk + 1}"))
    analytics.flush_events()

    click = Event.objects.get(name="campaign_click")
    assert (click.utm_campaign, click.utm_verified) == (str(campaign.pk + 1), False)


def test_an_order_emails_link_brings_the_shopper_back_attributed_to_that_email(client, email_settings):
    from notifications.services import send_order_email
    from notifications.tests.conftest import make_order

    order = make_order()
    send_order_email(order_id=order.pk, kind="confirmation")
    [message] = mail.outbox
    [link] = {tag["href"] for tag in html_tags(message.alternatives[0].content, "a")
              if tag["href"].startswith("https://shop.example/orders/")}
    params = dict(parse_qsl(urlsplit(link).query))
    assert (params["utm_source"], params["utm_campaign"]) == ("order_email", "order_confirmation")
    assert utm.verified(params) and link in message.body

    response = follow(client, link)
    analytics.flush_events()

    assert response.status_code == 200
    click = Event.objects.get(name="campaign_click")
    assert (click.utm_source, click.utm_medium, click.utm_campaign, click.utm_verified) == (
        "order_email", "email", "order_confirmation", True)
