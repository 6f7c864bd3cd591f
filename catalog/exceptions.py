"""Domain errors raised by catalog services. Each carries a message staff can act on."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class CatalogError(Exception):
    """Base class: `str(error)` is a translated sentence fit for an admin message."""


class NegativePrice(CatalogError):
    def __init__(self, *, percentage: Decimal, count: int) -> None:
        self.percentage = percentage
        self.count = count
        super().__init__(
            ngettext(
                "Changing prices by %(percentage)s%% would make %(count)d price negative; nothing was changed.",
                "Changing prices by %(percentage)s%% would make %(count)d prices negative; nothing was changed.",
                count,
            )
            % {"percentage": percentage, "count": count}
        )


class PriceTooLarge(CatalogError):
    def __init__(self, *, percentage: Decimal, count: int) -> None:
        self.percentage = percentage
        self.count = count
        super().__init__(
            ngettext(
                "Changing prices by %(percentage)s%% would make %(count)d price too large to store; "
                "nothing was changed.",
                "Changing prices by %(percentage)s%% would make %(count)d prices too large to store; "
                "nothing was changed.",
                count,
            )
            % {"percentage": percentage, "count": count}
        )


class StockBelowReserved(CatalogError):
    """On hand would drop below the units already promised to orders."""

    def __init__(
        self, *, variant_id: int, location_id: int, sku: str, location: str, on_hand: int, reserved: int
    ) -> None:
        self.variant_id, self.location_id = variant_id, location_id
        self.sku, self.location, self.on_hand, self.reserved = sku, location, on_hand, reserved
        super().__init__(
            _(
                "%(sku)s at %(location)s: on hand cannot be %(on_hand)d because %(reserved)d units are "
                "reserved for orders; nothing was changed."
            )
            % {"sku": sku, "location": location, "on_hand": on_hand, "reserved": reserved}
        )


class StockStillReserved(CatalogError):
    """A stock level cannot be removed while orders hold units of it."""

    def __init__(self, *, variant_id: int, location_id: int, sku: str, location: str, reserved: int) -> None:
        self.variant_id, self.location_id = variant_id, location_id
        self.sku, self.location, self.reserved = sku, location, reserved
        super().__init__(
            _(
                "%(sku)s at %(location)s cannot be removed because %(reserved)d units are reserved for "
                "orders; nothing was changed."
            )
            % {"sku": sku, "location": location, "reserved": reserved}
        )


class StockChangedMeanwhile(CatalogError):
    """A stock figure changed between the moment staff saw it and the moment they saved."""

    def __init__(
        self, *, variant_id: int, location_id: int, sku: str, location: str, expected: int, current: int
    ) -> None:
        self.variant_id, self.location_id = variant_id, location_id
        self.sku, self.location, self.expected, self.current = sku, location, expected, current
        super().__init__(
            _(
                "%(sku)s at %(location)s changed from %(expected)d to %(current)d units on hand while you "
                "were editing (an order shipped, a return, or another edit); nothing was changed. Check "
                "the current figures and save again."
            )
            % {"sku": sku, "location": location, "expected": expected, "current": current}
        )


# --- Stock reservations (catalog/stock.py) ------------------------------------------------------


@dataclass(frozen=True)
class Shortage:
    """One variant an order wanted more of than the allowed locations have available."""

    variant_id: int
    sku: str
    title: str
    requested: int
    available: int

    def __str__(self) -> str:
        return _("%(title)s (%(sku)s): %(requested)d wanted, %(available)d available") % {
            "title": self.title, "sku": self.sku, "requested": self.requested, "available": self.available,
        }


class OutOfStock(CatalogError):
    """Not every request fits; `shortages` names each short variant. Nothing was reserved."""

    def __init__(self, *, shortages: Sequence[Shortage]) -> None:
        self.shortages = tuple(shortages)
        count = len(self.shortages)
        super().__init__(
            ngettext(
                "Sorry, there is not enough stock of %(count)d item, so nothing was reserved: %(details)s.",
                "Sorry, there is not enough stock of %(count)d items, so nothing was reserved: %(details)s.",
                count,
            )
            % {"count": count, "details": "; ".join(map(str, self.shortages))}
        )

    @property
    def by_variant(self) -> dict[int, Shortage]:
        return {shortage.variant_id: shortage for shortage in self.shortages}


class AllocationMismatch(CatalogError):
    """Allocations to release or ship that their stock rows no longer hold (released twice, say).

    `problems` holds one translated sentence per bad allocation; nothing was changed.
    """

    def __init__(self, *, stock_level_ids: Sequence[int], problems: Sequence[str]) -> None:
        self.stock_level_ids = tuple(stock_level_ids)
        self.problems = tuple(problems)
        super().__init__(
            _("The stock reservations no longer match the stock levels; nothing was changed: %(problems)s")
            % {"problems": " ".join(self.problems)}
        )
