"""Returns of orders whose promotions are earned by the rest of the cart (buy X get Y, a free gift,
a minimum): what the customer keeps must cost what the order's promotions charge for it, so the
refund is reduced by what the kept items no longer earn; never negative, never more than paid,
and every unit back gives back exactly what was paid (docs/decisions.md, "Returns of promotions")."""
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django.test import Client

from catalog.tests import factories as f
from orders import links
from orders.models import OrderEvent
from orders.refund_shares import return_due, worth_of_returns
from orders.services import PlacementLine, ShipmentRequest, create_shipment, place_order
from orders.services.placement import priced_line
from payments.models import Refund
from promotions import engine
from promotions.models import Promotion
from promotions.repricing import replay
from promotions.selectors import Shopper
from promotions.services import discounter_for
from promotions.tests.factories import PromotionFactory

from .test_admin import ADDRESS, DELIVERY, paid_by_card, url

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
CENT = Decimal("0.01")


# --- The rule on orders built from the engine's own answer (no database) ----------------------------


def build(cart: list[tuple[int, Decimal, int, Decimal]], offers: list[engine.Offer], *, included: bool):
    """An order of `cart` ((product id, unit price, quantity, tax rate) per line) priced by the engine
    with `offers` as checkout records it, and the replay the refund rule uses (None: shares)."""
    facts = {n + 1: engine.Line(key=100 + n, product_id=product, unit_price=price, quantity=quantity)
             for n, (product, price, quantity, _rate) in enumerate(cart)}
    context = engine.Context(now=NOW)
    result = engine.apply(lines=list(facts.values()), offers=offers, context=context)
    lines = []
    for n, (product, price, quantity, rate) in enumerate(cart):
        discount = result.line_discounts[100 + n]
        lines.append(SimpleNamespace(
            pk=n + 1, unit_price=price, quantity=quantity, tax_rate=rate, discount_total=discount,
            line_total=priced_line(price, quantity, rate, included=included, discount=discount)[2],
            quantity_returned=0, discounts=[]))
    applied = [offer for offer in offers if offer.id in {a.offer_id for a in result.applied}]
    order = SimpleNamespace(currency="USD", prices_include_tax=included)
    reprice = replay(facts, applied, context, {line.pk: line.discount_total for line in lines})
    return order, lines, reprice


def return_in_steps(order, lines, reprice, steps: list[dict[int, int]]) -> list[Decimal]:
    """Each step's due, as `record_return` computes it, the earlier dues in all given back."""
    dues: list[Decimal] = []
    for step in steps:
        due, _shares, _lost = return_due(order, lines, step, reprice=reprice, due_before=sum(dues, Decimal(0)))
        dues.append(due)
        for line in lines:
            line.quantity_returned += step.get(line.pk, 0)
    return dues


def three_for_two(*products: int, value: Decimal = Decimal(100), **fields) -> engine.Offer:
    return engine.Offer(id=1, name="3 for 2", reward=engine.BUY_X_GET_Y, value=value, buy_quantity=2, get_quantity=1,
                        product_ids=frozenset(products), combines_with=frozenset({engine.PRODUCT}), **fields)


def test_buy_2_get_1_returning_one_paid_item_refunds_less_what_the_free_item_no_longer_earns():
    # Two $30 shirts and a $20 shirt free: $60 paid.
    order, lines, reprice = build([(1, Decimal("30.00"), 2, Decimal(0)), (1, Decimal("20.00"), 1, Decimal(0))],
                                  [three_for_two(1)], included=True)
    assert [line.line_total for line in lines] == [Decimal("60.00"), Decimal("0.00")]
    due, shares, lost = return_due(order, lines, {1: 1}, reprice=reprice, due_before=Decimal(0))
    # The $30 paid shirt less the $20 the free one no longer earns: keeping $50 of shirts for $50.
    assert (due, shares, lost) == (Decimal("10.00"), Decimal("30.00"), ("3 for 2",))


def test_returning_the_free_item_of_a_buy_2_get_1_gives_nothing_back_and_the_rest_gives_back_all():
    order, lines, reprice = build([(1, Decimal("20.00"), 3, Decimal(0))], [three_for_two(1)], included=True)
    assert lines[0].line_total == Decimal("40.00")
    assert return_in_steps(order, lines, reprice, [{1: 1}, {1: 1}, {1: 1}]) == [
        Decimal("0.00"), Decimal("20.00"), Decimal("20.00")]  # 2 kept cost 40, 1 costs 20, none 0


