"""Gift cards as a payment instrument: part or all of an order paid from card balances.

Each card used is one Payment (provider "gift_card", succeeded at once) and one debit in the
card's ledger (`giftcards.services`). What is left is paid by the store's provider (demo card or
Stripe): `amount_due`. An order fully covered is paid at placement. If the order is never paid
(it expires, or is cancelled), `release_gift_card_payments` gives each debit back and cancels its
payment. A refund of a gift card payment credits the card (`providers.gift_card`).

Lock order: the order row (new, or locked by the caller), then the card rows in pk order; the
card payments are written under those locks.

A provider's payment that arrives after the order expired and gave its gift card money back
(`rehold_released`) holds those cards again if each still has what it gave back; otherwise the
payment is an amount mismatch for staff with the shortfall named, never a paid order.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Sum

from orders.models import Order, OrderEvent
from orders.services import MadeUp, PaymentOutcome, confirm_payment
from shop.money import format_money

from ..models import Payment, Provider

S = Payment.Status


def gift_cards_paid(order_id: int) -> Decimal:
    """What the order's gift card payments took (refunds of them not subtracted: the order was paid
    with it, as with any payment)."""
    total = Payment.objects.filter(order_id=order_id, provider=Provider.GIFT_CARD, status=S.SUCCEEDED).aggregate(
        total=Sum("amount"))["total"]
    return total or Decimal("0")


def amount_due(order: Order) -> Decimal:
    """What the store's provider has to take: the total less what gift cards paid."""
    return max(order.total - gift_cards_paid(order.pk), Decimal("0"))


def pay_with_gift_cards(*, order: Order, card_ids: Sequence[int], user: AbstractBaseUser | None,
                        notify: bool = True) -> list[Payment]:
    """Pay what the cards cover of `order`, card by card in the order given, each at most its balance.

    Precondition: inside the transaction that created `order` (checkout's `on_placed`) or holding
    its row lock. The cards are locked in pk order and checked again under the lock, so two orders
    spending one card never take more than its balance: the second sees what the first left. A
    card no longer usable (spent meanwhile, deactivated, expired) is skipped: the rest is paid by
    card. An order the cards cover in full is confirmed paid here. Returns the gift card payments.
    """
    from giftcards import services as giftcards
    from giftcards.exceptions import GiftCardError

    if not order.is_awaiting_payment:
        return []
    wanted = list(dict.fromkeys(card_ids))
    cards = {card.pk: card for card in giftcards.lock_cards(wanted)}
    remaining = amount_due(order)
    payments = []
    for card_id in wanted:
        card = cards.get(card_id)
        if card is None or remaining <= 0:
            continue
        try:
            giftcards.check_usable(card, currency=order.currency)
        except GiftCardError:
            continue
        take = min(card.balance, remaining)
        payment = Payment.objects.create(
            order=order, provider=Provider.GIFT_CARD, status=S.SUCCEEDED, amount=take, currency=order.currency,
            provider_payment_id=f"giftcard-{card.pk}-{card.last4}-order-{order.pk}", succeeded_at=order.created_at,
        )
        giftcards.debit(card=card, amount=take, order=order, payment=payment, user=user)
        OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.PAYMENT, actor=OrderEvent.Actor.CUSTOMER, user=user if user is not None and user.is_authenticated else None,
            message=f"Paid {format_money(take, order.currency)} with gift card {card.display_code}",
            data={"payment": payment.pk, "gift_card": card.pk, "amount": str(take)},
        )
        payments.append(payment)
        remaining -= take
    if payments and remaining <= 0:
        outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.CUSTOMER,
                                  reference="gift cards", user=user, notify=notify)
        if outcome is PaymentOutcome.PAID:
            order.refresh_from_db()
    return payments


