"""Reads for the sell screen: what a scan or a search finds, the sale being built, the customer."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from catalog.models import Location, OptionValue, StockLevel, Variant
from customers.models import Customer
from customers.services import normalise_phone
from saleschannels.models import Channel
from saleschannels.selectors import channel_prices, channel_products, counter_channel
from shop.money import quantize

from .models import RegisterSession

SEARCH_LIMIT = 12


def open_session(session_id: int) -> RegisterSession | None:
    return RegisterSession.objects.select_related("register__location", "opened_by").filter(pk=session_id).first()


def open_sessions_at(*, location_id: int) -> list[RegisterSession]:
    """The registers open now at a shop, first opened first (one query): where cash paid back at
    that counter comes from (`returns.services.refund_return`)."""
    return list(RegisterSession.objects.select_related("register__location")
                .filter(register__location_id=location_id, closed_at__isnull=True).order_by("opened_at", "pk"))


def _variants(channel: Channel) -> QuerySet[Variant]:
    return Variant.objects.filter(is_active=True, product__in=channel_products(channel=channel).values("pk")) \
        .select_related("product").prefetch_related(
            Prefetch("option_values", queryset=OptionValue.objects.select_related("option")))


def find_items(*, channel: Channel, code: str) -> list[Variant]:
    """What the scan box finds: the variant with this barcode, else this SKU, else names that match.

    A scanner types the code and Enter, so an exact barcode or SKU answers with one variant (one
    indexed query); otherwise up to SEARCH_LIMIT variants whose product title or SKU contains it.
    """
    code = code.strip()
    if not code:
        return []
    exact = list(_variants(channel).filter(Q(barcode=code) | Q(sku__iexact=code))[:2])
    if exact:
        return exact
    return list(_variants(channel).filter(Q(product__title__icontains=code) | Q(sku__icontains=code))
                .order_by("product__title", "position", "pk")[:SEARCH_LIMIT])


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def find_customers(*, query: str) -> list[Customer]:
    """Customers by email (exact, any case) or phone. A number staff verified for a customer is
    that customer alone; otherwise every customer who typed the same digits (the last 6 narrow the
    query), shown unverified for the cashier to check."""
    query = query.strip()
    people = Customer.objects.filter(erased_at__isnull=True)
    if "@" in query:
        return list(people.filter(email=query.lower())[:1])
    if (number := normalise_phone(query)) and (verified := people.filter(verified_phone=number).first()):
        return [verified]
    # "020 7946 0018" and "+44 20 7946 0018" are one number: the national digits without the
    # trunk 0 end both.
    wanted = digits(query).lstrip("0")
    if len(wanted) < 6:
        return []
    return [c for c in people.filter(phone__contains=wanted[-2:]).order_by("pk")[:200]
            if (have := digits(c.phone).lstrip("0")) and (have.endswith(wanted) or wanted.endswith(have))][:5]


@dataclass
class CartLine:
    variant: Variant
    quantity: int
    ship: bool
    unit_price: Decimal
    line_total: Decimal
    at_shop: int  # available on the shop's shelf now
    at_warehouses: int

    @property
    def short_here(self) -> bool:
        return not self.ship and self.quantity > self.at_shop

    @property
    def options(self) -> str:
        return ", ".join(f"{v.option.name}: {v.value}" for v in self.variant.option_values.all())


@dataclass
class SaleView:
    session: RegisterSession
    channel: Channel | None
    lines: list[CartLine] = field(default_factory=list)
    total: Decimal = Decimal("0")
    customer: Customer | None = None

    @property
    def ships(self) -> bool:
        return any(line.ship for line in self.lines)

    @property
    def can_pay(self) -> bool:
        return bool(self.lines) and not any(line.short_here for line in self.lines)


def sale_view(*, session: RegisterSession, cart: dict) -> SaleView:
    """The sale being built, priced as the order will be (channel prices, tax as `place_order` does),
    with what the shop and the warehouses hold of each item. A fixed number of queries whatever
    the cart holds."""
    from checkout.services import tax_table
    from orders.services.placement import priced_line

    shop = session.register.location
    channel = counter_channel(location_id=shop.pk)
    view = SaleView(session=session, channel=channel)
    wanted = {int(pk): (int(qty), bool(ship)) for pk, qty, ship in cart.get("lines", [])}
    if cart.get("customer_id"):
        view.customer = Customer.objects.filter(pk=cart["customer_id"], erased_at__isnull=True).first()
    if channel is None or not wanted:
        return view
    variants = {v.pk: v for v in _variants(channel).filter(pk__in=wanted)}
    prices = channel_prices(channel=channel, variant_ids=variants) if channel.price_list_id else {}
    here, away = {}, {}
    for row in StockLevel.objects.filter(variant_id__in=variants, location__is_active=True).values(
            "variant_id", "location_id", "location__kind", "location__ships_online_orders", "on_hand", "reserved"):
        free = row["on_hand"] - row["reserved"]
        if row["location_id"] == shop.pk:
            here[row["variant_id"]] = free
        elif row["location__kind"] == Location.Kind.WAREHOUSE and row["location__ships_online_orders"]:
            # What `services.sell` ships from (active ones that ship: `catalog.stock.deliverable_q`).
            away[row["variant_id"]] = away.get(row["variant_id"], 0) + free
    rates = tax_table(country=shop.country or "")
    included = settings.STORE_PRICES_INCLUDE_TAX
    for pk, (qty, ship) in wanted.items():
        variant = variants.get(pk)
        if variant is None:
            continue  # no longer sold here: dropped from the sale
        unit = quantize(prices.get(pk, variant.price))
        _unit_tax, _tax, line_total = priced_line(unit, qty, rates.rate_for(variant), included=included)
        view.lines.append(CartLine(variant=variant, quantity=qty, ship=ship, unit_price=unit, line_total=line_total,
                                   at_shop=max(here.get(pk, 0), 0), at_warehouses=max(away.get(pk, 0), 0)))
        view.total += line_total
    return view
