"""Another size or colour instead of money: reserved, then sent (tracked) or collected at a shop."""
from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import Location, Variant
from inventory.ledger import Cause
from inventory.models import Reason as StockReason

from .. import emails
from ..exceptions import ReturnError
from ..models import ExchangeLine, ExchangeShipment, ReturnEvent, ReturnRequest
from .common import S, _locked, _record, _user


def exchange_variants(request: ReturnRequest) -> dict[int, list[Variant]]:
    """Per return line id: the other active variants of its product (another size or colour)."""
    lines = list(request.lines.select_related("order_line__variant"))
    product_ids = {line.order_line.variant.product_id for line in lines if line.order_line.variant_id}
    variants = Variant.objects.filter(product_id__in=product_ids, is_active=True).order_by("pk")
    by_product: dict[int, list[Variant]] = {}
    for variant in variants:
        by_product.setdefault(variant.product_id, []).append(variant)
    return {line.pk: [v for v in by_product.get(line.order_line.variant.product_id, [])
                      if v.pk != line.order_line.variant_id]
            for line in lines if line.order_line.variant_id}


def exchange_return(*, request_id: int, variants: Mapping[int, int], user: AbstractBaseUser,
                    collect_at: int | None = None) -> ReturnRequest:
    """Send another size or colour instead of money: per return line id, the variant sent for its
    units, reserved now (`catalog.stock.reserve`: stock rows locked in pk order, all or nothing);
    only at the shop `collect_at` when the shopper collects it there (`ship_exchange(collected_at=)`).

    One transaction holding the return's lock. The reserved units are `ExchangeLine` rows, shipped
    with `ship_exchange`. Raises ReturnError, changing nothing, unless received, for a variant of
    another product, or when the stock is short (OutOfStock's message).
    """
    with transaction.atomic():
        request = _locked(request_id, S.RECEIVED, doing=_("exchanged"))
        if request.refunds.exists():
            raise ReturnError(_("Return R%(pk)s is being refunded, so it cannot be exchanged as well. Nothing was "
                                "changed.") % {"pk": request.pk})
        choices = exchange_variants(request)
        lines = {line.pk: line for line in request.lines.all()}
        if not variants:
            raise ReturnError(_("Choose the size or colour to send for at least one item."))
        wanted = []
        for line_id, variant_id in variants.items():
            if variant_id not in {v.pk for v in choices.get(line_id, [])}:
                raise ReturnError(_("Choose another size or colour of the same product."))
            wanted.append((lines[line_id], variant_id))
        shop = None
        if collect_at is not None:
            shop = Location.objects.filter(pk=collect_at, kind=Location.Kind.SHOP, is_active=True).first()
            if shop is None:
                raise ReturnError(_("Choose an open shop for the shopper to collect the exchange."))
        try:
            allocations = stock.reserve(requests=[stock.StockRequest(variant_id=v, quantity=line.quantity)
                                                  for line, v in wanted],
                                        location_ids=[collect_at] if collect_at is not None else None)
        except OutOfStock as error:
            raise ReturnError(str(error)) from error
        # Hand the reserved units (maybe split over locations) to the lines that asked for them.
        queues: dict[int, list[list[int]]] = {}
        for allocation in allocations:
            queues.setdefault(allocation.variant_id, []).append([allocation.stock_level_id, allocation.quantity])
        rows = []
        for line, variant_id in wanted:
            need = line.quantity
            while need:
                part = queues[variant_id][0]
                take = min(need, part[1])
                rows.append(ExchangeLine(request=request, return_line=line, variant_id=variant_id,
                                         stock_level_id=part[0], quantity=take))
                need, part[1] = need - take, part[1] - take
                if not part[1]:
                    queues[variant_id].pop(0)
        ExchangeLine.objects.bulk_create(rows)
        # The variants were read with the choices: no query per row for their SKUs.
        skus = {variant.pk: variant.sku for options in choices.values() for variant in options}
        names = ", ".join(f"{row.quantity} × {skus[row.variant_id]}" for row in rows)
        message = _("Exchange reserved: %(items)s.") % {"items": names}
        if shop is not None:
            message += " " + _("To be collected at %(shop)s.") % {"shop": shop.name}
        _record(request, to=S.EXCHANGED, actor=ReturnEvent.Actor.STAFF, user=user, message=message,
                data={"exchange": {str(row.return_line_id): row.variant_id for row in rows},
                      "collect_at": collect_at})
    return request


