"""Gift cards at checkout, driven as a browser submits the forms: part of an order paid by gift
cards and the rest by the demo card, an order the cards cover in full, the debit given back when
the order is never paid, refunds to the card, and a card bought as a product and emailed."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout.tests.conftest import address, fill_cart
from giftcards import codes, selectors
from giftcards.models import GiftCard, GiftCardTransaction
from giftcards.services import CODE_ATTEMPTS
from orders.models import Order
from orders.services import cancel_order, expire_unpaid_orders
from payments.models import Payment, Refund
from payments.services import refund_payment

pytestmark = pytest.mark.django_db
KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')
DEMO = "4242 4242 4242 4242"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def to_review(client, shipping) -> str:
    response = client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))
    assert response.status_code == 302 and response["Location"] == "/checkout/review/"
    return KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]


def to_digital_review(client) -> str:
    """The details step of a cart of gift cards only: an email, a name and a country."""
    response = client.post("/checkout/", {"email": "sam@example.com", "phone": "", "billing-name": "Sam Shopper",
                                          "billing-country": "US"})
    assert response.status_code == 302 and response["Location"] == "/checkout/review/"
    return KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]


def apply(client, code: str):
    response = client.post("/gift-cards/apply/", {"code": code})
    assert response.status_code == 302 and response["Location"] == "/checkout/review/"
    return response


def pay_demo(client, response, card: str = DEMO):
    assert response.status_code == 302 and response["Location"].startswith("/payments/demo/"), response
    return client.post(response["Location"], {"number": card, "expiry": "12/40", "cvc": "123", "name": "Sam"},
                       follow=True)


def test_part_paid_by_two_gift_cards_and_the_rest_by_the_demo_card(client, storefront_catalog, issue, checkout_rules,
                                                                   django_capture_on_commit_callbacks):
    ten, ten_code = issue("10.00")
    twenty, twenty_code = issue("20.00")
    fill_cart(client, ("LAMP-1", 2))  # 70.00 + 5.00 shipping
    to_review(client, checkout_rules)

    apply(client, ten_code.lower().replace("-", " "))  # as typed from a card: lower case, spaces
    apply(client, twenty_code)
    review = client.get("/checkout/review/").content.decode()
    assert "−$10.00" in review and "−$20.00" in review
    assert re.search(r'id="review-due">\$45.00<', review)
    key = KEY_INPUT.search(review)[1]

    placed = client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()
    demo = Payment.objects.get(order=order, provider="demo")
    assert (order.total, demo.amount, order.payment_status) == (Decimal("75.00"), Decimal("45.00"), "unpaid")
    assert selectors.SESSION_KEY not in client.session
    with django_capture_on_commit_callbacks(execute=True):
        final = pay_demo(client, placed)

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert final.redirect_chain[-1][0].endswith("/thanks/")
    ten.refresh_from_db(), twenty.refresh_from_db()
    assert (ten.balance, twenty.balance) == (Decimal("0.00"), Decimal("0.00"))
    assert set(GiftCardTransaction.objects.filter(kind="debit").values_list("order", "amount")) == {
        (order.pk, Decimal("-10.00")), (order.pk, Decimal("-20.00"))}
    # The order page and the "payment received" email name each instrument and amount.
    page = client.get(final.redirect_chain[-1][0].removesuffix("thanks/")).content.decode()
    instruments = re.search(r'id="order-instruments">(.*?)</dl>', page, re.S)[1]
    assert ten.display_code in instruments and twenty.display_code in instruments
    assert "Demo (test cards)" in instruments and "$45.00" in instruments and "$10.00" in instruments
    [received] = [m for m in mail.outbox if "Payment received" in m.subject or "payment" in m.subject.lower()]
    assert f"Gift card {twenty.display_code}: $20.00" in received.body and "Demo (test cards): $45.00" in received.body
    assert twenty.display_code in received.alternatives[0][0]


def test_an_order_the_gift_card_covers_needs_no_card_payment(client, storefront_catalog, issue, checkout_rules):
    card, code = issue("100.00")
    fill_cart(client, ("LAMP-1", 1))  # 35.00 + 5.00
    key = to_review(client, checkout_rules)
    apply(client, code)

    placed = client.post("/checkout/place/", {"idempotency_key": key})

    order = Order.objects.get()
    assert placed.status_code == 302 and placed["Location"].endswith("/thanks/")
    assert order.payment_status == Order.PaymentStatus.PAID
    assert list(order.payments.values_list("provider", "amount", "status")) == [
        ("gift_card", Decimal("40.00"), "succeeded")]
    card.refresh_from_db()
    assert card.balance == Decimal("60.00")
    # The same POST again: the same order, nothing taken twice.
    again = client.post("/checkout/place/", {"idempotency_key": key})
    assert again["Location"].endswith("/thanks/") and Order.objects.count() == 1
    card.refresh_from_db()
    assert card.balance == Decimal("60.00")


def test_wrong_codes_get_a_clear_message_and_are_rate_limited(client, storefront_catalog, issue, checkout_rules):
    card, code = issue("10.00")
    fill_cart(client, ("LAMP-1", 1))
    to_review(client, checkout_rules)

    first = apply(client, "NOT-A-CODE")
    assert messages_of(first) == ["We could not find a gift card with this code. Check it and try again."]
    for _ in range(CODE_ATTEMPTS - 1):
        apply(client, codes.new_code())
    blocked = apply(client, code)

    assert "Too many gift card codes tried" in messages_of(blocked)[-1]
    assert selectors.SESSION_KEY not in client.session


def test_an_unpaid_order_gives_the_gift_card_money_back_when_it_expires(client, storefront_catalog, issue,
                                                                        checkout_rules):
    card, code = issue("25.00")
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, checkout_rules)
    apply(client, code)
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()
    card.refresh_from_db()
    assert card.balance == Decimal("0.00")

    assert expire_unpaid_orders(now=timezone.now() + timedelta(days=1)) == 1

    order.refresh_from_db()
    card.refresh_from_db()
    assert order.fulfilment_status == Order.FulfilmentStatus.EXPIRED
    assert card.balance == Decimal("25.00")
    assert order.payments.get(provider="gift_card").status == Payment.Status.CANCELLED
    assert list(card.transactions.values_list("kind", "amount")) == [
        ("issue", Decimal("25.00")), ("debit", Decimal("-25.00")), ("release", Decimal("25.00"))]
    assert not selectors.ledger_mismatches().exists()
    # Running again gives nothing back twice.
    expire_unpaid_orders(now=timezone.now() + timedelta(days=2))
    card.refresh_from_db()
    assert card.balance == Decimal("25.00")


def test_cancelling_an_unpaid_order_gives_the_gift_card_money_back(client, storefront_catalog, issue, checkout_rules):
    card, code = issue("25.00")
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, checkout_rules)
    apply(client, code)
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()

    cancel_order(order_id=order.pk, actor="staff", reason="Customer asked")

    card.refresh_from_db()
    assert card.balance == Decimal("25.00")
    assert "given back to gift card" in order.events.filter(kind="payment").last().message


def test_refunds_go_to_the_card_payment_or_the_gift_card_as_staff_choose(client, storefront_catalog, issue,
                                                                         checkout_rules, staff):
    card, code = issue("30.00")
    fill_cart(client, ("LAMP-1", 2))  # 75.00: 30.00 gift card, 45.00 demo card
    key = to_review(client, checkout_rules)
    apply(client, code)
    pay_demo(client, client.post("/checkout/place/", {"idempotency_key": key}))
    order = Order.objects.get()
    by_card = order.payments.get(provider="demo")
    by_gift = order.payments.get(provider="gift_card")

    refund_payment(payment_id=by_card.pk, amount=Decimal("45.00"), user=staff, reason="Return")
    gift_refund = refund_payment(payment_id=by_gift.pk, amount=Decimal("12.50"), user=staff, reason="Return")

    card.refresh_from_db()
    order.refresh_from_db()
    assert card.balance == Decimal("12.50") and gift_refund.status == Refund.Status.SUCCEEDED
    assert card.transactions.get(kind="refund").refund == gift_refund
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    refund_payment(payment_id=by_gift.pk, amount=Decimal("17.50"), user=staff, reason="Return")
    order.refresh_from_db()
    card.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.REFUNDED and card.balance == Decimal("30.00")
    assert not selectors.ledger_mismatches().exists()


def test_a_gift_card_bought_is_created_on_payment_and_emailed_to_the_recipient(
        client, storefront_catalog, gift_card_product, checkout_rules, django_capture_on_commit_callbacks):
    fill_cart(client, (gift_card_product.variant.sku, 2))
    key = to_digital_review(client)
    review = client.get("/checkout/review/").content.decode()
    assert "Who gets the gift cards you are buying?" in review
    saved = client.post("/gift-cards/recipient/", {"email": "grace@example.com", "name": "Grace", "sender": "Sam",
                                                   "message": "Happy birthday!", "deliver_on": ""})
    assert saved.status_code == 302
    placed = client.post("/checkout/place/", {"idempotency_key": key})
    cards = list(GiftCard.objects.order_by("pk"))
    assert len(cards) == 2 and all(not c.is_active and c.balance == 0 for c in cards)

    with django_capture_on_commit_callbacks(execute=True):
        pay_demo(client, placed)

    emails = [m for m in mail.outbox if m.to == ["grace@example.com"]]
    assert len(emails) == 2 and "Happy birthday!" in emails[0].body and "Sam sent you" in emails[0].subject
    for card in cards:
        card.refresh_from_db()
        assert card.is_active and card.balance == Decimal("25.00") and card.delivered_at is not None
        assert card.expires_at is not None
    sent = [next(w for w in m.body.split() if codes.looks_like_code(w)) for m in emails]
    assert len(set(sent)) == 2
    assert not selectors.ledger_mismatches().exists()


def test_a_recipient_day_in_the_past_is_refused(client, storefront_catalog, gift_card_product, checkout_rules):
    fill_cart(client, (gift_card_product.variant.sku, 1))
    to_digital_review(client)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    response = client.post("/gift-cards/recipient/", {"email": "grace@example.com", "deliver_on": yesterday})

    assert "Deliver on: Choose today or a later day." in messages_of(response)
    assert selectors.RECIPIENT_SESSION_KEY not in client.session


def test_the_review_page_query_budget_with_gift_cards(client, storefront_catalog, issue, checkout_rules,
                                                      django_assert_max_num_queries):
    fill_cart(client, ("LAMP-1", 1))
    to_review(client, checkout_rules)
    client.get("/checkout/review/")
    with CaptureQueriesContext(connection) as without:
        client.get("/checkout/review/")
    baseline = len(without.captured_queries)  # (Django forgets them at the next request)
    for n in range(3):
        apply(client, issue("5.00")[1])
    client.get("/checkout/review/")  # the messages shown once

    # One query more for the cards, however many.
    with django_assert_max_num_queries(baseline + 1):
        response = client.get("/checkout/review/")
    assert response.content.decode().count("−$5.00") == 3


def test_the_account_lists_the_shoppers_cards_with_their_balances(client, issue, django_assert_max_num_queries):
    from customers.tests.helpers import verified_account

    user, _customer = verified_account("ada@example.com")
    mine, _code = issue("40.00", recipient_email="ADA@example.com")
    GiftCard.objects.filter(pk=mine.pk).update(code_hash="x" * 64, last4="AB23")
    used, _code = issue("15.00")
    GiftCard.objects.filter(pk=used.pk).update(redeemed_by=user)
    for n in range(3):
        issue("5.00")  # someone else's
    client.force_login(user)

    with django_assert_max_num_queries(12):
        response = client.get("/gift-cards/account/")

    text = response.content.decode()
    assert response.status_code == 200
    assert "AB23" in text and "$40.00" in text and "$15.00" in text and text.count("gift-card-row") == 2
    assert client.get("/gift-cards/account/").status_code == 200
    client.logout()
    assert client.get("/gift-cards/account/").status_code == 302  # sign in first


def test_a_gift_card_bought_without_choosing_a_recipient_goes_to_the_order_email(
        client, storefront_catalog, gift_card_product, checkout_rules, django_capture_on_commit_callbacks):
    fill_cart(client, (gift_card_product.variant.sku, 1))
    key = to_digital_review(client)
    placed = client.post("/checkout/place/", {"idempotency_key": key})
    assert not GiftCard.objects.exists()  # made when the order is paid

    with django_capture_on_commit_callbacks(execute=True):
        pay_demo(client, placed)

    card = GiftCard.objects.get()
    [email] = [m for m in mail.outbox if m.to == ["sam@example.com"] and "gift card" in m.subject]
    assert card.is_active and card.balance == Decimal("25.00") and card.recipient_email == "sam@example.com"
    assert card.display_code[-4:] in email.body


def test_the_code_box_posts_stay_within_their_query_budgets(client, storefront_catalog, issue, checkout_rules,
                                                            django_assert_max_num_queries):
    card, code = issue("10.00")
    fill_cart(client, ("LAMP-1", 1))
    to_review(client, checkout_rules)

    with django_assert_max_num_queries(5):  # the session, the card by its hash, the session saved
        apply(client, code)
    with django_assert_max_num_queries(4):  # the session read and saved (in a savepoint)
        client.post(f"/gift-cards/remove/{card.pk}/")
    with django_assert_max_num_queries(4):  # the session read and saved (in a savepoint)
        client.post("/gift-cards/recipient/", {"email": "grace@example.com"})
    assert client.session[selectors.RECIPIENT_SESSION_KEY]["email"] == "grace@example.com"


def test_the_demo_gift_cards_can_be_bought(client, storefront_catalog, checkout_rules):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seed_demo_gift_cards", stdout=out)
    call_command("seed_demo_gift_cards", stdout=out)  # idempotent
    assert out.getvalue().splitlines() == ["Demo gift cards: 3 products created.", "Demo gift cards: 0 products created."]
    from inventory.selectors import ledger_discrepancies

    assert list(ledger_discrepancies()) == []  # their stock is in the ledger (check_stock_ledger passes)

    fill_cart(client, ("GIFT-50", 1))
    key = to_digital_review(client)
    assert "Who gets the gift cards you are buying?" in client.get("/checkout/review/").content.decode()
    pay_demo(client, client.post("/checkout/place/", {"idempotency_key": key}))
    assert GiftCard.objects.get().balance == Decimal("50.00")


def test_an_unpaid_order_part_paid_by_gift_card_offers_pay_now_for_the_rest(client, storefront_catalog, issue,
                                                                           checkout_rules):
    from orders.links import signed_order_url

    card, code = issue("25.00")
    fill_cart(client, ("LAMP-1", 1))  # 40.00
    key = to_review(client, checkout_rules)
    apply(client, code)
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()

    page = client.get(signed_order_url(order)).content.decode()

    assert "Pay now" in page and "checking it" not in page and "do not pay again" not in page
    pay_now = re.search(r'<form[^>]+action="([^"]+)"[^>]*>\s*<input[^>]+csrfmiddlewaretoken[^>]*>\s*'
                        r'<button[^>]*>Pay now', page)
    assert pay_now, page[:3000]
    response = client.post(pay_now[1])
    assert response["Location"].startswith("/payments/demo/")
    assert list(order.payments.filter(provider="demo").values_list("amount", flat=True)) == [Decimal("15.00")]


def _confirmation(order):
    from notifications.services import send_order_email

    send_order_email(order_id=order.pk, kind="confirmation")  # (after commit, which these tests never reach)
    [email] = [m for m in mail.outbox if m.subject.startswith("Thank you for your order")]
    return email.body, email.alternatives[0][0]


def test_the_confirmation_email_says_what_the_gift_card_paid_and_what_is_left(client, storefront_catalog, issue,
                                                                              checkout_rules):
    card, code = issue("25.00")
    fill_cart(client, ("LAMP-1", 1))  # 35.00 + 5.00
    key = to_review(client, checkout_rules)
    apply(client, code)
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()
    assert order.paid_at is None

    text, html = _confirmation(order)

    for body in (text, html):
        assert "Paid by gift card: $25.00. Left to pay: $15.00." in body
        assert "not paid yet" not in body and "nothing was charged" not in body
        assert "the gift card amount goes back to the card" in body
    assert f"Gift card {card.display_code}: $25.00" in text  # the summary's "Paid with"


def test_the_confirmation_email_of_an_order_the_gift_card_covers_says_nothing_about_paying(
        client, storefront_catalog, issue, checkout_rules):
    card, code = issue("100.00")
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, checkout_rules)
    apply(client, code)
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()

    text, html = _confirmation(order)

    for body in (text, html):
        assert "not paid" not in body and "nothing was charged" not in body and "Left to pay" not in body
        assert "as soon as your payment is confirmed" not in body
        assert "We have received it and your payment" in body
    assert f"Gift card {card.display_code}: $40.00" in text
