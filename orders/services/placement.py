"""Placing an order: the cart's lines become an order, priced on the server, with stock reserved."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import Variant
from customers.services import customer_for_order
from shop.money import currency_code, quantize

from ..models import Allocation, Order, OrderEvent, OrderLine


@dataclass(frozen=True)
class PlacementLine:
    """A variant and how many: the only things a shopper decides. Prices come from the catalog."""

    variant_id: int
    quantity: int


@dataclass(frozen=True)
class ShippingChoice:
    """How the order travels, priced by the checkout's shipping rules (server side)."""

    name: str
    price: Decimal
    pickup_location_id: int | None = None
    # Where stock may be taken from; None means every active location (delivery).
    location_ids: Sequence[int] | None = field(default=None)


def zero_tax(variant: Variant) -> Decimal:
    return Decimal("0")


def line_tax(unit_price: Decimal, rate: Decimal, *, included: bool) -> Decimal:
    """Tax in one unit's price at `rate` percent: extracted when prices include tax, added otherwise."""
    if not rate:
        return Decimal("0.00")
    if included:
        return quantize(unit_price - unit_price / (1 + rate / 100))
    return quantize(unit_price * rate / 100)


def place_order(
    *,
    lines: Sequence[PlacementLine],
    email: str,
    idempotency_key: str,
    shipping: ShippingChoice,
    customer_name: str = "",
    phone: str = "",
    shipping_address: dict | None = None,
    billing_address: dict | None = None,
    user: AbstractBaseUser | None = None,
    tax_rate_for: Callable[[Variant], Decimal] = zero_tax,
) -> Order:
    """Create an order in `pending_payment` and reserve its stock, in one transaction.

    Prices are read from the catalog here; nothing the shopper's browser sent about a price is
    used. Stock rows are locked in primary-key order by `catalog.stock.reserve`, so concurrent
    checkouts neither oversell nor deadlock. The same `idempotency_key` (one per checkout form)
    returns the order it created instead of a second one, also when two requests race.

    Raises catalog.exceptions.OutOfStock (nothing written) when any line does not fit, ValueError
    for an empty order or a non-positive quantity, Variant.DoesNotExist for a variant that is not
    for sale. Enqueues the confirmation email after commit.
    """
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if not lines:
        raise ValueError("An order needs at least one line.")
    try:
        with transaction.atomic():
            order = _create(
                lines=lines, email=email, idempotency_key=idempotency_key, shipping=shipping,
                customer_name=customer_name, phone=phone, shipping_address=shipping_address or {},
                billing_address=billing_address or {}, user=user, tax_rate_for=tax_rate_for,
            )
    except (IntegrityError, OutOfStock):
        # A concurrent request with the same key won the race: its order is the one. (It may have
        # taken the last units, so the loser can see OutOfStock before the unique key clashes.)
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    from notifications.services import enqueue_order_email

    enqueue_order_email(order_id=order.pk, kind="confirmation")
    return order


def _create(*, lines, email, idempotency_key, shipping, customer_name, phone, shipping_address,
            billing_address, user, tax_rate_for) -> Order:
    quantities: dict[int, int] = {}
    for line in lines:
        if line.quantity < 1:
            raise ValueError("Quantities must be positive.")
        quantities[line.variant_id] = quantities.get(line.variant_id, 0) + line.quantity
    variants = {
        v.pk: v
        for v in Variant.objects.filter(
            pk__in=quantities, is_active=True, product__in=_published_products()
        ).select_related("product").prefetch_related("option_values__option")
    }
    missing = set(quantities) - set(variants)
    if missing:
        raise Variant.DoesNotExist(f"Variants not for sale: {sorted(missing)}")

    allocations = stock.reserve(
        requests=[stock.StockRequest(variant_id=pk, quantity=q) for pk, q in sorted(quantities.items())],
        location_ids=shipping.location_ids,
    )
    included = settings.STORE_PRICES_INCLUDE_TAX
    customer = customer_for_order(email=email, user=user, name=customer_name, phone=phone)
    order = Order.objects.create(
        customer=customer, email=email, customer_name=customer_name, phone=phone,
        user=user if user and user.is_authenticated else None,
        shipping_address=shipping_address, billing_address=billing_address, currency=currency_code(),
        prices_include_tax=included, shipping_method_name=shipping.name,
        pickup_location_id=shipping.pickup_location_id, idempotency_key=idempotency_key,
        reservation_expires_at=timezone.now() + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES),
    )
    subtotal = tax_total = Decimal("0")
    new_lines: list[OrderLine] = []
    for variant_id, quantity in quantities.items():
        variant = variants[variant_id]
        rate = Decimal(tax_rate_for(variant))
        unit_price = quantize(variant.price)
        unit_tax = line_tax(unit_price, rate, included=included)
        line_total = quantize((unit_price if included else unit_price + unit_tax) * quantity)
        new_lines.append(OrderLine(
            order=order, variant=variant, product_title=variant.product.title, sku=variant.sku,
            options=", ".join(f"{v.option.name}: {v.value}" for v in variant.option_values.all()),
            quantity=quantity, unit_price=unit_price, tax_rate=rate, unit_tax=unit_tax, line_total=line_total,
        ))
        subtotal += line_total
        tax_total += unit_tax * quantity
    # One INSERT for all lines (both databases return the new primary keys).
    order_lines = {line.variant_id: line for line in OrderLine.objects.bulk_create(new_lines)}
    Allocation.objects.bulk_create(
        Allocation(line=order_lines[a.variant_id], stock_level_id=a.stock_level_id, quantity=a.quantity)
        for a in allocations
    )
    _alert_if_stock_ran_low(quantities)
    order.subtotal = quantize(subtotal)
    order.tax_total = quantize(tax_total)
    order.shipping_total = quantize(shipping.price)
    order.total = quantize(subtotal + shipping.price)
    order.save(update_fields=["subtotal", "tax_total", "shipping_total", "total", "updated_at"])
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, to_status=order.status,
        actor=OrderEvent.Actor.CUSTOMER, user=order.user, message="Order placed; stock reserved.",
    )
    return order


def _alert_if_stock_ran_low(reserved: dict[int, int]) -> None:
    """Tell staff (after commit) about variants this order took from above the low-stock
    threshold to at or below it: the crossing, not every later sale. One query."""
    threshold = settings.STORE_LOW_STOCK_THRESHOLD
    after = stock.can_reserve(requests=[stock.StockRequest(variant_id=pk, quantity=q) for pk, q in reserved.items()])
    crossed = [pk for pk, q in reserved.items() if after.get(pk, 0) + q > threshold >= after.get(pk, 0)]
    if crossed:
        from catalog.models import StockLevel
        from notifications.services import enqueue_low_stock_alert

        enqueue_low_stock_alert(
            stock_level_ids=list(StockLevel.objects.filter(variant_id__in=crossed).values_list("pk", flat=True))
        )


def _published_products():
    from catalog.models import Product

    return Product.objects.published().values("pk")
