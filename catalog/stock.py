"""Stock reservations: what orders promise, ship, give back and put back on the shelf.

A stock level holds `on_hand` units of a variant at a location (the back office sets it through
`services.set_stock_levels`); `reserved` of those are promised to orders that have not shipped.
What a shopper can still buy is `on_hand - reserved`, and the database keeps
0 <= reserved <= on_hand.

Rules every writer here follows, and every caller must know:

- It runs in the caller's transaction (asserted), so the stock change commits or rolls back with
  the order change that caused it.
- It locks the rows it touches through `_lock_rows`, in one statement ordered by primary key, the
  same order `services.set_stock_levels` uses: concurrent checkouts, cancellations, shipments and
  admin edits queue on the rows they share and can never deadlock with each other. A transaction
  must take all the stock rows it needs in one call (reserve every line at once), because locks
  taken by two separate calls are no longer in one global order.
- It checks everything before writing anything: a refusal changes nothing.
- Every change to `on_hand` writes its movements to the ledger (`inventory.ledger.record`) in the
  same transaction, with the caller's `cause` (who, why, which order or transfer).
- It bumps on commit the storefront versions of the products whose availability it changed: their
  pages, and the cards and category listings of those that sold out or came back
  (catalog/invalidation.py), never the whole store. When a stock row sells out or comes back it
  also sets the product's in-stock bit in the listing index in place (catalog/listing_index.py),
  from the product's stock read again under the index row's lock, so that two orders selling out
  two variants of one product at once cannot both miss the sell-out.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import router, transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import ledger
from inventory.ledger import Cause
from inventory.models import Reason

from . import invalidation
from . import listing_index
from . import precompiled
from .exceptions import AllocationMismatch, OutOfStock, Shortage, StockBelowReserved, StockChangedMeanwhile
from .models import Location, StockLevel, Variant


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValueError(f"quantity must be a positive whole number, not {quantity!r}")


@dataclass(frozen=True)
class StockRequest:
    """`quantity` units of one variant, wanted by an order. A quantity below 1 raises ValueError."""

    variant_id: int
    quantity: int

    def __post_init__(self) -> None:
        _check_quantity(self.quantity)


@dataclass(frozen=True)
class Allocation:
    """`quantity` units reserved at one stock level (a variant at a location).

    `reserve` returns these; the order keeps them and hands the same ones back to `release` or
    `fulfil`. A quantity below 1 raises ValueError.
    """

    stock_level_id: int
    variant_id: int
    location_id: int
    quantity: int

    def __post_init__(self) -> None:
        _check_quantity(self.quantity)


# --- Writers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """What `reserve_counting` did: the allocations, and the units left afterwards."""

    allocations: list[Allocation]
    # Units still available per requested variant over every active location, counted from the
    # rows locked for the reservation; None when those were not all of them (`location_ids` given).
    available_after: dict[int, int] | None
    # With `whole_first`: the location that held every request (None: split, or not asked).
    whole_at: int | None = None


def reserve(*, requests: Sequence[StockRequest], location_ids: Sequence[int] | None = None) -> list[Allocation]:
    """Reserve every request, or nothing, and return where the units were taken from.

    Precondition: the caller is inside `transaction.atomic()` (TransactionManagementError
    otherwise); the reservation commits with the caller's order. Requests for the same variant are
    added up. Locks every stock row of the requested variants at the allowed active locations
    (select_for_update, primary-key order, one statement; see the module docstring), then checks
    that each variant has enough available units over those locations. If any does not, raises
    OutOfStock naming every short variant with the units wanted and available, and changes nothing.
    Otherwise adds the units to `reserved` in one UPDATE and bumps the storefront versions on commit.

    `location_ids` are the locations allowed to supply, in order of preference (inactive ones are
    ignored). None means every active location: warehouses first, then shops, each by position
    and name, so orders ship from the warehouse and shop shelves stay for walk-in and pick-up
    customers. A request takes what it can from the first location, then the next, so it may be
    split; the allocations come in request order, then location order.
    """
    return reserve_counting(requests=requests, location_ids=location_ids).allocations


def reserve_counting(
    *, requests: Sequence[StockRequest], location_ids: Sequence[int] | None = None, whole_first: bool = False,
    may_split: Callable[[], bool] | None = None, shipping_only: bool = False,
) -> Reservation:
    """`reserve`, also telling how many units of each variant are left (no extra query).

    Same contract as `reserve`. Without `location_ids` the locked rows are every active row of the
    variants, so `available_after` is exact (the rows stay locked until the caller commits); with
    them it is None and a caller that needs totals reads them (`can_reserve`).

    The fulfilment routing rules (inventory.routing) decide, under the same locks: `whole_first`
    takes everything from the first location, in preference order, that holds every request
    (`Reservation.whole_at`); when none does, `may_split()` is asked (only then, so the rule costs
    nothing for orders one location can ship) and the order is split across locations as above,
    or, if it says no, refused with OutOfStock naming what the best single location lacks.
    `shipping_only` (a delivered online order) takes units only from locations that ship online
    orders (`reach` DELIVER, the online availability rule the storefront shows); the other rows are still locked and counted in
    `available_after` (they are still stock, for the counter and click and collect).
    """
    wanted = _summed(requests)
    rows = StockLevel.objects.filter(variant_id__in=wanted, location__is_active=True)
    if location_ids is not None:
        rows = rows.filter(location_id__in=location_ids)
    locked = _lock_rows(rows, writer="reserve")
    by_variant: dict[int, list[StockLevel]] = defaultdict(list)
    usable: dict[int, list[StockLevel]] = defaultdict(list)
    for level in sorted(locked, key=_location_order(location_ids)):
        by_variant[level.variant_id].append(level)
        if not shipping_only or _reach_of(level.location) == Reach.DELIVER:
            usable[level.variant_id].append(level)

    short = {
        variant_id: (quantity, available)
        for variant_id, quantity in wanted.items()
        if (available := sum(level.available for level in usable[variant_id])) < quantity
    }
    if short:
        raise OutOfStock(shortages=_shortages(short))

    sources, whole_at = usable, None
    if whole_first:
        whole_at, short = _whole_location(wanted, usable)
        if whole_at is not None:
            sources = {variant_id: [level for level in levels if level.location_id == whole_at]
                       for variant_id, levels in usable.items()}
        elif may_split is not None and not may_split():
            raise OutOfStock(shortages=_shortages(short))

    allocations = _allocate(wanted, sources)
    _add(_per_row(allocations), reserved=+1)
    available_after = None
    if location_ids is None:
        available_after = {
            variant_id: sum(level.available for level in by_variant[variant_id]) - quantity
            for variant_id, quantity in wanted.items()
        }
    return Reservation(allocations=allocations, available_after=available_after, whole_at=whole_at)


def reserve_lines(*, requests: Sequence[tuple[StockRequest, Sequence[int]]]) -> Reservation:
    """Reserve each request from its own locations, in its own order of preference, or nothing.

    For sales where each line says where it comes from: a shop's counter takes one item off its
    own shelf and sells another from the warehouse to be shipped (endless aisle). Same contract as
    `reserve` (transaction required, OutOfStock naming every short variant and changing nothing,
    one UPDATE, storefront versions bumped on commit), and the same lock discipline: every row of
    every request is locked in one statement in primary-key order, so a sale here and an online
    checkout sharing rows queue on them and never deadlock. A variant may appear in one request
    only (ValueError otherwise): one line of an order has one source. `available_after` is None.
    """
    wanted: dict[int, tuple[int, list[int]]] = {}
    for request, location_ids in requests:
        if request.variant_id in wanted:
            raise ValueError(f"variant {request.variant_id} is requested twice")
        if not location_ids:
            raise ValueError(f"variant {request.variant_id} has no location to come from")
        wanted[request.variant_id] = (request.quantity, list(dict.fromkeys(location_ids)))
    if not wanted:
        return Reservation(allocations=[], available_after=None)
    condition = Q()
    for variant_id, (_quantity, location_ids) in wanted.items():
        condition |= Q(variant_id=variant_id, location_id__in=location_ids)
    locked = _lock_rows(StockLevel.objects.filter(condition, location__is_active=True), writer="reserve_lines")
    by_variant: dict[int, list[StockLevel]] = defaultdict(list)
    for level in locked:
        by_variant[level.variant_id].append(level)
    for variant_id, levels in by_variant.items():
        rank = {location_id: i for i, location_id in enumerate(wanted[variant_id][1])}
        levels.sort(key=lambda level: rank[level.location_id])
    short = {
        variant_id: (quantity, available)
        for variant_id, (quantity, _locations) in wanted.items()
        if (available := max(sum(level.available for level in by_variant[variant_id]), 0)) < quantity
    }
    if short:
        raise OutOfStock(shortages=_shortages(short))
    allocations = _allocate({variant_id: quantity for variant_id, (quantity, _l) in wanted.items()}, by_variant)
    _add(_per_row(allocations), reserved=+1)
    return Reservation(allocations=allocations, available_after=None)


def _allocate(wanted: Mapping[int, int], sources: Mapping[int, list[StockLevel]]) -> list[Allocation]:
    """Take each variant's units from its locked rows in the order given, as far as each goes
    (the caller checked there are enough)."""
    allocations = []
    for variant_id, quantity in wanted.items():
        for level in sources[variant_id]:
            taken = min(level.available, quantity)
            if taken > 0:
                allocations.append(Allocation(
                    stock_level_id=level.pk, variant_id=variant_id, location_id=level.location_id, quantity=taken
                ))
                quantity -= taken
            if not quantity:
                break
    return allocations


def _whole_location(
    wanted: dict[int, int], by_variant: dict[int, list[StockLevel]]
) -> tuple[int | None, dict[int, tuple[int, int]]]:
    """The first location (rows come in preference order) holding every request, else None and
    what the location covering the most units lacks (for OutOfStock)."""
    order: list[int] = []
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for variant_id, levels in by_variant.items():
        for level in levels:
            available[level.location_id][variant_id] = level.available
    for levels in by_variant.values():
        order.extend(level.location_id for level in levels)
    ranked = sorted(dict.fromkeys(order), key=order.index)
    for location_id in ranked:
        if all(available[location_id].get(v, 0) >= q for v, q in wanted.items()):
            return location_id, {}
    best = max(ranked, key=lambda loc: sum(min(available[loc].get(v, 0), q) for v, q in wanted.items()))
    return None, {v: (q, max(available[best].get(v, 0), 0)) for v, q in wanted.items()
                  if available[best].get(v, 0) < q}


def move_reservation(*, allocation: Allocation, to_location_id: int) -> Allocation:
    """Move reserved units to the same variant's stock at another location (staff re-routing).

    Precondition: the caller is inside `transaction.atomic()` and holds the order's row lock. Locks
    both stock rows in one statement, in pk order, checks the old row still holds the reserved
    units (AllocationMismatch) and the new one has them available (OutOfStock), then moves them in
    one UPDATE. On-hand stock does not change (no ledger movement). Returns the new allocation.
    """
    _check_quantity(allocation.quantity)
    locked = {level.pk: level for level in _lock_rows(
        StockLevel.objects.filter(Q(pk=allocation.stock_level_id) | Q(
            variant_id=allocation.variant_id, location_id=to_location_id, location__is_active=True)),
        writer="move_reservation",
    )}
    old = locked.get(allocation.stock_level_id)
    problem = _misfit(allocation.stock_level_id, allocation.quantity, [allocation], old)
    if problem:
        raise AllocationMismatch(stock_level_ids=[allocation.stock_level_id], problems=[problem])
    new = next((level for level in locked.values() if level.location_id == to_location_id
                and level.variant_id == allocation.variant_id), None)
    available = new.available if new is not None else 0
    if available < allocation.quantity:
        raise OutOfStock(shortages=_shortages({allocation.variant_id: (allocation.quantity, max(available, 0))}))
    _add({old.pk: -allocation.quantity, new.pk: allocation.quantity}, reserved=+1)
    return Allocation(stock_level_id=new.pk, variant_id=allocation.variant_id, location_id=to_location_id,
                      quantity=allocation.quantity)


def release(*, allocations: Sequence[Allocation]) -> None:
    """Give reserved units back (an order cancelled or expired): `reserved` -= quantity.

    Precondition: the caller is inside `transaction.atomic()` and releases each allocation once
    (e.g. while holding its order's row lock, in the same transaction as the status change).
    Locks the stock rows in primary-key order, checks every allocation still fits (its row exists,
    belongs to the same variant and location, and holds at least that many reserved units), and
    raises AllocationMismatch, changing nothing, if one does not. One UPDATE; bumps the storefront
    versions on commit.
    """
    _give_back(allocations=allocations, shipped=False)


def fulfil(*, allocations: Sequence[Allocation], cause: Cause | None = None) -> None:
    """The reserved goods leave the building: `on_hand` and `reserved` both drop by the quantity.

    Same contract as `release` (transaction required, rows locked in pk order, AllocationMismatch
    changing nothing, one UPDATE, storefront versions bumped on commit). A partial shipment passes only
    the allocations (or smaller quantities of them) that shipped. The units leave the ledger as
    `cause` (default: a sale with no order named).
    """
    _give_back(allocations=allocations, shipped=True, cause=cause or Cause(reason=Reason.SALE))


def restock(*, stock_level_id: int, quantity: int, cause: Cause | None = None) -> None:
    """Put returned units back on the shelf: `on_hand` += quantity.

    Precondition: the caller is inside `transaction.atomic()`. Locks the row (pk order, like every
    stock writer), raises StockLevel.DoesNotExist if it is gone and ValueError for a quantity
    below 1. Bumps the storefront versions on commit.
    """
    _check_quantity(quantity)
    locked = _lock_rows(StockLevel.objects.filter(pk=stock_level_id), writer="restock")
    if not locked:
        raise StockLevel.DoesNotExist(f"stock level {stock_level_id} does not exist")
    _add({stock_level_id: quantity}, on_hand=+1)
    ledger.record(cause=cause or Cause(reason=Reason.RETURN),
                  changes=[(locked[0].variant_id, locked[0].location_id, quantity)])


def restock_at(*, location_id: int, quantities: Mapping[int, int], cause: Cause | None = None) -> dict[int, int]:
    """Put returned units of several variants back on the shelf at one location: `on_hand` +=.

    `quantities` maps variant id -> units. Precondition: the caller is inside
    `transaction.atomic()`. A variant without a stock row there gets one (0 on hand, then the
    units; inserted in variant-id order, so concurrent restocks never deadlock); then every row
    is locked in one statement in primary-key order, like every stock writer, and raised in one
    UPDATE. Raises ValueError for a quantity below 1 and
    Location.DoesNotExist for a missing or inactive location, changing nothing. Bumps the storefront
    versions on commit. Returns variant id -> stock level id.
    """
    _require_transaction("restock_at")
    for quantity in quantities.values():
        _check_quantity(quantity)
    if not quantities:
        return {}
    if not Location.objects.filter(pk=location_id, is_active=True).exists():
        raise Location.DoesNotExist(f"location {location_id} does not exist or is not active")
    rows = StockLevel.objects.filter(location_id=location_id, variant_id__in=quantities)
    # Inserted rows stay held until commit, like locked ones: insert in one global order (variant
    # id, at this one location) so two restocks creating the same rows never wait for each other
    # crosswise.
    StockLevel.objects.bulk_create(
        [StockLevel(variant_id=variant_id, location_id=location_id, on_hand=0) for variant_id in sorted(quantities)],
        ignore_conflicts=True,
    )
    level_ids = {level.variant_id: level.pk for level in _lock_rows(rows, writer="restock_at")}
    _add({level_ids[variant_id]: quantity for variant_id, quantity in quantities.items()}, on_hand=+1)
    ledger.record(cause=cause or Cause(reason=Reason.RETURN),
                  changes=[(variant_id, location_id, quantity) for variant_id, quantity in quantities.items()])
    return level_ids


def adjust(
    *, location_id: int, deltas: Mapping[int, int], cause: Cause, expected: Mapping[int, int] | None = None
) -> dict[int, tuple[int, int]]:
    """Add `deltas[variant_id]` units (negative: take away) to what one location has on hand.

    For stock adjustments, counts and transfers: units that arrive, leave or turn out missing
    without an order. Precondition: the caller is inside `transaction.atomic()`. Works in a
    savepoint: rows created for variants the location did not stock (positive deltas only;
    inserted in variant-id order, like `restock_at`) and every change roll back on refusal. Locks
    the location's rows of these variants in one statement, in pk order, like every stock writer.
    Refuses, changing nothing, with Location.DoesNotExist for a missing or inactive location,
    StockChangedMeanwhile when a row no longer holds `expected[variant_id]` on hand (the figure
    staff saw), and StockBelowReserved when on hand would drop below the units reserved for
    orders (so taking units away never takes promised ones). Writes the movements as `cause` and
    bumps the storefront versions on commit. Returns variant id -> (on hand before, after).
    """
    _require_transaction("adjust")
    deltas = {variant_id: delta for variant_id, delta in deltas.items() if delta}
    if not deltas:
        return {}
    location = Location.objects.filter(pk=location_id, is_active=True).first()
    if location is None:
        raise Location.DoesNotExist(f"location {location_id} does not exist or is not active")
    with transaction.atomic():
        StockLevel.objects.bulk_create(
            [StockLevel(variant_id=variant_id, location_id=location_id, on_hand=0)
             for variant_id in sorted(deltas) if deltas[variant_id] > 0],
            ignore_conflicts=True,
        )
        locked = {level.variant_id: level for level in _lock_rows(
            StockLevel.objects.filter(location_id=location_id, variant_id__in=deltas), writer="adjust"
        )}
        result = {}
        for variant_id, delta in deltas.items():
            level = locked.get(variant_id)
            before = level.on_hand if level else 0
            if expected is not None and variant_id in expected and before != expected[variant_id]:
                raise StockChangedMeanwhile(**_described(variant_id, location), expected=expected[variant_id],
                                            current=before)
            reserved = level.reserved if level else 0
            if before + delta < reserved:
                raise StockBelowReserved(**_described(variant_id, location), on_hand=before + delta, reserved=reserved)
            result[variant_id] = (before, before + delta)
        _add({locked[variant_id].pk: delta for variant_id, delta in deltas.items()}, on_hand=+1)
        ledger.record(cause=cause, changes=[(variant_id, location_id, delta) for variant_id, delta in deltas.items()])
    return result


def _described(variant_id: int, location: Location) -> dict:
    sku = Variant.objects.filter(pk=variant_id).values_list("sku", flat=True).first() or str(variant_id)
    return {"variant_id": variant_id, "location_id": location.pk, "sku": sku, "location": location.name}


# --- Reads (no locks: a snapshot for display; `reserve` decides under lock) ---------------------


# Online availability: the one rule for what the storefront, the cart, checkout and the counter's
# endless aisle call available, the same as fulfilment routing reserves (`reserve_counting`,
# inventory.routing). Units at an active location that ships online orders can be delivered (and
# collected there, if it allows pick-up); units at an active location that does not ship but
# allows pick-up can be collected at that location only (a pick-up order reserves at its shop
# whatever the flag); units anywhere else (an inactive location, a shop whose stock is for its
# counter) are not offered online. A variant or product is available online (cards, the listing
# index's stock bit, "in stock" filters) when one unit can be delivered or collected.


class Reach:
    """How online shoppers can have a location's units (`reach`)."""

    DELIVER = "deliver"  # delivered (and collected too, where pick-up is allowed)
    COLLECT = "collect"  # collected at that location only
    NONE = ""  # not offered online


def reach(*, is_active: bool, ships_online_orders: bool, pickup_allowed: bool) -> str:
    """The rule, for one location, in Python (`sold_online_q` and `deliverable_q` say it in SQL)."""
    if not is_active:
        return Reach.NONE
    if ships_online_orders:
        return Reach.DELIVER
    return Reach.COLLECT if pickup_allowed else Reach.NONE


def _reach_of(location: Location) -> str:
    return reach(is_active=location.is_active, ships_online_orders=location.ships_online_orders,
                 pickup_allowed=location.pickup_allowed)


def deliverable_q(prefix: str = "location__") -> Q:
    """Locations (through `prefix`) whose units can be delivered: `reach` DELIVER."""
    return Q(**{f"{prefix}is_active": True, f"{prefix}ships_online_orders": True})


def sold_online_q(prefix: str = "location__") -> Q:
    """Locations (through `prefix`) whose units can be bought online: `reach` DELIVER or COLLECT."""
    return Q(**{f"{prefix}is_active": True}) & (
        Q(**{f"{prefix}ships_online_orders": True}) | Q(**{f"{prefix}pickup_allowed": True})
    )


def available_online_q() -> Q:
    """Stock rows holding a unit of an active variant that shoppers can buy online: a product with
    one is "in stock" on its card, in the listing index and the "in stock" filter."""
    return Q(variant__is_active=True, on_hand__gt=F("reserved")) & sold_online_q()


@dataclass(frozen=True)
class OnlineStock:
    """A variant's units as online shoppers can have them (`online_stock`)."""

    deliverable: int = 0  # over the locations that ship online orders (a delivery may be split)
    # Units per active pick-up location (whether it ships or not): a pick-up takes them all there.
    collectable: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def tally(cls, rows) -> OnlineStock:
        """From one variant's stock rows as (location reach, pick-up allowed, location id, units available)."""
        deliverable, collectable = 0, {}
        for where, pickup_allowed, location_id, units in rows:
            units = max(units, 0)
            if where == Reach.DELIVER:
                deliverable += units
            if where and pickup_allowed:
                collectable[location_id] = collectable.get(location_id, 0) + units
        return cls(deliverable=deliverable, collectable=collectable)

    @classmethod
    def at(cls, levels: Iterable[tuple[Location, int]]) -> OnlineStock:
        """From one variant's (location, units available) pairs."""
        return cls.tally((_reach_of(location), location.pickup_allowed, location.pk, units) for location, units in levels)

    @property
    def orderable(self) -> int:
        """The most one order can have: delivered, or collected at one shop. What the cart allows."""
        return max(self.deliverable, *self.collectable.values(), 0)

    def collect_only(self, quantity: int = 1) -> list[int]:
        """The pick-up locations holding `quantity` when fewer can be delivered (else none)."""
        if self.deliverable >= quantity:
            return []
        return [location_id for location_id, units in self.collectable.items() if units >= quantity]


def _online_levels(variant_ids: list[int]) -> QuerySet:
    return StockLevel.objects.filter(sold_online_q(), variant_id__in=variant_ids).order_by(
        "location__position", "location__name", "location_id"
    ).values_list("variant_id", "location_id", "location__ships_online_orders", "location__pickup_allowed",
                  "on_hand", "reserved")


def online_stock(variant_ids: Sequence[int]) -> dict[int, OnlineStock]:
    """Each variant's `OnlineStock` (every id a key). One query, compiled once per number of
    variants (`catalog.precompiled`: the cart and every checkout step ask). No locks: placement
    reserves under lock and has the last word."""
    ids = list(dict.fromkeys(variant_ids))
    if not ids:
        return {}
    rows: dict[int, list] = {pk: [] for pk in ids}
    for variant_id, location_id, ships, pickup_allowed, on_hand, reserved in precompiled.rows(
        "stock:online", _online_levels, ids, model=StockLevel
    ):
        where = reach(is_active=True, ships_online_orders=ships, pickup_allowed=pickup_allowed)
        rows[variant_id].append((where, pickup_allowed, location_id, on_hand - reserved))
    return {pk: OnlineStock.tally(found) for pk, found in rows.items()}


def can_reserve(*, requests: Sequence[StockRequest], location_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Units available now for each requested variant at the allowed active locations.

    Every requested variant is a key (0 when it has no stock there). `location_ids` None means
    every active location, as in `reserve`. One query, no locks: the answer can be out of date a
    moment later, so checkout shows it and `reserve` still has the final word.
    """
    variant_ids = list(dict.fromkeys(request.variant_id for request in requests))
    rows = StockLevel.objects.filter(variant_id__in=variant_ids, location__is_active=True)
    if location_ids is not None:
        rows = rows.filter(location_id__in=location_ids)
    available = dict.fromkeys(variant_ids, 0)
    for row in rows.values("variant_id").annotate(available=Sum(F("on_hand") - F("reserved"))).order_by():
        available[row["variant_id"]] = row["available"]
    return available


def _pickup_levels(variant_ids: list[int]) -> QuerySet:
    return StockLevel.objects.filter(
        variant_id__in=variant_ids, location__is_active=True, location__pickup_allowed=True
    ).values_list("variant_id", "on_hand", "reserved",
                  *[f"location__{f.attname}" for f in Location._meta.concrete_fields])


def locations_with_everything(*, requests: Sequence[StockRequest]) -> list[Location]:
    """Active pick-up locations where every request fits on its own (click and collect).

    Requests for the same variant are added up. Ordered by position and name; empty when nothing
    is requested. One query, no locks (see `can_reserve`).
    """
    wanted = _summed(requests)
    # Compiled once per process and number of variants (`catalog.precompiled`): the checkout's
    # details step and its delivery options ask on every request.
    alias = router.db_for_read(StockLevel)
    locations: dict[int, Location] = {}
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for variant_id, on_hand, reserved, *place in precompiled.rows(
        "stock:pickup-levels", _pickup_levels, list(wanted), model=StockLevel
    ):
        if place[0] not in locations:
            locations[place[0]] = Location.from_db(alias, None, place)
        available[place[0]][variant_id] = on_hand - reserved
    fits = [
        location for location in locations.values()
        if all(available[location.pk].get(variant_id, 0) >= quantity for variant_id, quantity in wanted.items())
    ]
    return sorted(fits, key=lambda location: (location.position, location.name, location.pk))


# --- Internals ----------------------------------------------------------------------------------


def _lock_rows(rows: QuerySet[StockLevel], *, writer: str) -> list[StockLevel]:
    """Lock the stock rows `rows` selects and return them (with their location), in pk order.

    The one place stock rows are locked: every writer here calls it once, before reading the
    numbers it checks. Precondition: the caller is inside `transaction.atomic()`; raises
    TransactionManagementError otherwise, because the lock ends with the transaction and the
    stock change must commit together with the caller's order change.

    One SELECT ... ORDER BY id FOR NO KEY UPDATE OF the stock table: PostgreSQL locks rows in the
    order it returns them, so every transaction takes shared rows in the same order. Only stock
    rows are locked, not the joined locations (every checkout reads the same few), and the
    "no key" lock still lets other transactions insert rows that reference stock levels.
    On SQLite, which has no row locks, the IMMEDIATE transaction mode (settings) already holds the
    database's write lock.
    """
    _require_transaction(writer)
    return list(rows.select_related("location").select_for_update(of=("self",), no_key=True).order_by("pk"))


def _require_transaction(writer: str) -> None:
    connection = transaction.get_connection(router.db_for_write(StockLevel))
    # Test cases wrap each test in atomic blocks of their own (marked `_from_testcase`); those do
    # not count, so a caller that forgot its transaction fails in ordinary tests too.
    if not any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise TransactionManagementError(
            f"catalog.stock.{writer}() must run inside transaction.atomic(), together with the order change "
            "it belongs to."
        )


def _give_back(*, allocations: Sequence[Allocation], shipped: bool, cause: Cause | None = None) -> None:
    amounts = _per_row(allocations)
    locked = {level.pk: level for level in _lock_rows(
        StockLevel.objects.filter(pk__in=amounts), writer="fulfil" if shipped else "release"
    )}
    problems = []
    for stock_level_id, quantity in amounts.items():
        problem = _misfit(stock_level_id, quantity, allocations, locked.get(stock_level_id))
        if problem:
            problems.append((stock_level_id, problem))
    if problems:
        raise AllocationMismatch(
            stock_level_ids=[stock_level_id for stock_level_id, _problem in problems],
            problems=[problem for _stock_level_id, problem in problems],
        )
    if shipped:
        _add(amounts, on_hand=-1, reserved=-1)
        ledger.record(cause=cause, changes=[
            (locked[pk].variant_id, locked[pk].location_id, -quantity) for pk, quantity in amounts.items()
        ])
    else:
        _add(amounts, reserved=-1)


def _misfit(stock_level_id: int, quantity: int, allocations: Sequence[Allocation], level: StockLevel | None) -> str:
    if level is None:
        return _("Stock level %(id)d no longer exists.") % {"id": stock_level_id}
    for allocation in allocations:
        if allocation.stock_level_id == stock_level_id and (
            (allocation.variant_id, allocation.location_id) != (level.variant_id, level.location_id)
        ):
            return _("Stock level %(id)d belongs to another variant or location.") % {"id": stock_level_id}
    if level.reserved < quantity:
        return _("Stock level %(id)d at %(location)s holds %(reserved)d reserved units, not %(quantity)d.") % {
            "id": stock_level_id, "location": level.location.name, "reserved": level.reserved, "quantity": quantity,
        }
    return ""


def _add(amounts: dict[int, int], *, on_hand: int = 0, reserved: int = 0) -> None:
    """Add `sign * amount` to the fields named, for every row in `amounts`, in one UPDATE.

    Precondition: the caller locked these rows with `_lock_rows` and checked the result stays
    within the database's constraints. F() keeps the arithmetic in the database all the same.
    """
    if not amounts:
        return

    def change(sign: int) -> Case:
        return Case(
            *[When(pk=pk, then=Value(sign * amount)) for pk, amount in amounts.items()],
            default=Value(0),
            output_field=IntegerField(),
        )

    fields: dict = {"updated_at": timezone.now()}
    if on_hand:
        fields["on_hand"] = F("on_hand") + change(on_hand)
    if reserved:
        fields["reserved"] = F("reserved") + change(reserved)
    StockLevel.objects.filter(pk__in=amounts).update(**fields)
    if on_hand != reserved:  # shipping takes from both alike: what is available stays the same
        # Whether a product sold out or came back decides how much of the storefront to invalidate,
        # and is all the listing index knows of stock: a sale that leaves units on the row does
        # not touch it; when a row sells out or comes back, the product's stock is read again
        # under the listing index lock (a concurrent sale of its other variant may have committed
        # meanwhile) and its bit set from that read, in place (no rebuild).
        rows_flipped = invalidation.stock_rows_changed(
            {pk: (on_hand * amount, reserved * amount) for pk, amount in amounts.items()}
        )
        if rows_flipped:
            invalidation.stock_availability_changed(listing_index.stock_flipped(rows_flipped))


def _summed(requests: Sequence[StockRequest]) -> dict[int, int]:
    """Units wanted per variant, in the order variants first appear."""
    wanted: dict[int, int] = {}
    for request in requests:
        wanted[request.variant_id] = wanted.get(request.variant_id, 0) + request.quantity
    return wanted


def _per_row(allocations: Sequence[Allocation]) -> dict[int, int]:
    amounts: dict[int, int] = {}
    for allocation in allocations:
        amounts[allocation.stock_level_id] = amounts.get(allocation.stock_level_id, 0) + allocation.quantity
    return amounts


def _location_order(location_ids: Sequence[int] | None) -> Callable[[StockLevel], tuple]:
    if location_ids is None:
        return lambda level: (
            level.location.kind != Location.Kind.WAREHOUSE, level.location.position, level.location.name, level.location_id
        )
    preference = {location_id: rank for rank, location_id in enumerate(dict.fromkeys(location_ids))}
    return lambda level: (preference[level.location_id],)


def _shortages(short: dict[int, tuple[int, int]]) -> list[Shortage]:
    # Only on refusal, so the happy path does not pay for the names.
    names = {
        row["pk"]: row
        for row in Variant.objects.filter(pk__in=short).values("pk", "sku", "product__title")
    }
    return [
        Shortage(
            variant_id=variant_id,
            sku=names.get(variant_id, {}).get("sku", str(variant_id)),
            title=names.get(variant_id, {}).get("product__title", ""),
            requested=requested,
            available=available,
        )
        for variant_id, (requested, available) in short.items()
    ]