def test_a_free_gift_returned_gives_nothing_and_its_qualifying_item_returned_alone_charges_the_gift():
    shirt_and_gift = [(1, Decimal("50.00"), 1, Decimal(0)), (2, Decimal("10.00"), 1, Decimal(0))]
    gift = engine.Offer(id=2, name="Free mug with a shirt", reward=engine.FREE_GIFT, gift_variant_id=101,
                        product_ids=frozenset({1}), combines_with=frozenset({engine.PRODUCT}))
    order, lines, reprice = build(shirt_and_gift, [gift], included=True)
    assert sum(line.line_total for line in lines) == Decimal("50.00")
    assert return_due(order, lines, {2: 1}, reprice=reprice, due_before=Decimal(0))[0] == Decimal("0.00")

    order, lines, reprice = build(shirt_and_gift, [gift], included=True)
    due, shares, lost = return_due(order, lines, {1: 1}, reprice=reprice, due_before=Decimal(0))
    assert (due, shares, lost) == (Decimal("40.00"), Decimal("50.00"), ("Free mug with a shirt",))


def test_tax_added_on_top_follows_the_price_the_kept_items_now_cost():
    # 3 × $20 + 10% tax, one free: $40 + $4 tax = $44 paid. Returning one leaves $40 + $4: nothing back.
    order, lines, reprice = build([(1, Decimal("20.00"), 3, Decimal(10))], [three_for_two(1)], included=False)
    assert lines[0].line_total == Decimal("44.00")
    assert return_in_steps(order, lines, reprice, [{1: 1}, {1: 2}]) == [Decimal("0.00"), Decimal("44.00")]


def test_promotions_that_do_not_depend_on_the_cart_keep_each_units_share():
    percent = engine.Offer(id=3, name="15% off", reward=engine.PERCENT_LINES, value=Decimal(15))
    order, lines, reprice = build([(1, Decimal("20.00"), 3, Decimal(0))], [percent], included=True)
    assert reprice is None
    assert return_in_steps(order, lines, reprice, [{1: 1}, {1: 2}]) == [Decimal("17.00"), Decimal("34.00")]


def test_a_replay_that_does_not_give_the_recorded_discounts_falls_back_to_the_shares():
    order, lines, _ = build([(1, Decimal("20.00"), 3, Decimal(0))], [three_for_two(1)], included=True)
    facts = {1: engine.Line(key=100, product_id=1, unit_price=Decimal("20.00"), quantity=3)}
    # The promotion edited since (now a 50% third item): its replay says $10, $20 was recorded.
    assert replay(facts, [three_for_two(1, value=Decimal(50))], engine.Context(now=NOW), {1: Decimal("20.00")}) is None


@st.composite
def orders_and_returns(draw):
    lines = draw(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 200_00).map(lambda c: Decimal(c) / 100),
                                    st.integers(1, 5), st.sampled_from([Decimal(0), Decimal("7.7"), Decimal(20)])),
                          min_size=1, max_size=4))
    everything = frozenset({engine.PRODUCT, engine.ORDER})
    choices = [
        three_for_two(*draw(st.sets(st.integers(1, 3), min_size=1)), value=draw(st.sampled_from([Decimal(100), Decimal(50)])),
                      max_applications=draw(st.none() | st.integers(1, 3))),
        engine.Offer(id=2, name="Gift", reward=engine.FREE_GIFT, gift_variant_id=100 + draw(st.integers(0, len(lines) - 1)),
                     product_ids=frozenset({draw(st.integers(1, 3))}), combines_with=everything),
        engine.Offer(id=3, name="10% off 3+", reward=engine.PERCENT_LINES, value=Decimal(10), min_quantity=3,
                     combines_with=everything),
        engine.Offer(id=4, name="$15 off $100", reward=engine.FIXED_ORDER, value=Decimal(15),
                     min_subtotal=Decimal(100), combines_with=everything),
        engine.Offer(id=5, name="5% off", reward=engine.PERCENT_LINES, value=Decimal(5), combines_with=everything),
    ]
    offers = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=5, unique_by=lambda o: o.id))
    # Every unit comes back, in random steps (a step takes some units of some lines).
    units = [n + 1 for n, (_p, _price, quantity, _rate) in enumerate(lines) for _ in range(quantity)]
    units = draw(st.permutations(units))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(units) - 1, 1)), max_size=len(units))))
    steps = []
    for start, end in zip([0, *cuts], [*cuts, len(units)]):
        step: dict[int, int] = {}
        for pk in units[start:end]:
            step[pk] = step.get(pk, 0) + 1
        if step:
            steps.append(step)
    return lines, offers, draw(st.booleans()), steps


