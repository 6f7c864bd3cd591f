"""Placing an order: the cart's lines become an order, priced on the server, with stock reserved."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import OptionValue, Variant
from customers.services import customer_for_order
from giftcards.digital import is_digital
from inventory import routing
from shop.money import currency_code, quantize

from ..models import Allocation, Order, OrderEvent, OrderLine
from ..status import PLACED


@dataclass(frozen=True)
class PlacementLine:
    """A variant and how many: the only things a shopper decides. Prices come from the catalog."""

    variant_id: int
    quantity: int
    # Where this line's stock may come from, in order of preference (a counter sale: the shop's
    # own shelf, or the warehouses for an item shipped to the customer); None: the shipping choice's.
    location_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ShippingChoice:
    """How the order travels, priced by the checkout's shipping rules (server side)."""

    name: str
    price: Decimal
    pickup_location_id: int | None = None
    # Where stock may be taken from; None means every active location (delivery).
    location_ids: Sequence[int] | None = field(default=None)


@dataclass(frozen=True)
class LineDiscount:
    """One promotion's discount on one line (the whole line, not per unit)."""

    promotion_id: int
    name: str
    amount: Decimal


@dataclass(frozen=True)
class Discounts:
    """The promotions an order gets, priced by the caller's `discounter` inside the placement.

    `lines`: variant id -> its discounts; `shipping`: taken off the shipping price. `record(order)`
    runs in the order's transaction once its lines exist (the promotions app counts the uses and
    money there with conditional UPDATEs and raises when a limit was reached meanwhile: nothing of
    the order is then written).
    """

    lines: Mapping[int, Sequence[LineDiscount]] = field(default_factory=dict)
    shipping: Decimal = Decimal("0")
    record: Callable[[Order], object] | None = None


@dataclass(frozen=True)
class ChannelSale:
    """An order taken by staff on a channel other than the web store (a shop's counter, the phone).

    The channel decides what may be sold (`saleschannels.selectors.channel_products`) and at what
    price (`channel_prices`: its price list, else the catalog's), so the order is charged what the
    channel showed. `location_id` is the shop a counter sale is made in, `sold_by` the staff member.
    `customer` is the one staff looked up (None: found or created by the order's email, or no
    customer at all when `anonymous`). `notify=False` writes no confirmation email (the counter
    hands over a receipt instead).
    """

    channel: object  # saleschannels.models.Channel
    location_id: int | None = None
    sold_by: AbstractBaseUser | None = None
    customer: object | None = None  # customers.models.Customer
    anonymous: bool = False
    notify: bool = True


def zero_tax(variant: Variant) -> Decimal:
    return Decimal("0")


def line_tax(unit_price: Decimal, rate: Decimal, *, included: bool) -> Decimal:
    """Tax in one unit's price at `rate` percent: extracted when prices include tax, added otherwise."""
    if not rate:
        return Decimal("0.00")
    if included:
        return quantize(unit_price - unit_price / (1 + rate / 100))
    return quantize(unit_price * rate / 100)


def priced_line(unit_price: Decimal, quantity: int, rate: Decimal, *, included: bool,
                discount: Decimal = Decimal("0")) -> tuple[Decimal, Decimal, Decimal]:
    """(tax per unit at the shelf price, the line's tax, the line's total) after `discount`.

    Without a discount the tax is one unit's rounded tax times the quantity, as it always was;
    with one, the tax is computed once on the discounted line amount (tax follows the price paid).
    Checkout's review and `place_order` both call this: the shopper sees what is charged.
    """
    unit_tax = line_tax(unit_price, rate, included=included)
    if not discount:
        tax = unit_tax * quantity
        return unit_tax, quantize(tax), quantize((unit_price if included else unit_price + unit_tax) * quantity)
    amount = quantize(unit_price * quantity - discount)
    tax = line_tax(amount, rate, included=included)
    return unit_tax, tax, amount if included else amount + tax


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
    variants: Mapping[int, Variant] | None = None,
    on_placed: Callable[[Order], object] | None = None,
    discounter: Callable[[dict[int, int], Mapping[int, Variant]], Discounts] | None = None,
    sale: ChannelSale | None = None,
) -> Order:
    """Create an order, unpaid and unfulfilled, and reserve its stock, in one transaction.

    Prices are read from the catalog, never from what the shopper's browser sent: here, or by the
    caller in this same request when it passes `variants` (id -> Variant with `product` and
    `option_values__option` loaded, every one checked to be on sale, as checkout's cart read
    does; saves reading them twice). Stock rows are locked in primary-key order by
    `catalog.stock.reserve_counting`, so concurrent checkouts neither oversell nor deadlock.

    The same `idempotency_key` (one per checkout form) returns the order it created instead of a
    second one, also when two requests race: the key is unique in the database and the order row
    is inserted before any stock is touched, so a replay stops at that insert (the twin of a
    request still in flight waits for it there), rolls back and returns the first order.

    `on_placed(order)` runs inside the transaction, after everything else, for an order created
    now (never for one an earlier request made): what must commit with the order, such as its
    first payment.

    `discounter(quantities, variants)` (variant id -> units, variant id -> Variant) prices the
    order's promotions in the transaction, from the same prices the lines take; its `record` runs
    after the lines are written and may raise (the order is then not placed).

    `sale` (staff selling on another channel: a counter, the phone) records the channel, shop and
    staff member on the order, sells what that channel publishes at its prices, and reserves each
    line from its own `PlacementLine.location_ids` when lines give them (`catalog.stock.reserve_lines`,
    all rows still locked in one statement).

    Raises catalog.exceptions.OutOfStock (nothing written) when any line does not fit, ValueError
    for an empty order or a non-positive quantity, Variant.DoesNotExist for a variant that is not
    for sale. Writes the confirmation email to the outbox in the same transaction; it is sent
    after commit, unless a `sale` says `notify=False`: the counter hands over a receipt, and a
    staff order's `on_placed` sends the customer's one first email itself (its payment link, or the
    "payment received" of one paid on the phone).
    """
    if not lines:
        raise ValueError("An order needs at least one line.")
    try:
        with transaction.atomic():
            order = _create(
                lines=lines, email=email, idempotency_key=idempotency_key, shipping=shipping,
                customer_name=customer_name, phone=phone, shipping_address=shipping_address or {},
                billing_address=billing_address or {}, user=user, tax_rate_for=tax_rate_for, variants=variants,
                discounter=discounter, sale=sale,
            )
            if on_placed is not None:
                on_placed(order)
    except (IntegrityError, OutOfStock, Variant.DoesNotExist):
        # The key was used: by an earlier request, or by a concurrent one that has now committed.
        # (A concurrent one may also have taken the last units, so OutOfStock can come first; and
        # the variants are checked before the insert, so one gone off sale since the first request
        # refuses its replay first.)
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return order


