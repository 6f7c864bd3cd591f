"""The engine's rules, one example each, and the peers' bugs as regression tests."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from promotions import engine
from promotions.engine import Context, Line, Offer

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
ALL = frozenset({engine.PRODUCT, engine.ORDER, engine.SHIPPING})


def ctx(**kwargs):
    return Context(now=NOW, **kwargs)


def line(key, price, quantity=1, **kwargs):
    return Line(key=key, product_id=key, unit_price=Decimal(price), quantity=quantity, **kwargs)


def test_a_code_on_top_of_a_promotion_takes_its_share_of_what_is_left_never_a_free_order():
    # Saleor #17453: 70% computed on the undiscounted total on top of 40% gave free orders.
    promo = Offer(id=1, name="40% sale", reward=engine.PERCENT_LINES, value=Decimal(40), priority=1, combines_with=ALL)
    code = Offer(id=2, name="70% code", reward=engine.PERCENT_ORDER, value=Decimal(70), priority=2, combines_with=ALL)
    result = engine.apply(lines=[line(1, "100.00")], offers=[promo, code], context=ctx())
    assert [a.amount for a in result.applied] == [Decimal("40.00"), Decimal("42.00")]
    assert result.total == Decimal("18.00")


def test_two_dollars_over_three_lines_of_0_67_adds_up_to_two_dollars():
    # BroadleafCommerce #1113 / Saleor PR #17024: 3 x 0.67 = 2.01 or 2.02, not 2.00.
    offer = Offer(id=1, name="$2 off", reward=engine.FIXED_ORDER, value=Decimal("2.00"))
    lines = [line(1, "10.00"), line(2, "10.00"), line(3, "10.00")]
    result = engine.apply(lines=lines, offers=[offer], context=ctx())
    assert sorted(result.line_discounts.values()) == [Decimal("0.66"), Decimal("0.67"), Decimal("0.67")]
    assert result.items_discount == Decimal("2.00")
    assert result.line_discounts[1] == Decimal("0.67")  # ties go to the earlier line


def test_a_percentage_split_over_lines_adds_up_to_the_rounded_whole():
    offer = Offer(id=1, name="15%", reward=engine.PERCENT_LINES, value=Decimal(15))
    lines = [line(1, "0.33"), line(2, "0.33"), line(3, "0.33")]  # 3 x 0.0495
    result = engine.apply(lines=lines, offers=[offer], context=ctx())
    assert result.applied[0].amount == Decimal("0.15")
    assert sum(result.line_discounts.values()) == Decimal("0.15")


def test_buy_two_get_one_needs_three_units_per_application_and_respects_the_maximum():
    # Medusa #14432: buy X get Y applied too often.
    offer = Offer(id=1, name="3 for 2", reward=engine.BUY_X_GET_Y, value=Decimal(100), buy_quantity=2,
                  get_quantity=1, max_applications=2)
    two = engine.apply(lines=[line(1, "10.00", 2)], offers=[offer], context=ctx())
    assert two.applied == ()
    assert two.refused[0].reason == "bxgy_quantity" and two.refused[0].params["missing"] == 1
    three = engine.apply(lines=[line(1, "10.00", 3)], offers=[offer], context=ctx())
    assert three.items_discount == Decimal("10.00")
    five = engine.apply(lines=[line(1, "10.00", 5)], offers=[offer], context=ctx())
    assert five.items_discount == Decimal("10.00")  # 5 units: one application, not two
    ten = engine.apply(lines=[line(1, "10.00", 10)], offers=[offer], context=ctx())
    assert ten.items_discount == Decimal("20.00")  # three applications possible, two allowed


def test_buy_x_get_y_discounts_the_cheapest_units():
    offer = Offer(id=1, name="3 for 2", reward=engine.BUY_X_GET_Y, value=Decimal(100), buy_quantity=2, get_quantity=1)
    result = engine.apply(lines=[line(1, "30.00"), line(2, "20.00"), line(3, "5.00")], offers=[offer], context=ctx())
    assert result.line_discounts == {1: Decimal(0), 2: Decimal(0), 3: Decimal("5.00")}


def test_a_hundred_percent_discount_leaves_exactly_zero_with_tax_included():
    # Medusa #12226: a tax-inclusive 100% promotion gave a total of -1.6e-14.
    offer = Offer(id=1, name="All free", reward=engine.PERCENT_ORDER, value=Decimal(100))
    result = engine.apply(lines=[line(1, "19.99", 3), line(2, "0.01")], offers=[offer], context=ctx())
    assert result.total == Decimal("0.00")
    assert str(result.total) == "0.00"


def test_a_percentage_above_a_hundred_or_a_fixed_amount_above_the_cart_never_goes_negative():
    offers = [Offer(id=1, name="150%", reward=engine.PERCENT_LINES, value=Decimal(150), combines_with=ALL),
              Offer(id=2, name="$500 off", reward=engine.FIXED_ORDER, value=Decimal(500), combines_with=ALL)]
    result = engine.apply(lines=[line(1, "10.00")], offers=offers, context=ctx())
    assert result.total == Decimal("0.00")
    assert all(v >= 0 for v in result.line_discounts.values())


def test_offers_that_do_not_combine_apply_the_first_by_priority_and_say_why_the_other_did_not():
    first = Offer(id=5, name="Sale", reward=engine.PERCENT_LINES, value=Decimal(10), priority=1)
    second = Offer(id=2, name="WELCOME", reward=engine.PERCENT_ORDER, value=Decimal(20), priority=2, needs_code=True)
    result = engine.apply(lines=[line(1, "50.00")], offers=[second, first], context=ctx(unlocked=frozenset({2})))
    assert [a.offer_id for a in result.applied] == [5]
    assert result.refusal(2).reason == "combination" and result.refusal(2).params == {"other": "Sale"}


def test_a_code_offer_applies_only_when_its_code_was_entered():
    offer = Offer(id=1, name="CODE", reward=engine.PERCENT_ORDER, value=Decimal(10), needs_code=True)
    assert engine.apply(lines=[line(1, "10.00")], offers=[offer], context=ctx()).applied == ()
    assert engine.apply(lines=[line(1, "10.00")], offers=[offer], context=ctx(unlocked=frozenset({1}))).applied


def test_refusals_name_the_first_condition_that_fails():
    base = dict(id=1, name="X", reward=engine.PERCENT_ORDER, value=Decimal(10))
    cart = [line(1, "37.60", on_sale=True)]
    cases = [
        (dict(min_subtotal=Decimal(50)), "min_subtotal", {"needed": Decimal(50), "missing": Decimal("12.40")}),
        (dict(exclude_sale_items=True), "sale_items", {}),
        (dict(ends_at=NOW), "expired", {}),
        (dict(starts_at=NOW + timedelta(days=1)), "not_started", {"starts_at": NOW + timedelta(days=1)}),
        (dict(remaining_uses=0), "used_up", {}),
        (dict(signed_in_only=True), "signed_in", {}),
        (dict(first_order_only=True), "first_order", None),
        (dict(segment_id=3), "segment", {}),
        (dict(countries=frozenset({"CA"})), "country", {"countries": ["CA"], "known": False}),
        (dict(product_ids=frozenset({99})), "no_items", {}),
        (dict(min_quantity=3), "min_quantity", {"needed": 3, "missing": 2}),
    ]
    for extra, reason, params in cases:
        context = ctx(first_order=False) if reason == "first_order" else ctx()
        result = engine.apply(lines=cart, offers=[Offer(**base, **extra)], context=context)
        assert result.applied == (), extra
        assert result.refused[0].reason == reason, extra
        if params is not None:
            assert result.refused[0].params == params


def test_item_conditions_match_by_product_variant_category_brand_or_attribute():
    lines = [Line(key=10, product_id=1, unit_price=Decimal(10), quantity=1, category_ids=frozenset({7, 8})),
             Line(key=11, product_id=2, unit_price=Decimal(10), quantity=1, brand_id=4),
             Line(key=12, product_id=3, unit_price=Decimal(10), quantity=1, attribute_value_ids=frozenset({9}))]
    for extra, key in [(dict(category_ids=frozenset({7})), 10), (dict(brand_ids=frozenset({4})), 11),
                       (dict(attribute_value_ids=frozenset({9})), 12), (dict(variant_ids=frozenset({12})), 12),
                       (dict(product_ids=frozenset({2})), 11)]:
        offer = Offer(id=1, name="x", reward=engine.PERCENT_LINES, value=Decimal(50), **extra)
        result = engine.apply(lines=lines, offers=[offer], context=ctx())
        assert {k for k, v in result.line_discounts.items() if v} == {key}, extra


def test_fixed_price_fixed_off_each_unit_free_gift_and_shipping():
    cart = [line(1, "25.00", 2), line(2, "4.00", 1)]
    fixed_price = Offer(id=1, name="Any shirt $20", reward=engine.FIXED_PRICE, value=Decimal(20), product_ids=frozenset({1}))
    assert engine.apply(lines=cart, offers=[fixed_price], context=ctx()).line_discounts[1] == Decimal("10.00")
    each = Offer(id=1, name="$3 off each", reward=engine.FIXED_LINES, value=Decimal(3))
    assert engine.apply(lines=cart, offers=[each], context=ctx()).items_discount == Decimal("9.00")
    gift = Offer(id=1, name="Free socks", reward=engine.FREE_GIFT, gift_variant_id=2, min_subtotal=Decimal(40))
    assert engine.apply(lines=cart, offers=[gift], context=ctx()).line_discounts[2] == Decimal("4.00")
    ship = Offer(id=1, name="Free shipping", reward=engine.FREE_SHIPPING, value=Decimal(100))
    result = engine.apply(lines=cart, offers=[ship], context=ctx(shipping=Decimal("7.50")))
    assert result.shipping_discount == Decimal("7.50") and result.total == Decimal("54.00")


def test_a_budget_caps_the_discount_at_what_is_left_of_it():
    offer = Offer(id=1, name="x", reward=engine.PERCENT_LINES, value=Decimal(50), remaining_budget=Decimal("3.00"))
    result = engine.apply(lines=[line(1, "10.00"), line(2, "10.00")], offers=[offer], context=ctx())
    assert result.items_discount == Decimal("3.00")
    assert sum(result.line_discounts.values()) == Decimal("3.00")
