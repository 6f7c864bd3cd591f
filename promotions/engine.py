"""The promotion engine: cart lines and offers in, the discount on every line out. Pure.

No database, no settings, no clock: everything arrives in the arguments (`Line`, `Offer`,
`Context`), so the cart page, the checkout review, placing the order and the back office's dry
run all get the same answer for the same input, and Hypothesis can throw random carts at it
(`promotions/tests/test_engine_properties.py`).

The rules, in the order they are applied:
- Offers are taken in (priority, id) order; a duplicate id is taken once. Each works on what the
  earlier ones left: a 70% code after a 40% promotion takes 70% of the remaining 60%, never 70% of
  the shelf price (Saleor #17453).
- An offer applies with the ones already applied only if each names the other's kind (product,
  order, shipping) among those it combines with; otherwise it is refused ("combination").
- A line's discount never exceeds what is left of it, shipping's never exceeds the shipping price,
  so no line, subtotal or total is ever negative (Medusa #12226).
- Each offer's discount is rounded once, as a whole, to the currency's minor unit; then it is
  split across its lines by largest remainder (in whole minor units, ties to the earlier line),
  so the lines add up to the offer's discount exactly (3 × 0.67 is never 2.01 or 2.02).
- Buy X get Y needs X + Y matching units per application, discounts the cheapest units, and
  applies at most `max_applications` times (Medusa #14432).
- A budget caps an offer's discount at what is left of it.
All money is Decimal; nothing here rounds with floats.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

PRODUCT, ORDER, SHIPPING = "product", "order", "shipping"

PERCENT_LINES = "percent_lines"
FIXED_LINES = "fixed_lines"
FIXED_PRICE = "fixed_price"
PERCENT_ORDER = "percent_order"
FIXED_ORDER = "fixed_order"
BUY_X_GET_Y = "buy_x_get_y"
FREE_SHIPPING = "shipping"
FREE_GIFT = "free_gift"

KIND = {
    PERCENT_LINES: PRODUCT, FIXED_LINES: PRODUCT, FIXED_PRICE: PRODUCT, BUY_X_GET_Y: PRODUCT, FREE_GIFT: PRODUCT,
    PERCENT_ORDER: ORDER, FIXED_ORDER: ORDER, FREE_SHIPPING: SHIPPING,
}

HUNDRED = Decimal(100)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Line:
    """One cart line: a variant, how many, at what shelf price, and what conditions look at."""

    key: int  # the variant id: one line per variant
    product_id: int
    unit_price: Decimal
    quantity: int
    category_ids: frozenset[int] = frozenset()  # its category and every one above it
    brand_id: int | None = None
    attribute_value_ids: frozenset[int] = frozenset()
    on_sale: bool = False  # a compare-at price above the price

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Offer:
    """A promotion as the engine sees it (built from the model by `promotions.offers`)."""

    id: int
    name: str
    reward: str
    value: Decimal = ZERO
    priority: int = 100
    needs_code: bool = False
    combines_with: frozenset[str] = frozenset()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    product_ids: frozenset[int] = frozenset()
    variant_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    brand_ids: frozenset[int] = frozenset()
    attribute_value_ids: frozenset[int] = frozenset()
    exclude_sale_items: bool = False
    min_subtotal: Decimal | None = None
    min_quantity: int | None = None
    segment_id: int | None = None
    first_order_only: bool = False
    signed_in_only: bool = False
    countries: frozenset[str] = frozenset()
    buy_quantity: int = 0
    get_quantity: int = 0
    max_applications: int | None = None
    gift_variant_id: int | None = None
    remaining_uses: int | None = None  # None: no limit
    remaining_budget: Decimal | None = None  # None: no budget

    @property
    def kind(self) -> str:
        return KIND[self.reward]

    @property
    def has_item_conditions(self) -> bool:
        return bool(self.product_ids or self.variant_ids or self.category_ids or self.brand_ids
                    or self.attribute_value_ids)

    def matches(self, line: Line, *, sale_counts: bool = False) -> bool:
        """Whether `line` is one of the items this offer is about (every item when none is named)."""
        if self.exclude_sale_items and line.on_sale and not sale_counts:
            return False
        if not self.has_item_conditions:
            return True
        return (line.product_id in self.product_ids or line.key in self.variant_ids
                or bool(line.category_ids & self.category_ids) or line.brand_id in self.brand_ids
                or bool(line.attribute_value_ids & self.attribute_value_ids))


@dataclass(frozen=True)
class Context:
    """Who is buying, where to, and when. Filled by `promotions.selectors` from the database."""

    now: datetime
    unlocked: frozenset[int] = frozenset()  # code offers whose code the shopper entered
    country: str = ""  # the delivery country; "" while not known (the cart page)
    signed_in: bool = False
    first_order: bool = True
    segment_ids: frozenset[int] = frozenset()  # segments (of those offers name) the customer is in
    used_up_by_customer: frozenset[int] = frozenset()  # offers this customer reached the limit of
    shipping: Decimal = ZERO  # the chosen delivery's price; 0 while not chosen
    unit: Decimal = Decimal("0.01")  # the currency's minor unit


@dataclass(frozen=True)
class Applied:
    offer_id: int
    name: str
    kind: str
    amount: Decimal  # lines + shipping
    lines: dict[int, Decimal]  # line key -> this offer's discount on it (only lines it touched)
    shipping: Decimal = ZERO


@dataclass(frozen=True)
class Refusal:
    """Why an offer did not apply: a reason code and what the message needs (`messages.py`)."""

    offer_id: int
    name: str
    reason: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    applied: tuple[Applied, ...]
    refused: tuple[Refusal, ...]
    subtotal: Decimal  # the lines at shelf prices
    line_discounts: dict[int, Decimal]  # every line key -> its total discount (0 when none)
    shipping: Decimal  # the shipping price before discounts
    shipping_discount: Decimal

    @property
    def items_discount(self) -> Decimal:
        return sum(self.line_discounts.values(), ZERO)

    @property
    def discount_total(self) -> Decimal:
        return self.items_discount + self.shipping_discount

    @property
    def total(self) -> Decimal:
        """Lines after discounts plus shipping after discounts (before any tax that is added)."""
        return self.subtotal - self.items_discount + self.shipping - self.shipping_discount

    def breakdown(self, key: int) -> list[tuple[int, str, Decimal]]:
        """(offer id, name, amount) of each discount on line `key`, in the order applied."""
        return [(a.offer_id, a.name, a.lines[key]) for a in self.applied if a.lines.get(key)]

    def refusal(self, offer_id: int) -> Refusal | None:
        return next((r for r in self.refused if r.offer_id == offer_id), None)


def apply(*, lines: list[Line], offers: list[Offer], context: Context) -> Result:
    """Apply `offers` to `lines` under `context` (see the module's docstring for the rules)."""
    unit = context.unit
    remaining = {line.key: _round(line.amount, unit) for line in lines}
    subtotal = sum(remaining.values(), ZERO)
    shipping_left = context.shipping
    applied: list[Applied] = []
    refused: list[Refusal] = []
    seen: set[int] = set()
    for offer in sorted(offers, key=lambda o: (o.priority, o.id)):
        if offer.id in seen:
            continue
        seen.add(offer.id)
        if offer.needs_code and offer.id not in context.unlocked:
            continue
        reason = _refusal(offer, lines, remaining, context)
        if reason is None:
            clash = next((a for a in applied if not _combine(offer, a.kind, offer_kinds(a, offers))), None)
            if clash is not None:
                reason = ("combination", {"other": clash.name})
        if reason is not None:
            refused.append(Refusal(offer.id, offer.name, reason[0], reason[1]))
            continue
        if offer.kind == SHIPPING:
            amount = _cap_budget(offer, min(_round(shipping_left * offer.value / HUNDRED, unit), shipping_left))
            if amount <= 0:
                refused.append(Refusal(offer.id, offer.name, "no_shipping" if not shipping_left else "nothing", {}))
                continue
            shipping_left -= amount
            applied.append(Applied(offer.id, offer.name, SHIPPING, amount, {}, shipping=amount))
            continue
        weights = _weights(offer, lines, remaining)
        if offer.reward == BUY_X_GET_Y and not any(weights.values()):
            group = offer.buy_quantity + offer.get_quantity
            units = sum(line.quantity for line in lines if offer.matches(line))
            refused.append(Refusal(offer.id, offer.name, "bxgy_quantity", {"needed": group, "missing": group - units % group if group else 0}))
            continue
        total_weight = sum(weights.values(), ZERO)
        amount = min(_round(total_weight, unit), sum((remaining[k] for k in weights), ZERO))
        amount = _cap_budget(offer, amount)
        if amount <= 0:
            refused.append(Refusal(offer.id, offer.name, "nothing", {}))
            continue
        shares = allocate(amount, weights, caps={k: remaining[k] for k in weights}, unit=unit)
        for key, share in shares.items():
            remaining[key] -= share
        applied.append(Applied(offer.id, offer.name, offer.kind, amount, {k: v for k, v in shares.items() if v}))
    line_discounts = {line.key: ZERO for line in lines}
    for a in applied:
        for key, share in a.lines.items():
            line_discounts[key] += share
    return Result(
        applied=tuple(applied), refused=tuple(refused), subtotal=subtotal, line_discounts=line_discounts,
        shipping=context.shipping, shipping_discount=context.shipping - shipping_left,
    )


def offer_kinds(applied: Applied, offers: list[Offer]) -> frozenset[str]:
    """What the applied offer combines with (looked up again: `Applied` keeps only the result)."""
    return next(o.combines_with for o in offers if o.id == applied.offer_id)


def _combine(offer: Offer, other_kind: str, other_combines: frozenset[str]) -> bool:
    return other_kind in offer.combines_with and offer.kind in other_combines


def _refusal(offer: Offer, lines: list[Line], remaining: dict[int, Decimal], context: Context) -> tuple | None:
    """The first condition `offer` fails, as (reason, params); None when all hold."""
    if offer.starts_at is not None and context.now < offer.starts_at:
        return "not_started", {"starts_at": offer.starts_at}
    if offer.ends_at is not None and context.now >= offer.ends_at:
        return "expired", {}
    if offer.remaining_uses is not None and offer.remaining_uses <= 0:
        return "used_up", {}
    if offer.remaining_budget is not None and offer.remaining_budget <= 0:
        return "used_up", {}
    if offer.id in context.used_up_by_customer:
        return "already_used", {}
    if offer.signed_in_only and not context.signed_in:
        return "signed_in", {}
    if offer.first_order_only and not context.first_order:
        return "first_order", {}
    if offer.segment_id is not None and offer.segment_id not in context.segment_ids:
        return "segment", {}
    if offer.countries and context.country.upper() not in offer.countries:
        return "country", {"countries": sorted(offer.countries), "known": bool(context.country)}
    matching = [line for line in lines if offer.matches(line)]
    if offer.reward not in (FREE_SHIPPING, FREE_GIFT) or offer.has_item_conditions or offer.exclude_sale_items:
        if not matching:
            if offer.exclude_sale_items and any(offer.matches(line, sale_counts=True) for line in lines):
                return "sale_items", {}
            return "no_items", {}
    if offer.min_quantity:
        units = sum(line.quantity for line in matching)
        if units < offer.min_quantity:
            return "min_quantity", {"needed": offer.min_quantity, "missing": offer.min_quantity - units}
    if offer.min_subtotal is not None:
        current = sum(remaining.values(), ZERO)
        if current < offer.min_subtotal:
            return "min_subtotal", {"needed": offer.min_subtotal, "missing": offer.min_subtotal - current}
    if offer.reward == FREE_GIFT and not any(line.key == offer.gift_variant_id for line in lines):
        return "gift_missing", {"variant_id": offer.gift_variant_id}
    return None


def _weights(offer: Offer, lines: list[Line], remaining: dict[int, Decimal]) -> dict[int, Decimal]:
    """The exact (unrounded) discount this offer would give each line, each within what is left."""
    rate = offer.value / HUNDRED
    matching = [line for line in lines if offer.matches(line) and remaining[line.key] > 0]
    if offer.reward in (PERCENT_LINES, PERCENT_ORDER):
        return {line.key: remaining[line.key] * min(rate, Decimal(1)) for line in matching}
    if offer.reward == FIXED_LINES:
        return {line.key: min(offer.value * line.quantity, remaining[line.key]) for line in matching}
    if offer.reward == FIXED_PRICE:
        return {line.key: max(remaining[line.key] - offer.value * line.quantity, ZERO) for line in matching}
    if offer.reward == FIXED_ORDER:
        base = sum((remaining[line.key] for line in matching), ZERO)
        if not base:
            return {}
        amount = min(offer.value, base)
        return {line.key: remaining[line.key] * amount / base for line in matching}
    if offer.reward == FREE_GIFT:
        gift = next((line for line in lines if line.key == offer.gift_variant_id and remaining[line.key] > 0), None)
        return {gift.key: remaining[gift.key] / gift.quantity} if gift else {}
    if offer.reward == BUY_X_GET_Y:
        return _buy_x_get_y(offer, matching, remaining)
    raise ValueError(f"Unknown reward {offer.reward!r}")


def _buy_x_get_y(offer: Offer, matching: list[Line], remaining: dict[int, Decimal]) -> dict[int, Decimal]:
    """Every application takes X + Y matching units; the cheapest Y of each get the discount."""
    group = offer.buy_quantity + offer.get_quantity
    if offer.get_quantity <= 0 or group <= 0:
        return {}
    # Each unit at what is left of its price; dearest first, ties by line, so the result is fixed.
    units = sorted(
        ((remaining[line.key] / line.quantity, line.key) for line in matching for _ in range(line.quantity)),
        key=lambda unit: (-unit[0], unit[1]),
    )
    applications = len(units) // group
    if offer.max_applications is not None:
        applications = min(applications, offer.max_applications)
    free = units[len(units) - applications * offer.get_quantity:] if applications else []
    rate = min(offer.value / HUNDRED, Decimal(1))
    weights: dict[int, Decimal] = {}
    for price, key in free:
        weights[key] = weights.get(key, ZERO) + price * rate
    return weights


def _cap_budget(offer: Offer, amount: Decimal) -> Decimal:
    if offer.remaining_budget is not None:
        return min(amount, offer.remaining_budget)
    return amount


def _round(amount: Decimal, unit: Decimal) -> Decimal:
    return amount.quantize(unit, rounding=ROUND_HALF_UP)


def allocate(amount: Decimal, weights: dict[int, Decimal], *, caps: dict[int, Decimal], unit: Decimal) -> dict[int, Decimal]:
    """Split `amount` (whole minor units) over the keys in proportion to `weights`, by largest remainder.

    Each key gets its share rounded down to the minor unit; the units left over go one each to the
    largest remainders (ties: the key that comes first in `weights`), never past a key's cap.
    The shares add up to `amount` exactly. Precondition: 0 <= amount <= sum(caps).
    """
    total_weight = sum(weights.values(), ZERO)
    keys = list(weights)
    if not keys or amount <= 0:
        return {key: ZERO for key in keys}
    if total_weight <= 0:
        weights = {key: caps[key] for key in keys}
        total_weight = sum(weights.values(), ZERO)
    shares, remainders = {}, {}
    for key in keys:
        exact = amount * weights[key] / total_weight
        share = min(exact.quantize(unit, rounding=ROUND_DOWN), caps[key])
        shares[key] = share
        remainders[key] = exact - share
    left = int((amount - sum(shares.values(), ZERO)) / unit)
    order = sorted(range(len(keys)), key=lambda i: (-remainders[keys[i]], i))
    # First the largest remainders; then, should caps have stopped them, any key with room.
    for i in order + list(range(len(keys))):
        if left <= 0:
            break
        key = keys[i]
        if shares[key] + unit <= caps[key]:
            shares[key] += unit
            left -= 1
    if left:
        raise ValueError("amount exceeds what the caps allow")
    return shares