def _for_sale(quantities: dict[int, int], variants: Mapping[int, Variant] | None,
              sale: ChannelSale | None = None) -> dict[int, Variant]:
    if variants is None:
        variants = {
            v.pk: v
            for v in Variant.objects.filter(
                pk__in=quantities, is_active=True, product__in=_published_products(sale)
            ).select_related("product__gift_card").prefetch_related(
                Prefetch("option_values", queryset=OptionValue.objects.select_related("option"))
            )
        }
    missing = set(quantities) - {pk for pk, variant in variants.items() if variant.is_active}
    if missing:
        raise Variant.DoesNotExist(f"Variants not for sale: {sorted(missing)}")
    return {pk: variants[pk] for pk in quantities}


def _create(*, lines, email, idempotency_key, shipping, customer_name, phone, shipping_address,
            billing_address, user, tax_rate_for, variants, discounter=None, sale=None) -> Order:
    quantities: dict[int, int] = {}
    sources: dict[int, tuple[int, ...]] = {}
    for line in lines:
        if line.quantity < 1:
            raise ValueError("Quantities must be positive.")
        quantities[line.variant_id] = quantities.get(line.variant_id, 0) + line.quantity
        if line.location_ids is not None:
            sources[line.variant_id] = tuple(line.location_ids)
    if sources and len(sources) != len(quantities):
        raise ValueError("Either every line says where its stock comes from, or none does.")
    variants = _for_sale(quantities, variants, sale)
    prices = _channel_prices(sale, variants)
    discounts = discounter(quantities, variants) if discounter is not None else Discounts()

    # Priced before the order row exists, so the row is written once with its totals.
    included = settings.STORE_PRICES_INCLUDE_TAX
    subtotal = tax_total = discount_total = Decimal("0")
    new_lines: list[OrderLine] = []
    for variant_id, quantity in quantities.items():
        variant = variants[variant_id]
        rate = Decimal(tax_rate_for(variant))
        unit_price = quantize(prices.get(variant_id, variant.price))
        taken = discounts.lines.get(variant_id, ())
        discount = quantize(sum((d.amount for d in taken), Decimal("0")))
        unit_tax, line_tax_total, line_total = priced_line(unit_price, quantity, rate, included=included,
                                                           discount=discount)
        new_lines.append(OrderLine(
            variant=variant, product_title=variant.product.title, sku=variant.sku,
            options=", ".join(f"{v.option.name}: {v.value}" for v in variant.option_values.all()),
            quantity=quantity, unit_price=unit_price, tax_rate=rate, unit_tax=unit_tax, line_total=line_total,
            tax_total=line_tax_total, discount_total=discount,
            discounts=[{"promotion": d.promotion_id, "name": d.name, "amount": str(quantize(d.amount))} for d in taken],
        ))
        subtotal += line_total
        tax_total += line_tax_total
        discount_total += discount
    shipping_discount = quantize(min(discounts.shipping, shipping.price))
    shipping_total = quantize(shipping.price - shipping_discount)

    if sale is not None and (sale.customer is not None or sale.anonymous):
        customer = sale.customer
    else:
        customer = customer_for_order(email=email, user=user, name=customer_name, phone=phone)
    # The unique idempotency key makes this INSERT the replay check (see place_order): it comes
    # before the stock rows are locked, so a replay never touches stock.
    order = Order.objects.create(
        customer=customer, email=email, customer_name=customer_name, phone=phone,
        user=user if user and user.is_authenticated else None,
        shipping_address=shipping_address, billing_address=billing_address, currency=currency_code(),
        prices_include_tax=included, shipping_method_name=shipping.name,
        pickup_location_id=shipping.pickup_location_id, idempotency_key=idempotency_key,
        reservation_expires_at=timezone.now() + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES),
        subtotal=quantize(subtotal), tax_total=quantize(tax_total), shipping_total=shipping_total,
        total=quantize(subtotal + shipping_total), discount_total=quantize(discount_total + shipping_discount),
        shipping_discount=shipping_discount,
        **_channel_fields(sale),
    )
    # Digital products (gift cards, emailed) are not stocked: only the goods to ship are reserved.
    stocked = {pk: q for pk, q in quantities.items() if not is_digital(variants[pk].product)}
    if sources:  # each line from its own locations (a counter sale), still one locking statement
        reservation = stock.reserve_lines(requests=[
            (stock.StockRequest(variant_id=pk, quantity=q), sources[pk]) for pk, q in sorted(stocked.items())
        ]) if stocked else stock.Reservation(allocations=[], available_after={})
        decision = routing.per_line_record(reservation)
    else:
        route = routing.route(location_ids=shipping.location_ids)  # staff's fulfilment rule (inventory)
        reservation = stock.reserve_counting(
            requests=[stock.StockRequest(variant_id=pk, quantity=q) for pk, q in sorted(stocked.items())],
            location_ids=shipping.location_ids, **route.reserve_options,
        ) if stocked else stock.Reservation(allocations=[], available_after={})
        decision = route.record(reservation)
    for line in new_lines:
        line.order = order
    # One INSERT for all lines (both databases return the new primary keys).
    order_lines = {line.variant_id: line for line in OrderLine.objects.bulk_create(new_lines)}
    Allocation.objects.bulk_create(
        Allocation(line=order_lines[a.variant_id], stock_level_id=a.stock_level_id, quantity=a.quantity)
        for a in reservation.allocations
    )
    if discounts.record is not None:
        discounts.record(order)
    if stocked:
        _alert_if_stock_ran_low(stocked, reservation.available_after)
    staff = sale.sold_by if sale is not None else None
    placed = "Order placed; stock reserved." if stocked else "Order placed; nothing to ship (emailed)."
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, to_status=PLACED,
        actor=OrderEvent.Actor.STAFF if staff is not None else OrderEvent.Actor.CUSTOMER,
        user=staff if staff is not None else order.user,
        message=placed if sale is None else f"Order placed on {sale.channel}; " + placed[len("Order placed; "):],
        data={"routing": decision},
    )
    from notifications.services import enqueue_order_email

    if sale is None or sale.notify:
        enqueue_order_email(order_id=order.pk, kind="confirmation", order_is_new=True)
    return order


