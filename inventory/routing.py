"""Fulfilment routing: which location an online order's stock is reserved at, and why.

Locations are tried in their order (warehouses first, then shops, each by position; inactive ones
never, nor those that do not ship online orders, `Location.ships_online_orders`): the first
holding every item ships the whole order (a pick-up order reserves at its shop whatever its
flag). When none does, the rule staff set (`RoutingPolicy.split`) says whether to split or refuse. `catalog.stock.reserve_counting` applies
this under the stock rows' locks and asks for the rule only when no location holds everything, so
an ordinary order pays no query for it. The decision is kept in the order's "placed" event
(`data["routing"]`) and explained on the order's admin page (`explain`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.cache import cache
from django.utils.translation import gettext as _

from .models import RoutingPolicy

CACHE_KEY = "inventory:routing-policy"
CACHE_SECONDS = 300
Split = RoutingPolicy.Split


def current_split() -> str:
    """The split rule in force (cached; `services.set_routing_policy` forgets it on commit)."""
    split = cache.get(CACHE_KEY)
    if split is None:
        split = RoutingPolicy.objects.filter(pk=1).values_list("split", flat=True).first() or Split.WHEN_NEEDED
        cache.set(CACHE_KEY, split, CACHE_SECONDS)
    return split


@dataclass
class Route:
    pickup: bool
    asked: list[str] = field(default_factory=list)  # the rule, once read

    def may_split(self) -> bool:
        self.asked.append(current_split())
        return self.asked[-1] == Split.WHEN_NEEDED

    @property
    def reserve_options(self) -> dict:
        """Keyword arguments for `catalog.stock.reserve_counting`."""
        return {} if self.pickup else {"whole_first": True, "may_split": self.may_split, "shipping_only": True}

    def record(self, reservation, *, again: bool = False) -> dict:
        """What to keep in the order's history: how it was routed and where the units went.
        `again`: reserved anew for a payment that came after the reservation expired."""
        decision = {
            "split": "pickup" if self.pickup else (self.asked[-1] if self.asked else ""),
            "whole_at": reservation.whole_at,
            "locations": list(dict.fromkeys(a.location_id for a in reservation.allocations)),
        }
        if again:
            decision["again"] = True
        return decision


def route(*, location_ids: Sequence[int] | None) -> Route:
    """The route of an order: a pick-up order reserves at its shop (the `location_ids` checkout
    gives); a delivery follows the routing rules."""
    return Route(pickup=location_ids is not None)


def per_line_record(reservation) -> dict:
    """What to keep for an order whose lines each named their locations (a counter sale)."""
    return {"split": "per_line", "whole_at": None,
            "locations": list(dict.fromkeys(a.location_id for a in reservation.allocations))}


def explain(decision: dict | None, names: dict[int, str]) -> str:
    """The decision kept at placement, in words for staff (`names`: location id -> name)."""
    if not decision:
        return _("Placed before routing was recorded: see the allocations.")
    if decision.get("again"):
        return _("Paid after its reservation expired, so reserved again by the same rules. %(why)s") % {
            "why": explain({**decision, "again": False}, names)}
    places = ", ".join(names.get(pk, str(pk)) for pk in decision.get("locations", []))
    if decision.get("split") == "pickup":
        return _("Reserved at %(places)s, the shop the shopper chose for pick-up.") % {"places": places}
    if decision.get("split") == "per_line":
        return _("Each line reserved where staff sold it from (the shop's shelf, or a warehouse that ships it "
                 "to the customer): %(places)s.") % {"places": places}
    if decision.get("whole_at") is not None:
        return _("Everything reserved at %(place)s: the first location that ships online orders (warehouses first, "
                 "then shops by position) holding every item, so the order ships in one parcel.") % {
            "place": names.get(decision["whole_at"])}
    return _("No single location held every item and the rule allows splitting, so the order is split: "
             "%(places)s.") % {"places": places}
