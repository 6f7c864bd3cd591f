"""Gift cards with the rest of the payment flow: Stripe pays what the cards left, the admin
order page shows each instrument and refunds the one staff choose, and the split of an order
across cards follows its rules whatever the cards and total (Hypothesis)."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from catalog.tests import factories as f
from giftcards import selectors
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.models import Refund
from payments.providers import stripe as stripe_provider
from payments.services import handle_stripe_event, open_payment, pay_with_gift_cards, start_payment
from payments.tests.helpers import checkout_session_response, shopper_request
from payments.tests.stripe_fakes import FakeStripeHTTP, stripe_event, stripe_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def jacket(db):
    variant = f.VariantFactory(sku="JKT-G", price=Decimal("80.00"), product__title="Storm Jacket")
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=50)
    return variant


def place_with_cards(variant, cards, quantity: int = 1) -> Order:
    """An $80 x quantity order plus $4.95 shipping, placed the way checkout places it."""
    return place_order(
        lines=[PlacementLine(variant.pk, quantity)], email="ada@example.com", idempotency_key=uuid.uuid4().hex,
        shipping=ShippingChoice(name="Standard", price=Decimal("4.95")),
        on_placed=lambda order: open_payment(order=order, gift_cards=sum(
            (p.amount for p in pay_with_gift_cards(order=order, card_ids=[c.pk for c in cards], user=None)),
            Decimal("0"))),
    )


def test_stripe_pays_what_the_gift_card_left_and_the_order_is_paid(jacket, issue, monkeypatch, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    fake = FakeStripeHTTP()
    monkeypatch.setattr(stripe_provider, "http_client", fake)
    fake.answer("post", "/v1/checkout/sessions", checkout_session_response())
    card, _code = issue("30.00")
    order = place_with_cards(jacket, [card])
    start_payment(order=order, request=shopper_request())
    stripe_payment = order.payments.get(provider="stripe")
    assert stripe_payment.amount == Decimal("54.95")
    [sent] = fake.requests_to("post", "/v1/checkout/sessions")
    assert sent.params["line_items[0][price_data][unit_amount]"] == "5495"  # not the order's 84.95

    session = stripe_object("checkout.session", id=stripe_payment.provider_session_id, payment_status="paid",
                            status="complete", amount_total=5495, currency="usd", payment_intent="pi_test_gift")
    result = handle_stripe_event(event=stripe_event("checkout.session.completed", session))

    order.refresh_from_db()
    assert result == "paid" and order.payment_status == Order.PaymentStatus.PAID
    assert order.events.filter(kind="alert").count() == 0


def test_the_admin_order_page_shows_each_instrument_and_refunds_the_one_staff_choose(
        client, staff, jacket, issue):
    from payments.services import pay_with_demo_card

    card, _code = issue("30.00")
    order = place_with_cards(jacket, [card])
    demo = order.payments.get(provider="demo")
    pay_with_demo_card(payment_id=demo.pk, card_number="4242424242424242")
    client.force_login(staff)

    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Gift card" in page and "$30.00" in page and card.last4 in page and "$54.95" in page
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    form = client.get(refund_url).content.decode()
    assert form.index(f'value="{demo.pk}"') < form.index(f'value="{order.payments.get(provider="gift_card").pk}"')

    gift = order.payments.get(provider="gift_card")
    response = client.post(refund_url, {"payment": gift.pk, "amount": "10.00", "reason": "Goodwill"})

    assert response.status_code == 302, response.content.decode()[:3000]
    card.refresh_from_db()
    assert card.balance == Decimal("10.00")
    assert Refund.objects.get().payment == gift
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(balances=st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("150"), places=2),
                         min_size=1, max_size=4),
       quantity=st.integers(min_value=1, max_value=3))
def test_cards_pay_in_the_order_given_never_more_than_each_holds_or_the_order_costs(jacket, staff, balances,
                                                                                   quantity):
    from django.db import transaction

    from giftcards.services import issue_gift_card

    with transaction.atomic():
        cards = [issue_gift_card(amount=b, user=staff, reason="Property test")[0] for b in balances]
        order = place_with_cards(jacket, cards, quantity)
        taken = {p.provider_payment_id.split("-")[1]: p.amount
                 for p in order.payments.filter(provider="gift_card")}
        by_card = [taken.get(str(c.pk), Decimal("0")) for c in cards]
        card_payment = sum(order.payments.exclude(provider="gift_card").values_list("amount", flat=True))

        # Each card pays at most its balance; the cards pay at most the total; together with the card
        # payment they pay exactly the total; a card pays only once those before it are used up.
        assert all(Decimal("0") <= t <= b for t, b in zip(by_card, balances))
        assert sum(by_card) + card_payment == order.total
        for i, t in enumerate(by_card):
            if t and i:
                assert all(by_card[j] == balances[j] for j in range(i))
        expected_paid = sum(balances) >= order.total
        assert (order.payment_status == Order.PaymentStatus.PAID) == expected_paid
        assert (card_payment == 0) == expected_paid
        for c, t, b in zip(cards, by_card, balances):
            c.refresh_from_db()
            assert c.balance == b - t
        assert not selectors.ledger_mismatches().exists()
        transaction.set_rollback(True)


def test_the_daily_figures_count_only_the_money_that_came_in(jacket, issue, staff):
    from analytics.models import DailyMetric
    from analytics.services import rollup_day, store_today
    from payments.services import pay_with_demo_card, refund_payment

    card, _code = issue("30.00")
    order = place_with_cards(jacket, [card])
    pay_with_demo_card(payment_id=order.payments.get(provider="demo").pk, card_number="4242424242424242")
    refund_payment(payment_id=order.payments.get(provider="gift_card").pk, amount=Decimal("5.00"), user=staff)

    rollup_day(day=store_today())

    figures = dict(DailyMetric.objects.filter(channel="web").values_list("metric", "value"))
    assert figures["charged"] == Decimal("54.95")  # the demo card's; the gift card's money came in when it was sold
    assert figures["refunded"] == Decimal("0.00") and figures["net_sales"] == Decimal("54.95")
    assert figures["order_value"] == Decimal("84.95")
