"""Placing a draft order staff typed: the one way a draft becomes an order."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.reports import split_proportionally
from catalog.exceptions import OutOfStock
from catalog.models import Variant
from checkout.services import tax_table
from orders.models import Order, OrderEvent
from orders.services import ChannelSale, Discounts, LineDiscount, PlacementLine, ShippingChoice, place_order
from saleschannels.models import Channel
from saleschannels.selectors import channel_prices
from shop.money import quantize

from .exceptions import DraftError
from .models import DraftOrder

PHONE_CHANNEL = "phone"  # saleschannels' code for phone and back-office orders


def place_draft(*, draft_id: int, payment: str, user: AbstractBaseUser) -> Order:
    """Turn a draft into an order on the phone channel and set how it is paid.

    One transaction: the draft's row is locked (a second click finds it placed and is refused),
    then `orders.services.place_order` prices the lines from the catalog, takes the manual
    discount off them (split across the lines in proportion to their amounts, to the cent: tax
    follows the price paid) and reserves the stock; nothing is reserved before. Then, by
    `payment`:

    - LINK: the order's payment is opened with the store's provider (demo or Stripe) and the
      customer is emailed the order's signed link, whose "Pay now" goes through the usual flow;
      the stock is held `STAFF_ORDER_PAYMENT_DAYS` days, then the order expires as any unpaid one.
    - OFFLINE: `payments.services.record_manual_payment` marks it paid by this staff member.
    - INVOICE: unpaid with no expiry, on invoice terms (`Order.payment_terms`): it may ship
      before it is paid, and staff record the payment when the invoice is paid.

    The customer gets one email when the order is placed: for LINK the "Pay for your order" email,
    which is also the order's confirmation (the "payment received" email follows when they pay);
    for OFFLINE the "payment received" email (placed and paid at once); for INVOICE the order
    confirmation, which says what is due on invoice. All are written to the outbox in this
    transaction and sent after commit.

    Raises DraftError, changing nothing, for a draft already placed, without lines, without an
    email, without an address to ship to, with a discount above the lines' total or without its
    reason, or whose items are out of stock or no longer for sale.
    """
    if payment not in DraftOrder.Payment.values:
        raise DraftError(_("Choose how the order is paid."))
    with transaction.atomic():
        draft = DraftOrder.objects.select_for_update().get(pk=draft_id)
        if draft.status != DraftOrder.Status.DRAFT:
            raise DraftError(_("This draft was already placed as order %(number)s.") % {"number": draft.order})
        customer = draft.customer
        email = customer.email if customer is not None else draft.email.strip()
        lines = list(draft.lines.order_by("pk").values_list("variant_id", "quantity"))
        _check(draft, email=email, lines=lines)
        country = (draft.pickup_location.country if draft.pickup_location_id else draft.country) or ""
        taxes = tax_table(country=country)

        channel = phone_channel()

        def on_placed(order: Order) -> None:
            _after_placing(order=order, draft=draft, payment=payment, user=user)

        try:
            order = place_order(
                lines=[PlacementLine(variant_id, quantity) for variant_id, quantity in lines],
                email=email, idempotency_key=f"draft-order-{draft.pk}",
                shipping=_shipping(draft), customer_name=draft.customer_name or (customer.full_name if customer else ""),
                phone=draft.phone, shipping_address=draft.shipping_address,
                user=customer.user if customer is not None and customer.user_id else None,
                tax_rate_for=taxes.rate_for, on_placed=on_placed,
                discounter=_manual_discount(draft, channel) if draft.discount_amount > 0 else None,
                # The phone channel decides what may be sold and at what price (its price list,
                # else the catalog's), as the quote staff read out showed; the order records the
                # staff member who placed it.
                # One first email per order (see above): only an order on invoice gets the confirmation.
                sale=ChannelSale(channel=channel, sold_by=user, notify=payment == DraftOrder.Payment.INVOICE),
            )
        except OutOfStock as error:
            raise DraftError(_("Not enough stock, nothing was reserved: %(error)s") % {"error": error}) from error
        except Variant.DoesNotExist as error:
            raise DraftError(_("An item in this draft is no longer for sale; remove it and try again.")) from error
    return order


def _check(draft: DraftOrder, *, email: str, lines: list[tuple[int, int]]) -> None:
    if not lines:
        raise DraftError(_("Add at least one item before placing the order."))
    if not email:
        raise DraftError(_("Choose a customer or type the new customer's email."))
    if not draft.pickup_location_id and not (draft.address_line1 and draft.city and draft.country):
        raise DraftError(_("Type the address to ship to (address, city, country), or choose a shop to collect at."))
    if draft.discount_amount > 0 and not draft.discount_reason.strip():
        raise DraftError(_("Say why the order gets a discount."))


def _shipping(draft: DraftOrder) -> ShippingChoice:
    if draft.pickup_location_id:
        return ShippingChoice(name=_("Pick up at %(shop)s") % {"shop": draft.pickup_location.name},
                              price=Decimal("0"), pickup_location_id=draft.pickup_location_id,
                              location_ids=[draft.pickup_location_id])
    return ShippingChoice(name=draft.shipping_name or _("Delivery"), price=quantize(draft.shipping_price))


def phone_channel() -> Channel:
    return Channel.objects.select_related("price_list").get(pk=PHONE_CHANNEL)


def _manual_discount(draft: DraftOrder, channel: Channel | None = None):
    """The discounter `place_order` calls: the amount over the lines at the phone channel's prices
    (the ones the order is charged), in proportion to each line's amount."""
    name = _("Staff discount: %(reason)s") % {"reason": draft.discount_reason.strip()}

    def discounter(quantities: dict[int, int], variants: Mapping[int, Variant]) -> Discounts:
        ids = sorted(quantities)
        prices = channel_prices(channel=channel, variant_ids=ids) if channel is not None and channel.price_list_id else {}
        amounts = [quantize(prices.get(pk, variants[pk].price)) * quantities[pk] for pk in ids]
        total = sum(amounts, Decimal("0"))
        if draft.discount_amount > total:
            raise DraftError(_("The discount (%(discount)s) is more than the items cost (%(total)s).")
                             % {"discount": draft.discount_amount, "total": total})
        parts = split_proportionally(quantize(draft.discount_amount), amounts)
        return Discounts(lines={pk: [LineDiscount(promotion_id=None, name=name, amount=part)]
                                for pk, part in zip(ids, parts) if part})

    return discounter


