"""Domain errors raised by catalog services. Each carries a message staff can act on."""
from __future__ import annotations

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
