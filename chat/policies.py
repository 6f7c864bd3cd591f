"""Shipping, pick-up and returns answers, written from what the store is set up with now: the
active shipping zones, methods and rate bands (checkout/), the shops customers may pick up from
(catalog `Location`), and the return policy staff set (`returns.ReturnPolicy`). Nothing here is typed-in
policy text: change a rate in the back office and the assistant says the new one.

Each answer is a few queries on small tables (zones and locations are a handful of rows).
"""
from __future__ import annotations

import re

from django.conf import settings
from django.db.models import Prefetch
from django.utils.translation import gettext as _

TOPICS = ("shipping", "pickup", "returns")

PICKUP = re.compile(r"\b(pick\s*-?\s*up|collect(ion)?|click\s*(and|&)\s*collect|in\s+store|in\s+a\s+shop)\b", re.I)
RETURNS = re.compile(r"\b(returns?|returning|refunds?|send\s+(it\s+|them\s+|something\s+)?back|exchange)\b", re.I)
SHIPPING = re.compile(r"\b(ship(s|ping|ped)?|deliver(y|ies|ed)?|postage|arrive|courier|abroad)\b", re.I)


def topic_of(text: str) -> str:
    """The policy a question is about ("" when none). Pick-up first: "can I collect my order
    instead of delivery?" is about pick-up."""
    for topic, pattern in (("pickup", PICKUP), ("returns", RETURNS), ("shipping", SHIPPING)):
        if pattern.search(text):
            return topic
    return ""


def _money(amount) -> str:
    from shop.money import format_money

    return format_money(amount)


def _method_price(method) -> str:
    from checkout.models import ShippingMethod

    if method.kind == ShippingMethod.Kind.FLAT:
        text = _("free") if method.price == 0 else _money(method.price)
    else:
        bands = list(method.bands.all())
        if not bands:
            return ""
        cheapest = min(band.price for band in bands)
        text = _("from %(price)s") % {"price": _money(cheapest)}
    if method.free_above is not None:
        text += ", " + _("free from %(amount)s") % {"amount": _money(method.free_above)}
    return text


def pickup_locations() -> list:
    from catalog.models import Location

    return list(Location.objects.filter(is_active=True, pickup_allowed=True).order_by("position", "name"))


def _place(location) -> str:
    address = ", ".join(part for part in (location.address_line1, location.postal_code, location.city) if part)
    return f"{location.name} ({address})" if address else location.name


def shipping_answer() -> str:
    from checkout.models import ShippingMethod, ShippingRateBand, ShippingZone

    zones = ShippingZone.objects.prefetch_related(Prefetch(
        "methods", queryset=ShippingMethod.objects.filter(is_active=True).prefetch_related(
            Prefetch("bands", queryset=ShippingRateBand.objects.order_by("up_to")))))
    lines = []
    for zone in zones:
        methods = [f"{m.name}: {price}" for m in zone.methods.all() if (price := _method_price(m))]
        if methods:
            lines.append(_("%(zone)s (%(countries)s): %(methods)s.") % {
                "zone": zone.name, "countries": ", ".join(zone.country_codes), "methods": "; ".join(methods)})
    if not lines:
        answer = _("We have no delivery options set up right now; a person from our team can help.")
    else:
        answer = _("We deliver to:") + "\n" + "\n".join(lines)
        answer += "\n" + _("The exact price for your cart is shown at checkout before you pay.")
    if pickup_locations():
        answer += "\n" + _("You can also pick up your order free of charge (ask me about pick-up).")
    return answer


def pickup_answer() -> str:
    locations = pickup_locations()
    if not locations:
        return _("We do not offer pick-up at the moment; we deliver (ask me about shipping).")
    places = "\n".join(f"- {_place(location)}" for location in locations)
    return (_("You can pick up your order free of charge at:") + "\n" + places + "\n"
            + _("Choose pick-up at checkout; we email you when your order is ready to collect."))


def returns_answer() -> str:
    """From the return policy staff set (returns.ReturnPolicy): the window, what never comes back,
    their note, and where to start a return."""
    from returns.models import ReturnPolicy

    policy = ReturnPolicy.current()
    if policy.window_days <= 0:
        return _("For returns, a person from our team will help you.")
    parts = [_("You can ask to send items back within %(days)d days of their shipping: open your order "
               "(from your account, or the link in your confirmation email) and choose \"Return items\". "
               "The refund goes back to how you paid.") % {"days": policy.window_days}]
    excluded = sorted(policy.excluded_categories.values_list("name", flat=True))
    if excluded:
        parts.append(_("These cannot be returned: %(categories)s.") % {"categories": ", ".join(excluded)})
    if policy.note.strip():
        parts.append(policy.note.strip())
    return "\n".join(parts)


def answer(topic: str) -> str:
    """The answer for one of TOPICS (ValueError for another)."""
    if topic == "shipping":
        return shipping_answer()
    if topic == "pickup":
        return pickup_answer()
    if topic == "returns":
        return returns_answer()
    raise ValueError(f"unknown policy topic {topic!r}")