@dataclass(frozen=True)
class QuoteLine:
    sku: str
    title: str
    quantity: int
    unit_price: Decimal | None  # None: no longer sold on the phone channel
    line_total: Decimal | None


@dataclass(frozen=True)
class Quote:
    """What staff read out to the customer before placing: the phone channel's prices today."""

    lines: list[QuoteLine]
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    total: Decimal
    prices_include_tax: bool
    unavailable: bool  # a line is not sold on the phone channel: placing will refuse it


def quote(draft: DraftOrder) -> Quote:
    """The draft priced as placing it now would price it, before tax when prices exclude it
    (tax depends on the address; the order shows it once placed). Three queries at most."""
    from saleschannels.selectors import channel_products

    channel = phone_channel()
    rows = list(draft.lines.select_related("variant__product").order_by("pk"))
    ids = [row.variant_id for row in rows]
    prices = channel_prices(channel=channel, variant_ids=ids) if ids else {}
    products = {row.variant.product_id for row in rows}
    sold = set(channel_products(channel=channel).filter(pk__in=products).values_list("pk", flat=True)) if rows else set()
    lines = []
    for row in rows:
        on_sale = row.variant.is_active and row.variant.product_id in sold and row.variant_id in prices
        unit = quantize(prices[row.variant_id]) if on_sale else None
        lines.append(QuoteLine(sku=row.variant.sku, title=row.variant.product.title, quantity=row.quantity,
                               unit_price=unit, line_total=unit * row.quantity if unit is not None else None))
    subtotal = sum((line.line_total for line in lines if line.line_total is not None), Decimal("0"))
    discount = min(quantize(draft.discount_amount or 0), subtotal)
    shipping = Decimal("0") if draft.pickup_location_id else quantize(draft.shipping_price or 0)
    return Quote(lines=lines, subtotal=subtotal, discount=discount, shipping=shipping,
                 total=subtotal - discount + shipping, prices_include_tax=settings.STORE_PRICES_INCLUDE_TAX,
                 unavailable=any(line.unit_price is None for line in lines))


def _after_placing(*, order: Order, draft: DraftOrder, payment: str, user: AbstractBaseUser) -> None:
    """Inside place_order's transaction: the channel, the hold, who took it, and the payment."""
    now = timezone.now()
    order.channel_id = PHONE_CHANNEL
    order.sold_by = user
    order.reservation_expires_at = (now + timedelta(days=settings.STAFF_ORDER_PAYMENT_DAYS)
                                    if payment == DraftOrder.Payment.LINK else None)
    if payment == DraftOrder.Payment.INVOICE:
        order.payment_terms = Order.PaymentTerms.INVOICE
    order.save(update_fields=["channel", "sold_by", "reservation_expires_at", "payment_terms", "updated_at"])
    details = [_("Taken by %(staff)s (draft #%(draft)d); payment: %(payment)s.")
               % {"staff": user.get_username(), "draft": draft.pk,
                  "payment": DraftOrder.Payment(payment).label}]
    if draft.discount_amount:
        details.append(_("Manual discount %(amount)s: %(reason)s.")
                       % {"amount": draft.discount_amount, "reason": draft.discount_reason})
    if draft.purchase_order or draft.company:
        details.append(" ".join(filter(None, [draft.company, draft.purchase_order and f"PO {draft.purchase_order}"])))
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=user,
                              message=" ".join(details), data={"draft": draft.pk, "payment": payment})
    draft.status = DraftOrder.Status.PLACED
    draft.order = order
    draft.payment = payment
    draft.placed_by = user
    draft.placed_at = now
    draft.save(update_fields=["status", "order", "payment", "placed_by", "placed_at", "updated_at"])

    from notifications.services import enqueue_order_email
    from payments.services import open_payment, record_manual_payment

    if payment == DraftOrder.Payment.LINK:
        open_payment(order=order)
        enqueue_order_email(order_id=order.pk, kind="payment_link")
    elif payment == DraftOrder.Payment.OFFLINE:
        record_manual_payment(order_id=order.pk, user=user)
