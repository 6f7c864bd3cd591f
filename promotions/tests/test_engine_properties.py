"""Hypothesis over random carts and promotion sets: the engine's promises hold for any input."""
from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from promotions import engine
from promotions.engine import Context, Line, Offer

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
KINDS = [engine.PRODUCT, engine.ORDER, engine.SHIPPING]

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("500.00"), places=2)
percent = st.decimals(min_value=Decimal("0"), max_value=Decimal("120"), places=2)


@st.composite
def lines(draw):
    count = draw(st.integers(min_value=1, max_value=6))
    return [
        Line(key=key, product_id=draw(st.integers(1, 4)), unit_price=draw(money), quantity=draw(st.integers(1, 7)),
             category_ids=frozenset(draw(st.sets(st.integers(1, 3), max_size=2))),
             brand_id=draw(st.none() | st.integers(1, 2)), on_sale=draw(st.booleans()))
        for key in range(1, count + 1)
    ]


@st.composite
def offers(draw):
    count = draw(st.integers(min_value=0, max_value=6))
    result = []
    for pk in range(1, count + 1):
        reward = draw(st.sampled_from(sorted(engine.KIND)))
        result.append(Offer(
            id=pk, name=f"Offer {pk}", reward=reward,
            value=draw(percent if reward in (engine.PERCENT_LINES, engine.PERCENT_ORDER, engine.BUY_X_GET_Y,
                                             engine.FREE_SHIPPING) else money),
            priority=draw(st.integers(0, 3)),
            combines_with=frozenset(draw(st.sets(st.sampled_from(KINDS)))),
            product_ids=frozenset(draw(st.sets(st.integers(1, 4), max_size=2))),
            category_ids=frozenset(draw(st.sets(st.integers(1, 3), max_size=1))),
            exclude_sale_items=draw(st.booleans()),
            min_subtotal=draw(st.none() | money),
            buy_quantity=draw(st.integers(0, 3)), get_quantity=draw(st.integers(0, 2)),
            max_applications=draw(st.none() | st.integers(0, 3)),
            gift_variant_id=draw(st.none() | st.integers(1, 6)),
            remaining_budget=draw(st.none() | money),
        ))
    return result


def context(shipping):
    return Context(now=NOW, shipping=shipping)


@settings(max_examples=300, deadline=None)
@given(cart=lines(), promotions=offers(), shipping=money)
def test_no_total_line_or_shipping_is_ever_negative(cart, promotions, shipping):
    result = engine.apply(lines=cart, offers=promotions, context=context(shipping))
    assert result.total >= 0
    assert result.shipping_discount <= shipping
    for item in cart:
        assert 0 <= result.line_discounts[item.key] <= item.unit_price * item.quantity


@settings(max_examples=300, deadline=None)
@given(cart=lines(), promotions=offers(), shipping=money)
def test_line_discounts_add_up_to_each_offer_and_to_the_order_discount_to_the_cent(cart, promotions, shipping):
    result = engine.apply(lines=cart, offers=promotions, context=context(shipping))
    for applied in result.applied:
        assert sum(applied.lines.values(), Decimal(0)) + applied.shipping == applied.amount
        assert applied.amount == applied.amount.quantize(Decimal("0.01"))
        assert all(share > 0 for share in applied.lines.values())
    assert result.discount_total == sum((a.amount for a in result.applied), Decimal(0))
    assert result.items_discount == sum(sum(a.lines.values(), Decimal(0)) for a in result.applied)
    for applied in result.applied:
        budget = next(o.remaining_budget for o in promotions if o.id == applied.offer_id)
        assert budget is None or applied.amount <= budget


@settings(max_examples=200, deadline=None)
@given(cart=lines(), promotions=offers(), shipping=money)
def test_the_same_promotions_give_the_same_result_however_often_and_in_whatever_order_given(cart, promotions, shipping):
    first = engine.apply(lines=cart, offers=promotions, context=context(shipping))
    assert engine.apply(lines=cart, offers=promotions, context=context(shipping)) == first
    assert engine.apply(lines=cart, offers=list(reversed(promotions)) + promotions, context=context(shipping)) == first


@settings(max_examples=300, deadline=None)
@given(cart=lines(), promotions=offers(), shipping=money)
def test_a_combination_the_rules_forbid_never_happens(cart, promotions, shipping):
    result = engine.apply(lines=cart, offers=promotions, context=context(shipping))
    by_id = {offer.id: offer for offer in promotions}
    applied = [by_id[a.offer_id] for a in result.applied]
    for i, one in enumerate(applied):
        for other in applied[i + 1:]:
            assert other.kind in one.combines_with and one.kind in other.combines_with, (one, other)


@settings(max_examples=200, deadline=None)
@given(amount=money, weights=st.lists(st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=4),
                                      min_size=1, max_size=8))
def test_allocation_adds_up_and_respects_caps(amount, weights):
    caps = {i: Decimal("1000.00") for i in range(len(weights))}
    shares = engine.allocate(amount, dict(enumerate(weights)), caps=caps, unit=Decimal("0.01"))
    assert sum(shares.values(), Decimal(0)) == amount
    assert all(0 <= share <= caps[key] for key, share in shares.items())