def _channel_prices(sale: ChannelSale | None, variants: Mapping[int, Variant]) -> dict[int, Decimal]:
    """The channel's price of each variant when it has a price list (one query); else none to apply."""
    if sale is None or not sale.channel.price_list_id:
        return {}
    from saleschannels.selectors import channel_prices

    return channel_prices(channel=sale.channel, variant_ids=variants)


def _channel_fields(sale: ChannelSale | None) -> dict:
    if sale is None:
        return {}
    sold_by = sale.sold_by if sale.sold_by is not None and sale.sold_by.is_authenticated else None
    return {"channel_id": sale.channel.pk, "sale_location_id": sale.location_id, "sold_by": sold_by}


def _alert_if_stock_ran_low(reserved: dict[int, int], available_after: dict[int, int] | None) -> None:
    """Tell staff (after commit) about variants this order took from above the low-stock
    threshold to at or below it: the crossing, not every later sale. No query when the
    reservation counted what is left (delivery), one otherwise (pick-up)."""
    threshold = settings.STORE_LOW_STOCK_THRESHOLD
    after = available_after
    if after is None:
        after = stock.can_reserve(
            requests=[stock.StockRequest(variant_id=pk, quantity=q) for pk, q in reserved.items()]
        )
    crossed = [pk for pk, q in reserved.items() if after.get(pk, 0) + q > threshold >= after.get(pk, 0)]
    if crossed:
        from catalog.models import StockLevel
        from notifications.services import enqueue_low_stock_alert

        enqueue_low_stock_alert(
            stock_level_ids=list(StockLevel.objects.filter(variant_id__in=crossed).values_list("pk", flat=True))
        )


def _published_products(sale: ChannelSale | None = None):
    from catalog.models import Product

    if sale is not None:
        from saleschannels.selectors import channel_products

        return channel_products(channel=sale.channel).values("pk")
    return Product.objects.published().values("pk")
