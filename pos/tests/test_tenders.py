"""The counter's money split (pos.services.split_tenders), over every combination Hypothesis finds."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.exceptions import SaleError
from pos.services import split_tenders

cents = st.integers(min_value=0, max_value=100_000).map(lambda n: Decimal(n).scaleb(-2))


@given(total=cents, gift_share=st.integers(0, 100), card=cents, tendered=cents)
def test_the_tenders_pay_the_total_exactly_and_change_is_never_negative(total, gift_share, card, tendered):
    gift = (total * gift_share / 100).quantize(Decimal("0.01"))
    try:
        cash, change = split_tenders(total=total, gift=gift, card=card, cash_tendered=tendered, currency="USD")
    except SaleError as refusal:
        # refused only when the card pays too much, the money falls short, or cash has nothing to pay
        assert card > total - gift or tendered < total - gift - card or (total - gift - card == 0 and tendered)
        assert str(refusal)
        return
    assert gift + card + cash == total
    assert cash >= 0 and change >= 0
    assert cash + change == tendered


def test_examples():
    assert split_tenders(total=Decimal("39.98"), gift=Decimal("10"), card=Decimal("15"),
                         cash_tendered=Decimal("20"), currency="USD") == (Decimal("14.98"), Decimal("5.02"))
    with pytest.raises(SaleError, match="more than"):
        split_tenders(total=Decimal("5"), gift=Decimal("0"), card=Decimal("6"), cash_tendered=Decimal("0"),
                      currency="USD")