@settings(max_examples=300, deadline=None)
@given(orders_and_returns())
def test_refunds_of_any_return_sequence_never_go_negative_nor_past_what_was_paid_and_add_up_to_it(case):
    cart, offers, included, steps = case
    order, lines, reprice = build(cart, offers, included=included)
    paid = sum((line.line_total for line in lines), Decimal(0))
    dues = return_in_steps(order, lines, reprice, steps)
    refunded = Decimal(0)
    for due in dues:
        assert due >= 0 and due == due.quantize(CENT)
        refunded += due
        assert refunded <= paid
    assert refunded == paid  # every unit back: exactly what was paid, to the cent
    # and all returns together are worth exactly that too (what the refund form proposes from)
    assert worth_of_returns(order, lines, {line.pk: line.quantity for line in lines}, reprice=reprice) == paid


# --- Through the store: a real promotion, checkout's pricing, the back office's forms ---------------


@pytest.fixture
def three_for_two_order(db, django_capture_on_commit_callbacks):
    """3 shirts at $20 under a real "3 for 2" promotion, placed as checkout places it, paid, shipped."""
    shirt = f.VariantFactory(sku="SHIRT-M", price=Decimal("20.00"), product__title="Oxford shirt")
    f.StockLevelFactory(variant=shirt, location=f.LocationFactory(code="warehouse"), on_hand=10)
    PromotionFactory(name="3 for 2", reward=Promotion.Reward.BUY_X_GET_Y, buy_quantity=2, get_quantity=1,
                     value=Decimal(100)).products.add(shirt.product)
    order = place_order(lines=[PlacementLine(shirt.pk, 3)], email="ada@example.com", customer_name="Ada",
                        idempotency_key=uuid.uuid4().hex, shipping=DELIVERY, shipping_address=ADDRESS,
                        discounter=discounter_for(shopper=Shopper(email="ada@example.com"), code="",
                                                  shipping=DELIVERY.price))
    order = paid_by_card(order)
    line = order.lines.get()
    assert (line.line_total, line.discount_total) == (Decimal("40.00"), Decimal("20.00"))
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={line.pk: 3}))
    return order


def _return(admin_app, order, units: int):
    form = admin_app.get(url("return", order)).forms["return-form"]
    form[f"line_{order.lines.get().pk}"] = str(units)
    assert form.submit().status_code == 302


def _refund_proposed(admin_app, order) -> Decimal:
    return Decimal(admin_app.get(url("refund", order)).forms["refund-form"]["amount"].value)


def test_staff_returning_part_of_a_buy_2_get_1_are_proposed_the_reduced_refund_and_all_of_it_in_the_end(
        admin_app, three_for_two_order):
    order = three_for_two_order
    # one shirt back: the two kept cost $40 under "3 for 2", as much as was paid: nothing due
    _return(admin_app, order, 1)
    event = order.events.get(kind=OrderEvent.Kind.RETURN)
    assert event.data["refund_due"] == "0.00"
    assert "less what 3 for 2 no longer gives the items kept" in event.message
    # so the refund form proposes no amount at all (not its usual default, the whole payment), and says why
    refund_page = admin_app.get(url("refund", order))
    assert refund_page.forms["refund-form"]["amount"].value == ""
    assert "Nothing is due for the returned items" in refund_page.text
    # and the shopper's order page says why, instead of the line's share ($13.33)
    shopper = Client().get(links.signed_order_url(order)).text
    assert ("The items returned are worth $0.00 back in all, not the $13.34 they cost: the items kept no longer "
            "qualify for the whole promotion") in shopper
    assert "Worth $13.34 back" not in shopper

    # the other two back: $40, proposed and refunded through the form as staff submit it
    _return(admin_app, order, 2)
    assert _refund_proposed(admin_app, order) == Decimal("40.00")
    form = admin_app.get(url("refund", order)).forms["refund-form"]
    form["reason"] = "Returned"
    assert form.submit().status_code == 302
    assert sum(Refund.objects.filter(payment__order=order).values_list("amount", flat=True)) == Decimal("40.00")
    dues = [Decimal(e.data["refund_due"]) for e in order.events.filter(kind=OrderEvent.Kind.RETURN)]
    assert sum(dues) == Decimal("40.00")  # what was paid for the shirts, never the $60 shelf price
