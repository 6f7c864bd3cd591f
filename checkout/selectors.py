"""Reads for checkout: shipping methods for a country, tax rates, pick-up shops, country names.

Each read is a fixed number of queries whatever the size of the cart; nothing here locks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.db import router
from django.utils import translation

from carts.selectors import CartContents
from catalog import precompiled, stock
from catalog.models import Location

from .models import ShippingMethod, ShippingRateBand, ShippingZone, TaxRate

# Babel's territories include regions and placeholders that are not countries one ships to.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})


def default_country() -> str:
    """The store's own country, from its locale (en_US -> US): the checkout form's first choice."""
    _language, _sep, territory = settings.STORE_LOCALE.partition("_")
    return territory.upper() or "US"


@lru_cache(maxsize=16)
def _countries(language: str) -> tuple[tuple[str, str], ...]:
    try:
        locale = Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en")
    names = {
        code: name for code, name in locale.territories.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    }
    return tuple(sorted(names.items(), key=lambda item: item[1]))


def country_choices() -> tuple[tuple[str, str], ...]:
    """(ISO code, name in the current language) for every country, sorted by name (no query)."""
    return _countries(translation.get_language() or settings.LANGUAGE_CODE)


def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _active_methods():
    return (
        ShippingMethod.objects.filter(is_active=True)
        .order_by("zone__position", "zone__name", "zone_id", "position", "name")
        .values_list(*_attnames(ShippingMethod), *[f"zone__{name}" for name in _attnames(ShippingZone)])
    )


def _bands(method_ids: list[int]):
    return ShippingRateBand.objects.filter(method_id__in=method_ids).order_by("up_to").values_list(
        *_attnames(ShippingRateBand))


def methods_for_country(*, country: str) -> list[ShippingMethod]:
    """The active methods of the first zone (by position) that lists `country`, bands prefetched.

    A country listed by several zones takes the first one's methods only, so staff can put a
    special case ("Alaska and Hawaii") above a catch-all zone. Two queries, each compiled once
    per process (`catalog.precompiled`; every checkout step asks): the methods with their zone,
    and the bands of the methods kept, in order of `up_to`.
    """
    alias = router.db_for_read(ShippingMethod)
    split = len(_attnames(ShippingMethod))
    zone_field = ShippingMethod._meta.get_field("zone")
    zones: dict[int, ShippingZone] = {}
    methods = []
    for row in precompiled.rows("checkout:methods", _active_methods, model=ShippingMethod):
        method = ShippingMethod.from_db(alias, None, row[:split])
        zone = zones.get(row[split])
        if zone is None:
            zone = zones[row[split]] = ShippingZone.from_db(alias, None, row[split:])
        zone_field.set_cached_value(method, zone)
        methods.append(method)
    country = country.upper()
    zone_id = next((method.zone_id for method in methods if country in method.zone.country_codes), None)
    kept = [method for method in methods if method.zone_id == zone_id]
    bands: dict[int, list[ShippingRateBand]] = {method.pk: [] for method in kept}
    method_field = ShippingRateBand._meta.get_field("method")
    if kept:
        for row in precompiled.rows("checkout:bands", _bands, list(bands), model=ShippingRateBand):
            band = ShippingRateBand.from_db(alias, None, row)
            bands[band.method_id].append(band)
    for method in kept:
        for band in bands[method.pk]:
            method_field.set_cached_value(band, method)
        precompiled.set_prefetched(method, "bands", bands[method.pk])
    return kept


@dataclass(frozen=True)
class PickupAvailability:
    """Shops that allow pick-up, split by whether they hold everything in the cart right now."""

    ready: list[Location]
    not_ready: list[Location]


def pickup_availability(*, cart: CartContents) -> PickupAvailability:
    """Where the cart's purchasable lines could be collected (two queries; none for an empty cart
    or one with nothing to ship: gift cards are emailed, never collected).

    A snapshot without locks: placing the order reserves at the chosen shop and has the last word.
    """
    if not cart.shippable_items:
        return PickupAvailability(ready=[], not_ready=[])
    ready = ready_pickup_locations(cart=cart)
    ready_ids = {location.pk for location in ready}
    alias = router.db_for_read(Location)
    others = [
        location for location in (Location.from_db(alias, None, row) for row in precompiled.rows(
            "checkout:pickup-shops", _pickup_shops, model=Location))
        if location.pk not in ready_ids
    ]
    return PickupAvailability(ready=ready, not_ready=others)


def _pickup_shops():
    return Location.objects.filter(is_active=True, pickup_allowed=True).order_by("position", "name").values_list(
        *_attnames(Location))


def ready_pickup_locations(*, cart: CartContents) -> list[Location]:
    """The shops allowing pick-up that hold every purchasable shipped line now (one query; none
    for an empty cart). A snapshot without locks, like `pickup_availability`."""
    requests = [stock.StockRequest(variant_id=item.variant.pk, quantity=item.quantity) for item in cart.shippable_items]
    return stock.locations_with_everything(requests=requests) if requests else []


@dataclass(frozen=True)
class CollectOnlyLine:
    """A cart line that cannot be delivered in full: only `deliverable` of its `quantity` can, and
    the pick-up shops `shop_ids` can hand over all of it (none of them ships online orders)."""

    title: str
    sku: str
    quantity: int
    deliverable: int
    shop_ids: list[int]


def collect_only_lines(*, cart: CartContents) -> list[CollectOnlyLine]:
    """The cart's shipped lines that delivery cannot take in full, with the pick-up shops that hold
    each (`catalog.stock.OnlineStock`, the one rule). One query; none for a cart with nothing to
    ship. A snapshot without locks: placement reserves, and refuses, under lock."""
    items = cart.shippable_items
    if not items:
        return []
    online = stock.online_stock([item.variant.pk for item in items])
    lines = []
    for item in items:  # one line per variant (carts.CartLine)
        units = online[item.variant.pk]
        if units.deliverable < item.quantity:
            lines.append(CollectOnlyLine(
                title=item.title, sku=item.sku, quantity=item.quantity, deliverable=units.deliverable,
                shop_ids=units.collect_only(item.quantity),
            ))
    return lines


def tax_rates(*, country: str) -> dict[str, TaxRate]:
    """The country's rates by tax class ("" is the default rate). One query."""
    return {rate.tax_class: rate for rate in TaxRate.objects.filter(country=country.upper())}


def last_addresses(*, user) -> dict | None:
    """The signed-in customer's most recent order's contact and addresses, to fill the form in.

    The store keeps no address book yet; the last order is the address a returning customer most
    likely wants. One query; None for a guest or a first order.
    """
    if user is None or not user.is_authenticated:
        return None
    from orders.models import Order

    order = (
        Order.objects.filter(user=user).order_by("-created_at", "-pk")
        .values("phone", "shipping_address", "billing_address").first()
    )
    return order
