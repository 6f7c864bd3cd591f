"""A cart of gift cards (digital products) checks out without a shipping address, a delivery
method or stock; a mixed cart asks for shipping, priced on the shipped goods only. Driven as a
browser submits the pages (django-webtest: the rendered forms followed, filled and submitted, CSRF
checked), no JavaScript."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core import mail
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from django.utils import timezone

from catalog.models import StockLevel
from giftcards import codes, selectors
from giftcards.models import GiftCard, GiftCardProduct
from giftcards.services import deliver_due_gift_cards
from orders.models import Allocation, Order, OrderLine, Shipment
from orders.services import ShipmentRequest, create_shipment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
F = Order.FulfilmentStatus


@pytest.fixture
def unstocked_gift_card(storefront_catalog):
    """A $100 gift card product with no stock row at all: it needs none."""
    from catalog.tests import factories as f

    product = f.ProductFactory(title="Gift card $100", slug="gift-card-100", category=storefront_catalog.gear)
    variant = f.VariantFactory(product=product, sku="GIFT-100", price=Decimal("100.00"))
    GiftCardProduct.objects.create(product=product, valid_months=12)
    return SimpleNamespace(product=product, variant=variant)


def shown(page, element_id: str) -> str:
    """The text of the element with `element_id`, as a person reads it."""
    return re.search(rf'id="{element_id}">([^<]*)<', page.text)[1].strip()


def add_from_product_page(app, slug: str, quantity: int = 1):
    page = app.get(f"/p/{slug}/")
    form = next(form for form in page.forms.values() if form.action.endswith("/cart/add/"))
    form["quantity"] = str(quantity)
    return form.submit().follow()


def details_form(app):
    page = app.get("/checkout/")
    return page, next(form for form in page.forms.values() if form.action.endswith("/checkout/"))


def review_form(page, action: str):
    return next(form for form in page.forms.values() if form.action.endswith(action))


def pay_on_demo_page(response):
    page = response.follow()
    form = next(form for form in page.forms.values() if "number" in form.fields)
    form["number"], form["expiry"], form["cvc"], form["name"] = "4242 4242 4242 4242", "12/40", "123", "Sam"
    return form.submit()


def test_a_cart_of_gift_cards_checks_out_without_shipping_and_is_fulfilled_when_paid(
        django_app, unstocked_gift_card, checkout_rules, django_capture_on_commit_callbacks):
    # given: a gift card without any stock, bought from its product page
    cart = add_from_product_page(django_app, "gift-card-100", quantity=2)
    assert "Gift card $100" in cart.text and "out of stock" not in cart.text.lower()
    assert not StockLevel.objects.filter(variant=unstocked_gift_card.variant).exists()

    # when: the details step asks only for contact, name and country
    page, form = details_form(django_app)
    assert "Billing details" in page.text and "Gift cards are emailed" in page.text
    assert not any((name or "").startswith("shipping-") for name in form.fields) and "delivery" not in form.fields
    form["email"] = "sam@example.com"
    form["billing-name"] = "Sam Shopper"
    form["billing-country"] = "US"
    review = form.submit().follow()

    # then: the review shows no shipping, the total is the cards' price alone
    assert review.request.path == "/checkout/review/"
    assert 'id="review-shipping"' not in review.text and 'id="review-digital"' in review.text
    assert shown(review, "review-total") == "$200.00"
    day = timezone.localdate() + timedelta(days=3)
    recipient = review_form(review, "/gift-cards/recipient/")
    recipient["email"], recipient["name"], recipient["message"] = "grace@example.com", "Grace", "Happy birthday!"
    recipient["deliver_on"] = day.isoformat()
    review = recipient.submit().follow()
    assert "Sent to grace@example.com" in review.text
    placed = review_form(review, "/checkout/place/").submit()

    order = Order.objects.get()
    assert (order.total, order.shipping_total, order.shipping_address) == (Decimal("200.00"), Decimal("0.00"), {})
    assert order.billing_address["country"] == "US" and order.customer_name == "Sam Shopper"
    assert not Allocation.objects.filter(line__order=order).exists()  # nothing reserved
    with django_capture_on_commit_callbacks(execute=True):
        thanks = pay_on_demo_page(placed).maybe_follow()
    assert "Thank you" in thanks.text

    order.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (Order.PaymentStatus.PAID, F.FULFILLED)
    assert not Shipment.objects.filter(order=order).exists()
    assert list(order.lines.values_list("quantity", "quantity_fulfilled")) == [(2, 2)]
    assert order.events.filter(kind="status", state="fulfilment", to_status=F.FULFILLED).exists()
    cards = list(GiftCard.objects.filter(order=order))
    assert len(cards) == 2 and all(c.is_active and c.balance == Decimal("100.00") for c in cards)
    # issued now, emailed on the chosen day (the beat job), not before
    assert not [m for m in mail.outbox if m.to == ["grace@example.com"]]
    assert deliver_due_gift_cards() == 0
    morning = timezone.make_aware(datetime.combine(day, time(8)))
    assert deliver_due_gift_cards(now=morning) == 2
    sent = [m for m in mail.outbox if m.to == ["grace@example.com"]]
    assert len(sent) == 2 and all(codes.looks_like_code(next(w for w in m.body.split() if codes.looks_like_code(w)))
                                  for m in sent)
    assert not selectors.ledger_mismatches().exists()


def test_the_details_step_of_a_gift_card_cart_says_what_is_missing_and_saves_nothing(
        django_app, unstocked_gift_card, checkout_rules):
    add_from_product_page(django_app, "gift-card-100")
    _page, form = details_form(django_app)
    form["email"] = "not an email"
    form["billing-name"] = ""

    page = form.submit()

    assert page.status_code == 200 and "Enter a valid email address." in page.text
    assert "This field is required." in page.text
    assert "checkout" not in django_app.session


def test_a_mixed_cart_ships_the_goods_only_and_the_gift_card_never_changes_the_shipping_price(
        django_app, storefront_catalog, unstocked_gift_card, checkout_rules, django_capture_on_commit_callbacks):
    # A $35 lamp and a $100 gift card: Standard is free from $100, but the lamp alone is $35.
    add_from_product_page(django_app, "camp-lamp")
    add_from_product_page(django_app, "gift-card-100")
    page, form = details_form(django_app)
    assert "shipping-line1" in form.fields and "Shipping address" in page.text
    standard = f"method:{checkout_rules.standard.pk}"
    form["email"] = "sam@example.com"
    for name, value in {"shipping-name": "Sam Shopper", "shipping-line1": "1 Main St", "shipping-city": "Springfield",
                        "shipping-region": "IL", "shipping-postal_code": "62701", "shipping-country": "US"}.items():
        form[name] = value
    form["delivery"] = standard
    review = form.submit().follow()
    assert (shown(review, "review-shipping"), shown(review, "review-total")) == ("$5.00", "$140.00")
    placed = review_form(review, "/checkout/place/").submit()

    order = Order.objects.get()
    assert (order.shipping_total, order.total) == (Decimal("5.00"), Decimal("140.00"))
    lamp = order.lines.get(sku="LAMP-1")
    gift = order.lines.get(sku="GIFT-100")
    assert Allocation.objects.filter(line=lamp).exists() and not Allocation.objects.filter(line=gift).exists()
    with django_capture_on_commit_callbacks(execute=True):
        pay_on_demo_page(placed)

    order.refresh_from_db()
    gift.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (Order.PaymentStatus.PAID, F.PARTIALLY_FULFILLED)
    assert gift.quantity_fulfilled == 1
    # the card went to the order's email, now (no recipient chosen)
    assert GiftCard.objects.get(order=order).delivered_at is not None
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={lamp.pk: 1}))
    order.refresh_from_db()
    assert order.fulfilment_status == F.FULFILLED
    assert list(Shipment.objects.get(order=order).lines.values_list("line_id", flat=True)) == [lamp.pk]


def test_shipping_bands_and_free_thresholds_count_only_the_shipped_goods(storefront_catalog, unstocked_gift_card,
                                                                          checkout_rules):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    from carts.selectors import cart_contents
    from carts.services import add_to_cart
    from catalog.models import Variant
    from checkout.services import shipping_options

    shopper = {"user": AnonymousUser(), "session": SessionStore()}
    add_to_cart(**shopper, variant_id=Variant.objects.get(sku="LAMP-1").pk, quantity=1)
    add_to_cart(**shopper, variant_id=unstocked_gift_card.variant.pk, quantity=3)  # no stock row: allowed

    cart = cart_contents(**shopper)

    assert (cart.subtotal, cart.shippable_subtotal) == (Decimal("335.00"), Decimal("35.00"))
    assert cart.ready_for_checkout and not cart.digital_only
    prices = {option.name: option.price for option in shipping_options(cart=cart, country="US")}
    # Standard: free from $100 (not reached by $35 of goods); Banded: $6 up to $50 of goods.
    assert prices["Standard"] == Decimal("5.00") and prices["Banded"] == Decimal("6.00")


def test_details_saved_for_gift_cards_no_longer_fit_a_cart_that_now_holds_goods(
        django_app, storefront_catalog, unstocked_gift_card, checkout_rules):
    add_from_product_page(django_app, "gift-card-100")
    _page, form = details_form(django_app)
    form["email"], form["billing-name"], form["billing-country"] = "sam@example.com", "Sam", "US"
    form.submit().follow()
    add_from_product_page(django_app, "camp-lamp")

    response = django_app.get("/checkout/review/")

    assert response.status_code == 302 and response["Location"] == "/checkout/"
    page = response.follow()
    assert "shipping-line1" in next(f for f in page.forms.values() if f.action.endswith("/checkout/")).fields


def test_the_gift_card_checkout_pages_stay_within_their_query_budgets(
        django_app, unstocked_gift_card, checkout_rules, django_assert_max_num_queries):
    add_from_product_page(django_app, "gift-card-100")
    _page, form = details_form(django_app)
    form["email"], form["billing-name"], form["billing-country"] = "sam@example.com", "Sam", "US"
    form.submit()
    django_app.get("/checkout/review/")

    # No shipping zones, pick-up shops or stock are read for a cart of gift cards.
    with django_assert_max_num_queries(3):  # the session, the cart's lines, their options
        django_app.get("/checkout/")
    with django_assert_max_num_queries(4):  # and the tax rates: no zone, method, pick-up or stock read
        review = django_app.get("/checkout/review/")
    assert "Who gets the gift cards you are buying?" in review.text
    # Placing reads and locks no stock row: 17 (a cart of goods: 24, checkout/tests/test_query_budgets.py),
    # and one more here only: the chat conversation of this browser that the order is attributed
    # to, read after the response in a web process (chat/attribution.py), here where it is called.
    with django_assert_max_num_queries(18):
        placed = review_form(review, "/checkout/place/").submit()
    assert placed.status_code == 302 and Order.objects.get().lines.get().quantity == 1


def test_confirming_a_paid_order_twice_fulfils_its_gift_card_lines_once(unstocked_gift_card):
    from orders.services import PlacementLine, ShippingChoice, confirm_payment, place_order

    order = place_order(lines=[PlacementLine(unstocked_gift_card.variant.pk, 1)], email="sam@example.com",
                        idempotency_key="gift-only-1", shipping=ShippingChoice(name="", price=Decimal("0")))
    for _ in range(2):
        confirm_payment(order_id=order.pk, amount=order.total, actor="system")

    order.refresh_from_db()
    assert order.fulfilment_status == F.FULFILLED
    assert order.events.filter(kind="status", state="fulfilment").count() == 1
    assert OrderLine.objects.get(order=order).quantity_fulfilled == 1


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lamps=st.integers(min_value=0, max_value=4), cards=st.integers(min_value=0, max_value=4),
       price=st.decimals(min_value=Decimal("5.00"), max_value=Decimal("150.00"), places=2),
       weight=st.decimals(min_value=Decimal("0"), max_value=Decimal("3"), places=1))
def test_gift_cards_never_change_what_shipping_costs_nor_what_is_reserved(storefront_catalog, unstocked_gift_card,
                                                                          checkout_rules, lamps, cards, price, weight):
    """Whatever the cart: its delivery options are priced as for its goods alone, a cart of gift
    cards only has the one free "digital" option, and placing it reserves the goods only."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction

    from carts.selectors import cart_contents
    from carts.services import add_to_cart
    from catalog.models import Variant
    from checkout.services import DIGITAL, shipping_options
    from orders.services import PlacementLine, ShippingChoice, place_order

    if not lamps and not cards:
        return
    lamp = Variant.objects.get(sku="LAMP-1")
    with transaction.atomic():
        Variant.objects.filter(pk=unstocked_gift_card.variant.pk).update(price=price, weight=weight)
        Variant.objects.filter(pk=lamp.pk).update(weight=Decimal("0.8"))
        both, goods = ({"user": AnonymousUser(), "session": SessionStore()} for _ in range(2))
        for shopper, with_cards in ((both, True), (goods, False)):
            if lamps:
                add_to_cart(**shopper, variant_id=lamp.pk, quantity=lamps)
            if cards and with_cards:
                add_to_cart(**shopper, variant_id=unstocked_gift_card.variant.pk, quantity=cards)
        options = shipping_options(cart=cart_contents(**both), country="US")
        if lamps:
            assert [(o.key, o.price) for o in options] == [
                (o.key, o.price) for o in shipping_options(cart=cart_contents(**goods), country="US")]
        else:
            assert [(o.key, o.kind, o.price) for o in options] == [(DIGITAL, DIGITAL, Decimal("0.00"))]
        lines = [PlacementLine(v, q) for v, q in ((lamp.pk, lamps), (unstocked_gift_card.variant.pk, cards)) if q]
        order = place_order(lines=lines, email="sam@example.com", idempotency_key=f"prop-{lamps}-{cards}-{price}",
                            shipping=ShippingChoice(name="Standard", price=options[0].price))
        reserved = sum(Allocation.objects.filter(line__order=order).values_list("quantity", flat=True))
        assert reserved == lamps
        transaction.set_rollback(True)
