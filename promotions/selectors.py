"""Reads: a cart (or an order's lines) priced with the live promotions, and the code it carries.

`price_lines` is the one door to the engine for the storefront: the cart page, the checkout
review and placing the order call it with the same lines, so the shopper sees what is charged.
Queries: none when the offers are cached and no offer needs the shopper's history; otherwise
one each for the offers and their conditions (cache miss), the entered code, the cart products'
attribute values (only if an offer names some), the shopper's first order, segments and uses
(each only if an offer asks).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product, Variant
from catalog.selectors import category_tree
from shop.money import currency_code, quantize

from . import engine, offers
from .messages import refusal_message
from .models import Code, Redemption, normalize_code

# The code a shopper entered, normalised; kept in the session until removed or used by an order.
SESSION_KEY = "promotion_code"


@dataclass(frozen=True)
class Shopper:
    """Who is buying: what conditions and per-customer limits look at."""

    user: object | None = None
    email: str = ""
    country: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.user is not None and getattr(self.user, "is_authenticated", False))


@dataclass
class CodeState:
    code: str
    promotion_id: int | None = None
    code_id: int | None = None
    problem: str = ""  # the shopper-facing reason it gives nothing; "" when it applies


@dataclass
class Pricing:
    result: engine.Result
    code: CodeState | None = None
    code_row: Code | None = None
    offers: dict[int, engine.Offer] = field(default_factory=dict)  # what was priced, by id
    per_customer_limit: dict[int, int] = field(default_factory=dict)

    def line_discount(self, key: int) -> Decimal:
        return self.result.line_discounts.get(key, Decimal(0))

    def breakdown(self, key: int) -> list[tuple[str, Decimal]]:
        return [(name, amount) for _id, name, amount in self.result.breakdown(key)]

    @property
    def applied(self) -> tuple[engine.Applied, ...]:
        return self.result.applied

    @property
    def total(self) -> Decimal:
        return self.result.total


def session_code(session: SessionBase) -> str:
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) else ""


def price_cart(*, cart, user, session: SessionBase) -> Pricing:
    """The cart page's promotions: its purchasable lines, the session's code, no delivery chosen yet."""
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    return price_lines(
        items=[(item.variant, item.quantity) for item in cart.items if item.is_purchasable],
        shopper=Shopper(user=user, email=user.email if signed_in else ""), code=session_code(session),
    )


def engine_lines(items: Iterable[tuple[Variant, int]], *, attribute_values: dict[int, frozenset[int]] | None = None
                 ) -> list[engine.Line]:
    """(variant with its product, quantity) pairs as engine lines (no query: the category tree is cached)."""
    tree = category_tree()
    result = []
    for variant, quantity in items:
        product = variant.product
        node = tree.by_id.get(product.category_id)
        categories = frozenset(c.id for c in tree.ancestors(node)) if node else frozenset({product.category_id})
        result.append(engine.Line(
            key=variant.pk, product_id=product.pk, unit_price=quantize(variant.price), quantity=quantity,
            category_ids=categories, brand_id=product.brand_id,
            attribute_value_ids=(attribute_values or {}).get(product.pk, frozenset()), on_sale=variant.on_sale,
        ))
    return result


def price_lines(*, items: list[tuple[Variant, int]], shopper: Shopper, code: str = "", shipping: Decimal = Decimal(0),
                now: datetime | None = None, snapshot: offers.Snapshot | None = None,
                ) -> Pricing:
    """`items` priced with the live promotions and `code` (normalised or as typed) for `shopper`.

    A code that does not exist, or whose own uses ran out, or whose promotion ended, unlocks
    nothing and says why in `pricing.code.problem`; so does a code the engine refused.
    """
    now = now or timezone.now()
    snapshot = snapshot or offers.live()
    live = list(snapshot.offers)
    state, code_row = None, None
    unlocked: frozenset[int] = frozenset()
    code = normalize_code(code)
    if code:
        state = CodeState(code=code)
        code_row = Code.objects.select_related("promotion").filter(code=code).first()
        if code_row is None:
            state.problem = _("That code does not exist. Check the spelling (letters and digits only).")
        else:
            state.promotion_id, state.code_id = code_row.promotion_id, code_row.pk
            offer = next((o for o in live if o.id == code_row.promotion_id), None)
            promotion = code_row.promotion
            if code_row.max_uses is not None and code_row.uses >= code_row.max_uses:
                state.problem = _("The code %(code)s has already been used.") % {"code": code}
            elif offer is None or not promotion.is_active:
                state.problem = _("The code %(code)s has expired.") % {"code": code}
            else:
                # The code's promotion with its counters as they are now, not as cached.
                live = [offers.with_counters(o, promotion) if o.id == offer.id else o for o in live]
                unlocked = frozenset({offer.id})
    lines = engine_lines(items, attribute_values=_attribute_values(items) if snapshot.uses_attributes else None)
    relevant = [o for o in live if not o.needs_code or o.id in unlocked]
    context = engine.Context(
        now=now, unlocked=unlocked, country=(shopper.country or "").upper(), signed_in=shopper.signed_in,
        first_order=_first_order(shopper) if any(o.first_order_only for o in relevant) else True,
        segment_ids=_segments(shopper, {o.segment_id for o in relevant if o.segment_id}),
        used_up_by_customer=_used_up(shopper, {o.id: snapshot.per_customer_limit[o.id] for o in relevant
                                               if o.id in snapshot.per_customer_limit}),
        shipping=quantize(shipping), unit=money_unit(),
    )
    result = engine.apply(lines=lines, offers=relevant, context=context)
    if state is not None and not state.problem and unlocked:
        refusal = result.refusal(next(iter(unlocked)))
        if refusal is not None:
            state.problem = refusal_message(refusal, code=code)
    return Pricing(result=result, code=state, code_row=code_row, offers={o.id: o for o in relevant},
                   per_customer_limit=snapshot.per_customer_limit)


def _attribute_values(items: list[tuple[Variant, int]]) -> dict[int, frozenset[int]]:
    through = Product.attribute_values.through
    found: dict[int, set[int]] = {}
    for product_id, value_id in through.objects.filter(
        product_id__in={variant.product_id for variant, _q in items}
    ).values_list("product_id", "attributevalue_id"):
        found.setdefault(product_id, set()).add(value_id)
    return {pk: frozenset(values) for pk, values in found.items()}


def _customer_q(shopper: Shopper, prefix: str = "") -> Q | None:
    if shopper.signed_in:
        return Q(**{f"{prefix}user": shopper.user})
    if shopper.email:
        return Q(**{f"{prefix}email__iexact": shopper.email})
    return None


def _first_order(shopper: Shopper) -> bool:
    """No earlier order that kept its payment (by account, or by email for a guest); one query."""
    from orders.models import Order, paid_orders

    who = _customer_q(shopper)
    if who is None:
        return True
    return not Order.objects.filter(who).filter(paid_orders()).exists()


def _segments(shopper: Shopper, segment_ids: set[int]) -> frozenset[int]:
    """Which of `segment_ids` the shopper's customer record is in (one query per segment)."""
    if not segment_ids:
        return frozenset()
    from customers.models import Customer, Segment
    from customers.selectors.segments import segment_filter

    if shopper.signed_in:
        customers = Customer.objects.filter(user=shopper.user)
    elif shopper.email:
        customers = Customer.objects.filter(email__iexact=shopper.email)
    else:
        return frozenset()
    inside = set()
    for segment in Segment.objects.filter(pk__in=segment_ids):
        if customers.filter(segment_filter(segment)).exists():
            inside.add(segment.pk)
    return frozenset(inside)


def _used_up(shopper: Shopper, limits: dict[int, int]) -> frozenset[int]:
    """Offers whose per-customer limit this shopper reached (one query, none without limits)."""
    if not limits:
        return frozenset()
    who = _customer_who(shopper)
    if who is None:
        return frozenset()
    counts = dict(
        Redemption.objects.filter(who, promotion_id__in=limits, released_at__isnull=True)
        .values_list("promotion_id").annotate(n=Count("pk")).values_list("promotion_id", "n")
    )
    return frozenset(pk for pk, limit in limits.items() if counts.get(pk, 0) >= limit)


def _customer_who(shopper: Shopper) -> Q | None:
    """Redemptions of this shopper: by their account, and by their email (lower case) either way."""
    email = (shopper.email or (getattr(shopper.user, "email", "") if shopper.signed_in else "")).lower()
    q = Q(email=email) if email else None
    if shopper.signed_in:
        q = Q(user=shopper.user) | q if q is not None else Q(user=shopper.user)
    return q


def money_unit() -> Decimal:
    """The currency's minor unit: 0.01 for USD, 1 for JPY."""
    return Decimal(1).scaleb(quantize(Decimal(1), currency_code()).as_tuple().exponent)