def ship_exchange(*, request_id: int, user: AbstractBaseUser, carrier: str = "", tracking_number: str = "",
                  tracking_url: str = "", collected_at: int | None = None) -> ReturnRequest:
    """The exchange's units leave: by parcel (`carrier` and `tracking_number` required, a tracking
    link optional) or handed to the shopper at a shop's counter (`collected_at`: a shop holding
    every unit, reserved there when the exchange was made). Reserved and on hand drop at their
    stock level (a ledger row, reason sale, naming the order); an `ExchangeShipment` keeps how.

    One transaction holding the return's lock. The shopper is emailed the tracking after commit
    (outbox kind `returns.exchange_sent`, once per return); a collection at the counter sends
    nothing (the shopper is there). Raises ReturnError, changing nothing, when already sent, not an
    exchange, without a carrier and tracking number, for a link that is not a web address, or at a
    shop that does not hold the units.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    carrier, tracking_number, tracking_url = carrier.strip(), tracking_number.strip(), tracking_url.strip()
    if collected_at is None:
        if not carrier or not tracking_number:
            raise ReturnError(_("Type the carrier and the tracking number of the exchange's parcel."))
        if tracking_url:
            try:
                URLValidator(schemes=["http", "https"])(tracking_url)
            except ValidationError:
                raise ReturnError(_("The tracking link must be a web address (https://…).")) from None
    with transaction.atomic():
        request = _locked(request_id, S.EXCHANGED, doing=_("shipped"))
        rows = list(request.exchange_lines.filter(shipment__isnull=True).select_related("stock_level", "variant"))
        if not rows:
            raise ReturnError(_("The exchange of return R%(pk)s has already been sent.") % {"pk": request.pk})
        shop = None
        if collected_at is not None:
            shop = Location.objects.filter(pk=collected_at, kind=Location.Kind.SHOP, is_active=True).first()
            if shop is None or any(row.stock_level.location_id != shop.pk for row in rows):
                raise ReturnError(_("The exchange is reserved at another location, so it cannot be collected "
                                    "there: send it by parcel."))
        stock.fulfil(allocations=[stock.Allocation(stock_level_id=row.stock_level_id, variant_id=row.variant_id,
                                                   location_id=row.stock_level.location_id, quantity=row.quantity)
                                  for row in rows],
                     cause=Cause(reason=StockReason.SALE, order_id=request.order_id, actor_id=user.pk))
        shipment = ExchangeShipment.objects.create(
            request=request, carrier=carrier[:80] if shop is None else "", created_by=_user(user),
            tracking_number=tracking_number[:80] if shop is None else "",
            tracking_url=tracking_url if shop is None else "", collected_at=shop)
        for row in rows:
            row.shipment = shipment
        ExchangeLine.objects.bulk_update(rows, ["shipment"])
        items = ", ".join(f"{row.quantity} × {row.variant.sku}" for row in rows)
        if shop is None:
            message = _("Exchange sent (%(items)s) with %(carrier)s, tracking number %(number)s.") % {
                "items": items, "carrier": carrier, "number": tracking_number}
            if tracking_url:
                message += f" {tracking_url}"
        else:
            message = _("Exchange collected at %(shop)s (%(items)s).") % {"shop": shop.name, "items": items}
        _record(request, to=S.EXCHANGED, actor=ReturnEvent.Actor.STAFF, user=user, message=message,
                data={"shipped": [row.pk for row in rows], "exchange_shipment": shipment.pk})
        if shop is None:
            emails.enqueue(request=request, kind=emails.EXCHANGE_SENT)
    return request
