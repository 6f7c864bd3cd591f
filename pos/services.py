"""Writes at the counter: opening and closing a register, selling, paying cash back.

Every change is recorded: a session keeps who opened and closed it, the float and the count; each
cash movement names its order and who made it; a sale is an order (with its events, payments and
stock ledger rows naming the order and the staff member) plus its `Sale` row.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import stock
from catalog.models import Location, Variant
from customers.models import Customer
from inventory.models import Reason
from orders.models import Order, OrderEvent
from orders.services import ChannelSale, PlacementLine, ShippingChoice, confirm_payment, create_shipment, place_order
from orders.services.fulfilment import ShipmentRequest
from payments.models import Payment, Provider
from saleschannels.selectors import counter_channel
from shop.money import currency_code, format_money, quantize

from .exceptions import RegisterAlreadyOpen, RegisterClosed, SaleError
from .models import CashMovement, Register, RegisterSession, Sale

KEY_PREFIX = "pos-"


def _money(value, what: str) -> Decimal:
    try:
        amount = quantize(Decimal(str(value or "0").strip() or "0"))
    except (InvalidOperation, ValueError):
        raise SaleError(_("%(what)s must be an amount such as 12.50.") % {"what": what}) from None
    if amount < 0:
        raise SaleError(_("%(what)s cannot be negative.") % {"what": what})
    return amount


# --- The register -------------------------------------------------------------------------------


def open_register(*, register: Register, user: AbstractBaseUser, opening_float) -> RegisterSession:
    """Open a session on `register` with `opening_float` in the drawer (recorded as its first movement).

    One transaction. Raises RegisterAlreadyOpen when the register has an open session (the
    database's partial unique constraint decides, also for two tills opened at once), SaleError
    for an inactive register or a bad amount; nothing is written then.
    """
    amount = _money(opening_float, _("The float"))
    if not register.is_active:
        raise SaleError(_("%(register)s is not in use.") % {"register": register})
    try:
        with transaction.atomic():
            session = RegisterSession.objects.create(register=register, opened_by=user, opening_float=amount,
                                                     currency=currency_code())
            CashMovement.objects.create(session=session, kind=CashMovement.Kind.FLOAT, amount=amount, created_by=user)
    except IntegrityError:
        current = RegisterSession.objects.filter(register=register, closed_at__isnull=True).select_related(
            "opened_by").first()
        raise RegisterAlreadyOpen(_("%(register)s is already open (by %(who)s since %(when)s): close it first.") % {
            "register": register, "who": getattr(current, "opened_by", "someone"),
            "when": f"{timezone.localtime(current.opened_at):%H:%M}" if current else "?",
        }) from None
    return session


def expected_cash(session: RegisterSession) -> Decimal:
    """What the drawer should hold: the float, plus cash sales, less cash refunds."""
    return session.movements.aggregate(total=Sum("amount"))["total"] or Decimal("0")


def close_register(*, session_id: int, user: AbstractBaseUser, counted_cash, note: str = "") -> RegisterSession:
    """Close a session with the cash counted in the drawer; record what was expected and the difference.

    Locks the session row, so a sale or refund in flight (they lock it too) lands before the
    count or is refused after it. RegisterClosed for a session already closed (a second click).
    """
    counted = _money(counted_cash, _("The cash counted"))
    with transaction.atomic():
        session = RegisterSession.objects.select_for_update().get(pk=session_id)
        if not session.is_open:
            raise RegisterClosed(_("This register session was already closed."))
        expected = expected_cash(session)
        session.expected_cash, session.counted_cash = expected, counted
        session.difference = counted - expected
        session.closed_by, session.closed_at, session.closing_note = user, timezone.now(), note.strip()
        session.save(update_fields=["expected_cash", "counted_cash", "difference", "closed_by", "closed_at",
                                    "closing_note"])
    return session


def _lock_open_session(session_id: int) -> RegisterSession:
    session = RegisterSession.objects.select_for_update().select_related("register__location").get(pk=session_id)
    if not session.is_open:
        raise RegisterClosed(_("This register is closed: open it again before selling."))
    return session


def record_cash_refund(*, session_id: int, order: Order, amount, user: AbstractBaseUser, note: str = "") -> CashMovement:
    """Cash paid back out of the drawer for `order` (a return at the counter): a negative movement.

    Precondition: the refund itself is recorded by `payments.services.refund_payment`; this records
    only where the cash came from. Locks the session (RegisterClosed when it is closed).
    """
    amount = _money(amount, _("The refund"))
    if amount <= 0:
        raise SaleError(_("A refund takes out more than nothing."))
    with transaction.atomic():
        session = _lock_open_session(session_id)
        return CashMovement.objects.create(session=session, kind=CashMovement.Kind.REFUND, amount=-amount,
                                           order=order, created_by=user, note=note[:255])


# --- Selling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleLine:
    variant_id: int
    quantity: int
    ship: bool = False  # not on the shop's shelf: sold from a warehouse and shipped (endless aisle)


@dataclass(frozen=True)
class Tenders:
    """What the customer hands over. Gift card first (up to its balance), then the card terminal's
    amount, then cash pays the rest; change is cash tendered less that rest."""

    cash_tendered: Decimal = Decimal("0")
    card_amount: Decimal = Decimal("0")
    card_reference: str = ""
    gift_card_id: int | None = None


def split_tenders(*, total: Decimal, gift: Decimal, card: Decimal, cash_tendered: Decimal,
                  currency: str) -> tuple[Decimal, Decimal]:
    """(cash taken, change) when a gift card paid `gift` of `total` and the terminal `card`.

    The one place the counter's money is split: the card never pays more than what the gift card
    left, cash pays the rest exactly, change is what was tendered beyond it. SaleError (with the
    amounts) when the tenders fall short, or when cash is tendered with nothing left to pay in cash.
    """
    due = total - gift
    if card > due:
        raise SaleError(_("The card amount %(card)s is more than the %(due)s left to pay.") % {
            "card": format_money(card, currency), "due": format_money(due, currency)})
    cash = due - card
    if cash_tendered < cash:
        raise SaleError(_("%(cash)s is still to pay: %(tendered)s in cash is not enough.") % {
            "cash": format_money(cash, currency), "tendered": format_money(cash_tendered, currency)})
    if cash == 0 and cash_tendered:
        raise SaleError(_("Nothing is left to pay in cash: clear the cash tendered."))
    return cash, cash_tendered - cash


def find_sale(key: str) -> Sale | None:
    return Sale.objects.filter(order__idempotency_key=key).select_related("order").first()


def sell(
    *, session_id: int, staff: AbstractBaseUser, key: str, lines: Sequence[SaleLine], tenders: Tenders,
    customer: Customer | None = None, email: str = "", name: str = "", phone: str = "",
    shipping_address: dict | None = None,
) -> Sale:
    """Record a sale at a register: an order on the shop's counter channel, paid and handed over.

    One transaction (`place_order` with `on_placed`): the order is placed at the counter channel's
    prices, lines taken now reserve at the shop (and leave its stock at once, ledger reason
    "counter sale", the staff member named), lines to ship reserve at the warehouses (they ship
    later through the usual flow, to `shipping_address`). The tenders pay the total computed here:
    a gift card (its row locked), the terminal's amount and reference, cash with change; the cash
    taken goes into the drawer. Refused with SaleError, writing nothing, when they do not cover the
    total or pay more than it by card; OutOfStock when the shop (or warehouse) lacks the units.

    `key` is the sale's idempotency key (made when the sell screen started the sale): the same key
    again, while the first is in flight or after it committed, records nothing more and returns the
    first sale. The register's session is locked, so a sale never lands in a closed session.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 64:
        raise SaleError(_("This sale has no valid key: start a new sale."))
    existing = find_sale(key)
    if existing is not None:
        return existing
    if not lines:
        raise SaleError(_("The sale is empty: scan or find an item first."))
    for line in lines:
        if line.quantity < 1:
            raise SaleError(_("Quantities must be at least 1."))
    ships = any(line.ship for line in lines)
    if ships and not (shipping_address and shipping_address.get("line1") and shipping_address.get("city")
                      and shipping_address.get("country")):
        raise SaleError(_("Items shipped from the warehouse need the customer's shipping address."))
    if ships and not (email or customer):
        raise SaleError(_("Items shipped from the warehouse need the customer's email for the tracking link."))
    session = RegisterSession.objects.select_related("register__location").get(pk=session_id)
    if not session.is_open:  # said early; the lock in settle() has the final word
        raise RegisterClosed(_("This register is closed: open it again before selling."))
    shop = session.register.location
    channel = counter_channel(location_id=shop.pk)
    if channel is None:
        raise SaleError(_("%(shop)s has no active counter channel.") % {"shop": shop.name})
    # Shipped to the customer: only from warehouses that ship online orders (the one rule,
    # catalog.stock.deliverable_q), as an online delivery would be.
    warehouses = tuple(Location.objects.filter(stock.deliverable_q(prefix=""), kind=Location.Kind.WAREHOUSE)
                       .order_by("position", "name", "pk").values_list("pk", flat=True))
    if ships and not warehouses:
        raise SaleError(_("There is no active warehouse that ships online orders to ship from."))
    placement = [PlacementLine(line.variant_id, line.quantity, location_ids=warehouses if line.ship else (shop.pk,))
                 for line in lines]
    email = (email or (customer.email if customer else "")).strip()

    def settle(order: Order) -> None:
        locked = _lock_open_session(session_id)
        _settle(order=order, session=locked, staff=staff, tenders=tenders,
                taken_now={line.variant_id for line in lines if not line.ship})

    from checkout.services import tax_table

    try:
        order = place_order(
            lines=placement, email=email, idempotency_key=key, customer_name=name, phone=phone,
            tax_rate_for=tax_table(country=shop.country or "").rate_for,  # handed over here: the shop's rates
            shipping=ShippingChoice(name="Shipped from the warehouse" if ships else "Taken at the counter",
                                    price=Decimal("0")),
            shipping_address=shipping_address or {},
            sale=ChannelSale(channel=channel, location_id=shop.pk, sold_by=staff, customer=customer,
                             anonymous=customer is None and not email, notify=False),
            on_placed=settle,
        )
    except Variant.DoesNotExist:
        raise SaleError(_("An item in this sale is no longer sold in this shop: remove it and try again.")) from None
    return Sale.objects.select_related("order").get(order=order)


def _settle(*, order: Order, session: RegisterSession, staff, tenders: Tenders, taken_now: set[int]) -> None:
    from payments.services import pay_with_gift_cards

    total = order.total
    card = _money(tenders.card_amount, _("The card amount"))
    cash_tendered = _money(tenders.cash_tendered, _("The cash tendered"))
    reference = tenders.card_reference.strip()[:80]
    if card and not reference:
        raise SaleError(_("Type the card terminal's reference for the card payment."))
    gift = Decimal("0")
    if tenders.gift_card_id is not None and total > 0:
        paid = pay_with_gift_cards(order=order, card_ids=[tenders.gift_card_id], user=staff, notify=False)
        if not paid:
            raise SaleError(_("The gift card cannot pay: it is spent, expired or deactivated."))
        gift = sum((p.amount for p in paid), Decimal("0"))
    cash, change = split_tenders(total=total, gift=gift, card=card, cash_tendered=cash_tendered,
                                 currency=order.currency)
    now = timezone.now()
    for provider, amount, raw in ((Provider.CARD_TERMINAL, card, {"reference": reference}),
                                  (Provider.CASH, cash, {"tendered": str(cash_tendered), "change": str(change)})):
        if amount > 0:
            payment = Payment.objects.create(order=order, provider=provider, status=Payment.Status.SUCCEEDED,
                                             amount=amount, currency=order.currency, succeeded_at=now,
                                             created_by=staff, raw=raw)
            OrderEvent.objects.create(
                order=order, kind=OrderEvent.Kind.PAYMENT, actor=OrderEvent.Actor.STAFF, user=staff,
                message=f"Paid {format_money(amount, order.currency)} by {payment.get_provider_display()}"
                        + (f" (reference {reference})" if provider == Provider.CARD_TERMINAL else
                           f" ({format_money(cash_tendered, order.currency)} tendered, "
                           f"{format_money(change, order.currency)} change)"),
                data={"payment": payment.pk, "amount": str(amount), **raw},
            )
    order.refresh_from_db(fields=["payment_status", "paid_at"])
    if order.payment_status == Order.PaymentStatus.UNPAID:
        confirm_payment(order_id=order.pk, amount=total, actor=OrderEvent.Actor.STAFF,
                        reference=f"counter sale at {session.register}", user=staff, notify=False)
    if cash > 0:
        CashMovement.objects.create(session=session, kind=CashMovement.Kind.SALE, amount=cash, order=order,
                                    created_by=staff)
    now_lines = {line.pk: line.quantity for line in order.lines.all() if line.variant_id in taken_now}
    if now_lines:
        create_shipment(order_id=order.pk, request=ShipmentRequest(quantities=now_lines, carrier="Handed over at the counter"),
                        user=staff, reason=Reason.COUNTER_SALE, notify=False)
    Sale.objects.create(order=order, session=session, sold_by=staff, cash_tendered=cash_tendered, cash_taken=cash,
                        change_given=change, card_amount=card, card_reference=reference, gift_card_amount=gift)


def send_receipt(*, sale: Sale, email: str = "") -> str:
    """Email the receipt of `sale` once, after commit; return the address it goes to.

    An anonymous sale gets the address staff type now (kept on the order, which had none); a sale
    with an email goes to that one. Once per order (the outbox key): a second click sends nothing
    more. SaleError without an address.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from notifications.services import enqueue_order_email

    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=sale.order_id)
        if not order.email:
            email = email.strip()
            try:
                validate_email(email)
            except ValidationError:
                raise SaleError(_("Type the customer's email address for the receipt.")) from None
            order.email = email
            order.save(update_fields=["email", "updated_at"])
        enqueue_order_email(order_id=order.pk, kind="receipt")
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF,
                                  message=f"Receipt emailed to {order.email}")
    return order.email
