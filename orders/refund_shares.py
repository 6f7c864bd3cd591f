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


# --- Promotions earned by the rest of the cart (buy X get Y, a free gift, a minimum) ----------------
#
# The rule (docs/decisions.md, "Returns of promotions"): what the customer keeps must cost what
# the order's own promotions charge for it. All the returns of an order together are worth what
# was paid for its items less what the units kept cost when the order's promotions are replayed
# on them (`promotions.repricing`: buy X get Y that no longer has its X + Y units, a gift whose
# qualifying item came back, a minimum no longer reached), tax computed as at purchase; never
# below zero and never above what was paid for the items. Every unit back: exactly that. Each
# return is due what that total grew by since the returns before it (never negative), so the
# returns' dues add up to at most what was paid. Orders whose promotions do not depend on the
# rest of the cart (or whose replay does not match what was recorded) keep the shares above.


def _repricer(order, lines):
    from promotions.repricing import replayer

    return replayer(order=order, lines=lines)


def _kept_charge(order, lines, kept: dict[int, int], discounts: dict[int, Decimal]) -> Decimal:
    """What the kept units of `lines` cost with `discounts` on them, tax as `place_order` computes it."""
    from .services.placement import priced_line

    return sum((priced_line(line.unit_price, kept[line.pk], line.tax_rate, included=order.prices_include_tax,
                            discount=discounts.get(line.pk, Decimal("0")))[2]
                for line in lines if kept[line.pk] > 0), Decimal("0"))


def worth_of_returns(order, lines, returned: dict[int, int], *, reprice=None) -> Decimal:
    """What `returned` (order line id -> units back in all, for every line of `order` in `lines`)
    is worth back, all returns together. `reprice` is `promotions.repricing.replayer`'s answer
    (None: the shares of each line)."""
    if reprice is None:
        return sum((units_value(line_total=line.line_total, quantity=line.quantity, first=0,
                                count=returned.get(line.pk, 0), currency=order.currency) for line in lines),
                   Decimal("0"))
    paid = sum((line.line_total for line in lines), Decimal("0"))
    kept = {line.pk: line.quantity - returned.get(line.pk, 0) for line in lines}
    charge = _kept_charge(order, lines, kept, reprice({pk: units for pk, units in kept.items() if units > 0}))
    return min(max(paid - charge, Decimal("0")), paid)


def returned_worth(order, lines) -> Decimal:
    """What everything returned so far of `order` (`lines`: all its lines) is worth back."""
    returned = {line.pk: line.quantity_returned for line in lines}
    if not any(returned.values()):
        return Decimal("0")
    return worth_of_returns(order, lines, returned, reprice=_repricer(order, lines))


def _due_before(order) -> Decimal:
    """What the order's earlier returns were recorded as worth (their events' `refund_due`)."""
    from .models import OrderEvent

    return sum((Decimal((data or {}).get("refund_due") or "0") for data in OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.RETURN).values_list("data", flat=True)), Decimal("0"))


_READ = object()


def return_due(order, lines, returning: dict[int, int], *, reprice=_READ, due_before: Decimal | None = None
               ) -> tuple[Decimal, Decimal, tuple[str, ...]]:
    """For `order` with `lines` (all of them, as locked, `quantity_returned` not yet counting
    `returning`): what returning `returning` (order line id -> units) now is worth back, what those
    units cost after their line's discounts, and, when the first is less, the names of the order's
    promotions that depend on the rest of the cart (what the kept items no longer earn).

    Precondition: the caller holds the order's row lock (the earlier returns do not move).
    `reprice` and `due_before` are read from the database unless given (the earlier returns'
    `refund_due` in all; read only for an order whose promotions depend on the cart).
    """
    shares = sum((units_value(line_total=line.line_total, quantity=line.quantity, first=line.quantity_returned,
                              count=returning.get(line.pk, 0), currency=order.currency)
                  for line in lines if returning.get(line.pk)), Decimal("0"))
    if reprice is _READ:
        reprice = _repricer(order, lines)
    if reprice is None:
        return shares, shares, ()
    if due_before is None:
        due_before = _due_before(order)
    after = {line.pk: line.quantity_returned + returning.get(line.pk, 0) for line in lines}
    due = max(worth_of_returns(order, lines, after, reprice=reprice) - due_before, Decimal("0"))
    return due, shares, reprice.names if due < shares else ()

