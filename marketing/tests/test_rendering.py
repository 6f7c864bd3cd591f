"""Personalisation: the customer's name and picks in each message, what templates may do, and
rendering a batch in a fixed number of queries."""
from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.db import connection
from django.template import TemplateSyntaxError
from django.test.utils import CaptureQueriesContext

from analytics import utm
from catalog.models import Product
from catalog.tests.factories import CategoryFactory, product_with_stock
from customers.tests.factories import CustomerFactory, UserFactory, paid_order_for
from marketing.rendering import check_template, html_to_text, render_for_customers
from marketing.selectors import picks_for_customers
from orders.models import Order
from orders.tests.factories import OrderLineFactory

from .factories import CampaignFactory

pytestmark = pytest.mark.django_db


def bought(customer, *products, **states):
    order = paid_order_for(customer)
    if states:
        Order.objects.filter(pk=order.pk).update(**states)
    for product in products:
        OrderLineFactory(order=order, variant=product.variants.first(), product_title=product.title)
    return order


@pytest.fixture
def shelves(db):
    """Tents: the bought tent, two more (80 and 50 sold), one draft, one out of stock.
    Lamps: the store's best-seller (1,000 sold) and another (10 sold)."""
    tents, lamps = CategoryFactory(name="Tents"), CategoryFactory(name="Lamps")
    return {
        "owned_tent": product_with_stock(title="Owned Tent", category=tents, units_sold=500),
        "dome": product_with_stock(title="Dome Tent", category=tents, units_sold=80, price=Decimal("199.00")),
        "tunnel": product_with_stock(title="Tunnel Tent", category=tents, units_sold=50),
        "draft": product_with_stock(title="Secret Tent", category=tents, units_sold=90, status=Product.Status.DRAFT),
        "sold_out": product_with_stock(title="Sold-out Tent", category=tents, units_sold=70, on_hand=0),
        "lantern": product_with_stock(title="Best Lantern", category=lamps, units_sold=1000),
        "torch": product_with_stock(title="Small Torch", category=lamps, units_sold=10),
    }


def titles(picks) -> list[str]:
    return [pick.title for pick in picks]


def test_picks_come_from_the_customers_categories_then_the_best_sellers_never_what_they_bought(shelves):
    buyer = CustomerFactory()
    bought(buyer, shelves["owned_tent"])
    newcomer = CustomerFactory()

    picks = picks_for_customers(customer_ids=[buyer.pk, newcomer.pk])

    # Same category first (best-selling first; not the owned, draft or sold-out tents), then the store's best.
    assert titles(picks[buyer.pk]) == ["Dome Tent", "Tunnel Tent", "Best Lantern", "Small Torch"]
    # No history: the store's best-sellers (still not the draft or sold-out tents).
    assert titles(picks[newcomer.pk]) == ["Best Lantern", "Owned Tent", "Dome Tent", "Tunnel Tent"]
    assert picks[buyer.pk][0].price == "$199.00"


def test_fallback_best_sellers_also_skip_what_the_customer_bought(shelves):
    fan = CustomerFactory()
    bought(fan, shelves["lantern"], shelves["owned_tent"])

    picks = picks_for_customers(customer_ids=[fan.pk])[fan.pk]

    assert "Best Lantern" not in titles(picks) and "Owned Tent" not in titles(picks)
    # Lamps and tents are both "their" categories: ranked together by sales.
    assert titles(picks) == ["Dome Tent", "Tunnel Tent", "Small Torch"]


def test_unpaid_and_cancelled_orders_do_not_count_as_bought(shelves):
    browser = CustomerFactory()
    bought(browser, shelves["lantern"], fulfilment_status=Order.FulfilmentStatus.CANCELLED)
    bought(browser, shelves["dome"], payment_status=Order.PaymentStatus.UNPAID)

    picks = picks_for_customers(customer_ids=[browser.pk])[browser.pk]

    assert titles(picks) == ["Best Lantern", "Owned Tent", "Dome Tent", "Tunnel Tent"]


def test_picks_link_to_the_product_on_the_public_site(shelves, settings):
    settings.SITE_URL = "https://shop.example"
    [pick] = picks_for_customers(customer_ids=[CustomerFactory().pk], limit=1).values()
    assert pick[0].url == f"https://shop.example{shelves['lantern'].get_absolute_url()}"


def test_each_message_carries_the_customers_name_and_picks(shelves, settings):
    settings.SITE_URL = "https://shop.example"
    ada = CustomerFactory(first_name="Ada", last_name="Lovelace")
    bought(ada, shelves["owned_tent"])
    campaign = CampaignFactory(
        subject="{{ customer.first_name }}, new tents",
        html_body="<p>Dear {{ customer.full_name }}</p>{{ picks }}<p><a href=\"{{ unsubscribe_url }}\">Leave</a></p>",
        text_body="",
    )

    email = render_for_customers(campaign=campaign, customers=[ada])[ada.pk]

    assert email.subject == "Ada, new tents"
    assert "Dear Ada Lovelace" in email.html and "Dear Ada Lovelace" in email.text
    assert "Dome Tent" in email.html and "Dome Tent" in email.text  # text made from the HTML
    # the store's links carry the campaign's signed parameters (analytics/utm.py)
    dome = utm.tag_url(f"https://shop.example{shelves['dome'].get_absolute_url()}",
                       source="campaign", medium="email", campaign=str(campaign.pk))
    assert f'href="{html.escape(dome)}"' in email.html
    assert "Owned Tent" not in email.html
    assert email.unsubscribe_url.startswith("https://shop.example/account/unsubscribe/")
    assert email.unsubscribe_url in email.text and email.unsubscribe_url in email.html


