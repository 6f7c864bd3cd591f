"""The manual discount over a draft's lines, for any prices, quantities and amount (Hypothesis)."""
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stafforders.exceptions import DraftError
from stafforders.services import _manual_discount

prices = st.integers(min_value=0, max_value=100_000).map(lambda cents: Decimal(cents) / 100)
lines = st.lists(st.tuples(prices, st.integers(min_value=1, max_value=50)), min_size=1, max_size=12)


@given(lines=lines, fraction=st.fractions(min_value=0, max_value=1))
def test_the_discount_is_split_to_the_cent_and_never_takes_a_line_below_zero(lines, fraction):
    variants = {pk: SimpleNamespace(price=price) for pk, (price, _q) in enumerate(lines, start=1)}
    quantities = {pk: quantity for pk, (_p, quantity) in enumerate(lines, start=1)}
    total = sum(variants[pk].price * quantities[pk] for pk in variants)
    amount = (total * fraction.numerator / fraction.denominator).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    draft = SimpleNamespace(discount_amount=amount, discount_reason="Goodwill")

    discounts = _manual_discount(draft)(quantities, variants)

    taken = {pk: sum(d.amount for d in found) for pk, found in discounts.lines.items()}
    assert sum(taken.values(), Decimal("0")) == amount
    assert all(Decimal("0") < part <= variants[pk].price * quantities[pk] for pk, part in taken.items())
    assert all(part.as_tuple().exponent >= -2 for part in taken.values())
    assert all(d.name == "Staff discount: Goodwill" for found in discounts.lines.values() for d in found)


@given(lines=lines, extra=st.integers(min_value=1, max_value=10_000))
def test_a_discount_above_the_lines_is_refused(lines, extra):
    variants = {pk: SimpleNamespace(price=price) for pk, (price, _q) in enumerate(lines, start=1)}
    quantities = {pk: quantity for pk, (_p, quantity) in enumerate(lines, start=1)}
    total = sum(variants[pk].price * quantities[pk] for pk in variants)
    draft = SimpleNamespace(discount_amount=total + Decimal(extra) / 100, discount_reason="Too much")

    with pytest.raises(DraftError, match="more than the items cost"):
        _manual_discount(draft)(quantities, variants)
