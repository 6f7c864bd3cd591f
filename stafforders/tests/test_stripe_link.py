"""The payment link of a phone order with Stripe configured: the shopper's "Pay now" opens a Stripe
Checkout Session (Stripe's HTTP layer faked, its documented payloads), and the signed
checkout.session.completed webhook marks the order paid: the store's usual flow, nothing special."""
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from catalog.tests import factories as f
from orders.models import Order
from payments.models import Payment
from payments.tests.conftest import fake_stripe, stripe_keys  # noqa: F401  (fixtures)
from payments.tests.stripe_fakes import post_event
from payments.tests.test_webhooks import completed
from stafforders.models import DraftLine, DraftOrder
from stafforders.services import place_draft

pytestmark = pytest.mark.django_db


def test_a_phone_order_paid_through_its_link_with_stripe(client, fake_stripe, django_capture_on_commit_callbacks):
    variant = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=3)
    staff = get_user_model().objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    draft = DraftOrder.objects.create(email="grace@example.com", customer_name="Grace Hopper", shipping_price=5,
                                      address_line1="1 Pier Road", city="Arlington", country="US")
    DraftLine.objects.create(draft=draft, variant=variant, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        order = place_draft(draft_id=draft.pk, payment=DraftOrder.Payment.LINK, user=staff)

    payment = Payment.objects.get(order=order)
    assert payment.provider == "stripe" and payment.amount == Decimal("85.00")
    (email,) = [m for m in mail.outbox if m.subject.startswith("Pay for your order")]
    path = "/" + re.search(r"http://\S+/orders/\S+/", email.body)[0].split("://", 1)[1].split("/", 1)[1]
    page = client.get(path).content.decode()
    pay_url = re.search(r'<form method="post" action="([^"]+)" class="order-status-pay"', page)[1]

    to_stripe = client.post(pay_url)

    assert to_stripe.status_code in (302, 303) and "checkout.stripe.com" in to_stripe["Location"]
    assert len(fake_stripe.requests_to("post", "/v1/checkout/sessions")) == 1
    payment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, completed(payment)).status_code == 200
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID and order.channel_id == "phone"