def test_staff_html_is_sanitised_and_the_context_exposes_no_model(shelves):
    ada = CustomerFactory(first_name="Ada", user=UserFactory())
    campaign = CampaignFactory(
        html_body='<p onclick="steal()">Hi</p><script>alert(1)</script>'
                  '<a href="javascript:alert(2)">x</a>[{{ customer.user.password }}][{{ customer.email }}]',
        text_body="[{{ customer.user.password }}]",
    )

    email = render_for_customers(campaign=campaign, customers=[ada])[ada.pk]

    assert "<script" not in email.html and "alert" not in email.html and "onclick" not in email.html
    assert "[][]" in email.html and "[]" in email.text
    assert "argon2" not in email.html and ada.email not in email.html


def test_a_name_with_markup_is_escaped_in_html_and_kept_in_text(shelves):
    odd = CustomerFactory(first_name="<b>Bo</b> & Co")
    campaign = CampaignFactory(subject="Hi {{ customer.first_name }}", html_body="<p>Hi {{ customer.first_name }}</p>",
                               text_body="Hi {{ customer.first_name }}")

    email = render_for_customers(campaign=campaign, customers=[odd])[odd.pk]

    assert email.subject == "Hi <b>Bo</b> & Co"
    assert "Hi &lt;b&gt;Bo&lt;/b&gt; &amp; Co" in email.html
    assert "Hi <b>Bo</b> & Co" in email.text


@pytest.mark.parametrize("source, message", [
    ("{% debug %}", "Line 1: {% debug %} does not exist or is not allowed in a campaign."),
    ('Hello\n{% include "emails/base.html" %}', "Line 2: {% include %} does not exist"),
    ("{% load static %}", "Line 1: {% load %} does not exist"),
    ("{% url 'admin:index' %}", "{% url %} does not exist"),
    ("{% if %}x{% endif %}", "Line 1: Unexpected end of expression in if tag."),
    ("{% for pick in picks %}", "Line 1: Unclosed tag"),
    ("{{ customer.first_name|nope }}", "Invalid filter: 'nope'"),
    # A number typed into these would make the rendering that large, in the admin's request.
    ("{% lorem 100000000 %}", "Line 1: {% lorem %} does not exist"),
    ('{{ customer.first_name|ljust:"1000000000" }}', "Invalid filter: 'ljust'"),
    ('{{ customer.first_name|stringformat:"1000000000s" }}', "Invalid filter: 'stringformat'"),
])
def test_templates_that_reach_outside_or_do_not_compile_are_refused_with_the_line(source, message):
    with pytest.raises(TemplateSyntaxError) as error:
        check_template(source)
    assert message in str(error.value)


def test_a_good_template_passes_the_check():
    check_template("{% for pick in picks %}{{ forloop.counter }}. {{ pick.title|upper }}{% empty %}-{% endfor %}"
                   "{{ customer.first_name|default:'friend' }} {% now 'Y' %}")


def test_html_to_text_keeps_lines_and_link_addresses():
    text = html_to_text('<p>Hello &amp; welcome</p><ul><li><a href="https://x.example/a">Tent</a> $5</li></ul>'
                        '<p><a href="https://x.example/">https://x.example/</a></p>')
    assert text.splitlines() == ["Hello & welcome", "", "  * Tent (https://x.example/a) $5", "", "https://x.example/"]


def test_html_to_text_shows_no_script_style_or_unsafe_link():
    text = html_to_text('<style>p { color: red }</style><p>Hi<script>alert(1)</script></p>'
                        '<p><a href="javascript:alert(2)">Click</a></p>')
    assert text.splitlines() == ["Hi", "", "Click"]


@pytest.mark.parametrize("html_body", [
    # Tags the sanitiser removes from the HTML part: their line breaks must stay in the text.
    "<h1>Hello {{ customer.first_name }}</h1><p>Our picks for you:</p>{{ picks }}<p>See you soon</p>",
    "<div>Hello {{ customer.first_name }}</div><div>Our picks for you:</div>{{ picks }}<div>See you soon</div>",
    "Hello {{ customer.first_name }}<br>Our picks for you:{{ picks }}See you soon",
])
def test_the_text_made_from_the_html_keeps_each_line_and_list_item(shelves, settings, html_body):
    settings.SITE_URL = "https://shop.example"
    wen = CustomerFactory(first_name="Wen")
    campaign = CampaignFactory(html_body=html_body, text_body="")

    email = render_for_customers(campaign=campaign, customers=[wen])[wen.pk]

    lines = [line.strip() for line in email.text.splitlines() if line.strip()]
    dome = utm.tag_url(f"https://shop.example{shelves['dome'].get_absolute_url()}",
                       source="campaign", medium="email", campaign=str(campaign.pk))
    assert lines[:2] == ["Hello Wen", "Our picks for you:"]
    picks = [line for line in lines if line.startswith("* ")]
    assert len(picks) == 4 and any(line.startswith(f"* Dome Tent ({dome}) $199.00") for line in picks)
    assert lines[2:6] == picks and lines[6] == "See you soon"


def test_rendering_a_batch_costs_the_same_queries_for_2_or_12_customers(shelves):
    customers = [CustomerFactory() for _ in range(12)]
    for index, customer in enumerate(customers):
        bought(customer, shelves["owned_tent"] if index % 2 else shelves["torch"])
    campaign = CampaignFactory()
    render_for_customers(campaign=campaign, customers=customers[:1])  # warm the cached category tree

    counts = []
    for size in (2, 12):
        with CaptureQueriesContext(connection) as queries:
            emails = render_for_customers(campaign=campaign, customers=customers[:size])
        assert len(emails) == size and all(len(email.picks) == 4 for email in emails.values())
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 3