def release_gift_card_payments(*, order: Order, actor: str) -> Decimal:
    """Give back every gift card debit of an order that was never paid; return how much.

    Precondition: inside a transaction holding the order's row lock (`orders.services` expiry and
    cancellation call it). Each gift card payment is cancelled and its card credited, once: a
    cancelled payment is not released again.
    """
    from giftcards import services as giftcards
    from giftcards.models import GiftCardTransaction

    if order.paid_at is not None:
        return Decimal("0")
    from .refunds import refundable_amount

    held = list(Payment.objects.filter(order=order, provider=Provider.GIFT_CARD, status=S.SUCCEEDED).order_by("pk"))
    if not held:
        return Decimal("0")
    card_of = dict(GiftCardTransaction.objects.filter(
        payment__in=held, kind=GiftCardTransaction.Kind.DEBIT).values_list("payment_id", "card_id"))
    cards = {card.pk: card for card in giftcards.lock_cards(card_of.values())}
    released = Decimal("0")
    for payment in held:
        card = cards[card_of[payment.pk]]
        left = refundable_amount(payment)  # less what staff already refunded to the card
        if left > 0:
            giftcards.release(card=card, amount=left, order=order, payment=payment)
        payment.status = S.CANCELLED
        payment.save(update_fields=["status", "updated_at"])
        OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.PAYMENT, actor=actor,
            message=f"{format_money(left, order.currency)} given back to gift card {card.display_code}: "
                    f"the order was not paid",
            data={"payment": payment.pk, "gift_card": card.pk, "released": str(left)},
        )
        released += left
    return released


def rehold_released(order: Order, paid: Decimal) -> MadeUp:
    """Hold again what the order's gift cards gave back when it expired unpaid, for a late
    payment of `paid` that counted on them; `confirm_payment`'s `make_up`.

    Precondition: inside confirm_payment's transaction, holding the order's row lock (the
    caller holds the provider payment's). Locks the cards in pk order. All or nothing: only when
    the released payments make up exactly what is missing and every card is still usable with
    at least what it gave back is each debited again (a new gift card payment and a debit per
    card, recorded in the order's history); otherwise nothing moves and the detail names the
    shortfall and each card's lack, for the staff alert.
    """
    from giftcards import services as giftcards
    from giftcards.exceptions import GiftCardError
    from giftcards.models import GiftCardTransaction

    released = list(Payment.objects.filter(order=order, provider=Provider.GIFT_CARD, status=S.CANCELLED)
                    .order_by("pk"))
    if not released:
        return MadeUp()
    missing = order.total - paid - gift_cards_paid(order.pk)
    rows = {row.payment_id: row for row in GiftCardTransaction.objects.filter(
        payment__in=released, kind=GiftCardTransaction.Kind.RELEASE)}
    cards = {card.pk: card for card in giftcards.lock_cards(row.card_id for row in rows.values())}
    wanted = [(payment, cards[rows[payment.pk].card_id], rows[payment.pk].amount)
              for payment in released if payment.pk in rows]
    given_back = sum((amount for _p, _c, amount in wanted), Decimal("0"))
    short = []
    for _payment, card, amount in wanted:
        try:
            giftcards.check_usable(card, currency=order.currency)
            problem = "" if card.balance >= amount else "spent since"
        except GiftCardError as error:
            problem = str(error).rstrip(".").lower()
        if problem:
            short.append(f"gift card {card.display_code} gave back {format_money(amount, order.currency)} and now "
                         f"has {format_money(card.balance, order.currency)} ({problem})")
    if short or given_back != missing:
        because = "; ".join(short) or (f"the gift cards gave back {format_money(given_back, order.currency)}, not "
                                       f"the {format_money(missing, order.currency)} missing")
        return MadeUp(detail=f"Its gift card money was given back when it expired and cannot be held again: {because}. "
                             f"Short by {format_money(missing, order.currency)}: refund the payment, or settle the "
                             f"rest with the customer.")
    for old, card, amount in wanted:
        payment = Payment.objects.create(
            order=order, provider=Provider.GIFT_CARD, status=S.SUCCEEDED, amount=amount, currency=order.currency,
            provider_payment_id=f"giftcard-{card.pk}-{card.last4}-order-{order.pk}-again-{old.pk}",
            succeeded_at=order.created_at,
        )
        giftcards.debit(card=card, amount=amount, order=order, payment=payment, user=None)
        OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.PAYMENT, actor=OrderEvent.Actor.SYSTEM,
            message=f"{format_money(amount, order.currency)} held again on gift card {card.display_code}: the rest "
                    f"was paid after the order expired",
            data={"payment": payment.pk, "gift_card": card.pk, "amount": str(amount), "again_for": old.pk},
        )
    return MadeUp(amount=given_back)
