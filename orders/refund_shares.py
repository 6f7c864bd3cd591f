"""What returned units of an order line are worth: the price paid after the line's discounts.

A line's `line_total` is what was charged for it (after its share of every promotion, tax
included either way). Each unit is worth an equal share of it in whole minor units; the cents
that do not divide go one each to the first units (largest remainder: all remainders are equal,
ties to the earlier unit). So units 1..n of a line always add up to exactly `line_total`, however
the returns split them (3 units of a line that cost 2.00 are worth 0.67, 0.67, 0.66: never
3 × 0.67 = 2.01).
"""
from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_precision


def units_value(*, line_total: Decimal, quantity: int, first: int, count: int, currency: str) -> Decimal:
    """What units `first` .. `first + count - 1` (0-based) of a line of `quantity` are worth.

    Precondition: 0 <= first and first + count <= quantity.
    """
    if count <= 0 or quantity <= 0:
        return Decimal("0")
    minor = Decimal(1).scaleb(-get_currency_precision(currency))
    cents = int((line_total / minor).to_integral_value())
    base, extra = divmod(cents, quantity)  # the first `extra` units get one minor unit more
    with_extra = max(0, min(first + count, extra) - min(first, extra))
    return ((base * count + with_extra) * minor).quantize(minor)


def returned_value(line, currency: str) -> Decimal:
    """What all the units returned so far of `line` (an OrderLine) are worth."""
    return units_value(line_total=line.line_total, quantity=line.quantity, first=0, count=line.quantity_returned,
                       currency=currency)
