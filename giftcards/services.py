"""Writes for gift cards: issue, sell, deliver, deactivate, and every move of a balance.

Every balance change goes through `_move`, which writes the ledger row with it: the caller holds
the card's row lock (`lock_cards`, pk order), so two orders spending one card queue and the second
sees what the first left. Paying an order with cards, and giving that money back, is the payments
app's (`payments.services.gift_cards`), which calls these.
"""
from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from shop.money import currency_code, quantize

from . import codes
from .exceptions import CardNotFound, CardNotUsable, InsufficientBalance, TooManyAttempts
from .models import GiftCard, GiftCardTransaction

logger = logging.getLogger(__name__)

Kind = GiftCardTransaction.Kind
# Wrong codes one visitor (address, and separately session) may try per window: enough for typos,
# far too few to find a 78-bit code by guessing.
CODE_ATTEMPTS = 10
CODE_ATTEMPT_WINDOW = 15 * 60


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _actor(user: AbstractBaseUser | None):
    return user if user is not None and user.is_authenticated else None


# --- The ledger ------------------------------------------------------------------------------------


def lock_cards(card_ids: Iterable[int]) -> list[GiftCard]:
    """The cards, locked, in pk order (every path locks them that way: no deadlock)."""
    return list(GiftCard.objects.select_for_update().filter(pk__in=set(card_ids)).order_by("pk"))


def _move(card: GiftCard, *, kind: str, amount: Decimal, user: AbstractBaseUser | None = None, note: str = "",
          **refs) -> GiftCardTransaction:
    """Change `card`'s balance by `amount` and write the ledger row; the two never part.

    Precondition: inside a transaction holding the card's row lock. Raises InsufficientBalance
    (nothing written) for a debit larger than the balance; the database refuses one too.
    """
    amount = quantize(amount, card.currency)
    if amount == 0:
        raise ValueError("A gift card transaction moves money.")
    after = card.balance + amount
    if after < 0:
        raise InsufficientBalance(f"card {card.pk}: {card.balance} < {-amount}")
    card.balance = after
    card.save(update_fields=["balance", "updated_at"])
    return GiftCardTransaction.objects.create(card=card, kind=kind, amount=amount, balance_after=after,
                                              note=note[:255], created_by=_actor(user), **refs)


def debit(*, card: GiftCard, amount: Decimal, order, payment, user: AbstractBaseUser | None) -> GiftCardTransaction:
    """Take `amount` from the locked `card` for `order` (the gift card `payment` records it)."""
    tx = _move(card, kind=Kind.DEBIT, amount=-amount, order=order, payment=payment, user=user,
               note=f"Order {order.number}")
    if card.redeemed_by_id is None and _actor(user) is not None:
        card.redeemed_by = user
        card.save(update_fields=["redeemed_by", "updated_at"])
    return tx


def release(*, card: GiftCard, amount: Decimal, order, payment) -> GiftCardTransaction:
    """Give back what an order that was never paid took from the locked `card`."""
    return _move(card, kind=Kind.RELEASE, amount=amount, order=order, payment=payment,
                 note=f"Order {order.number} not paid")


def credit_refund(*, refund) -> GiftCardTransaction:
    """Credit the card a gift card payment came from with `refund.amount`.

    Precondition: the caller holds the payment's row lock (`payments.services.refunds`); the card
    is locked here. A refund credits its card once (unique refund on the ledger row). A
    deactivated or expired card is credited all the same: staff chose to refund to it.
    """
    card_id = GiftCardTransaction.objects.filter(payment_id=refund.payment_id, kind=Kind.DEBIT).values_list(
        "card_id", flat=True).get()
    (card,) = lock_cards([card_id])
    return _move(card, kind=Kind.REFUND, amount=refund.amount, order=refund.payment.order, payment=refund.payment,
                 refund=refund, user=refund.created_by, note=refund.reason or "Refund")


# --- Finding a card by its code --------------------------------------------------------------------


def _attempt_keys(*, address: str, session_key: str) -> list[str]:
    keys = [f"giftcards:attempts:ip:{address}"]
    if session_key:
        keys.append(f"giftcards:attempts:session:{session_key}")
    return keys


def find_card(*, code: str, address: str = "", session_key: str = "", currency: str | None = None) -> GiftCard:
    """The usable card with `code`; the rate limit counts every code that is not one.

    Raises TooManyAttempts once this address or session has tried CODE_ATTEMPTS wrong codes in
    CODE_ATTEMPT_WINDOW seconds (checked before the lookup, so guessing stops there), CardNotFound
    for a wrong code (counted), CardNotUsable with the reason for a card that cannot pay.
    """
    keys = _attempt_keys(address=address, session_key=session_key)
    if any((cache.get(key) or 0) >= CODE_ATTEMPTS for key in keys):
        raise TooManyAttempts()
    card = None
    if codes.looks_like_code(code):
        card = GiftCard.objects.filter(code_hash=codes.code_hash(code)).first()
    if card is None:
        for key in keys:
            cache.add(key, 0, CODE_ATTEMPT_WINDOW)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, CODE_ATTEMPT_WINDOW)
        raise CardNotFound()
    check_usable(card, currency=currency)
    return card


def check_usable(card: GiftCard, *, currency: str | None = None, now: datetime | None = None) -> None:
    if not card.is_active:
        raise CardNotUsable("inactive" if card.deactivated_at else "not_delivered")
    if card.code_hash is None:
        raise CardNotUsable("not_delivered")
    if card.is_expired(now):
        raise CardNotUsable("expired")
    if card.currency != (currency or currency_code()):
        raise CardNotUsable("currency")
    if card.balance <= 0:
        raise CardNotUsable("empty")


# --- Issuing and deactivating ----------------------------------------------------------------------


def _assign_code(card: GiftCard) -> str:
    """Give `card` a new code and return it: the only time it exists in full outside an email."""
    while True:
        code = codes.new_code()
        try:
            with transaction.atomic():
                GiftCard.objects.filter(pk=card.pk).update(code_hash=codes.code_hash(code), last4=codes.last_four(code))
        except IntegrityError:  # 78 bits: practically never; a new code then
            continue
        card.code_hash, card.last4 = codes.code_hash(code), codes.last_four(code)
        return code


@transaction.atomic
def issue_gift_card(
    *, amount: Decimal, user: AbstractBaseUser, reason: str, expires_at: datetime | None = None,
    recipient_email: str = "", recipient_name: str = "", message: str = "", deliver_at: datetime | None = None,
) -> tuple[GiftCard, str]:
    """Staff issue a card (a goodwill gesture): return it and its code.

    With a recipient email the card is emailed to them (at `deliver_at`, or now) and the code is
    "" here: it is made when the email is sent, so it only ever exists in that email. Without one,
    the code is returned now, to be shown once to the staff member, and never again. Raises
    ValueError for a non-positive amount or a missing reason.
    """
    amount = quantize(amount)
    if amount <= 0:
        raise ValueError("A gift card's value must be positive.")
    if not reason.strip():
        raise ValueError("Say why the card is issued.")
    card = GiftCard.objects.create(
        source=GiftCard.Source.ISSUED, initial_balance=amount, balance=Decimal("0"), currency=currency_code(),
        expires_at=expires_at, issued_by=_actor(user), reason=reason.strip(), recipient_email=recipient_email,
        recipient_name=recipient_name, message=message, deliver_at=deliver_at if recipient_email else None,
    )
    _move(card, kind=Kind.ISSUE, amount=amount, user=user, note=reason.strip())
    if recipient_email:
        _schedule_delivery(card)
        return card, ""
    code = _assign_code(card)
    card.delivered_at = timezone.now()
    card.save(update_fields=["delivered_at", "updated_at"])
    return card, code


@transaction.atomic
def deactivate_gift_card(*, card_id: int, user: AbstractBaseUser, reason: str) -> GiftCard:
    """Stop a card from paying (lost, sold by mistake); its balance and ledger stay as they are.

    Locks the card. Orders it already paid are untouched; refunds may still credit it."""
    (card,) = lock_cards([card_id])
    if not card.is_active:
        return card
    card.is_active = False
    card.deactivated_at = timezone.now()
    card.deactivated_by = _actor(user)
    card.deactivation_reason = reason.strip()
    card.save(update_fields=["is_active", "deactivated_at", "deactivated_by", "deactivation_reason", "updated_at"])
    from .resend import record_deactivation  # it imports this module

    record_deactivation(card=card, user=user, reason=reason)
    return card


# --- Cards sold as products -----------------------------------------------------------------------


def gift_card_variant_ids(variant_ids: Iterable[int]) -> set[int]:
    from catalog.models import Variant

    return set(Variant.objects.filter(pk__in=set(variant_ids), product__gift_card__isnull=False).values_list(
        "pk", flat=True))


def create_sold_cards(*, order, recipient: dict | None = None) -> list[GiftCard]:
    """One card per gift card unit of the new `order`, waiting for its payment (no value yet).

    Called in the transaction that placed the order (checkout's `on_placed`) when the shopper chose
    a recipient (email, name, message, deliver_at as ISO text). Without one, `activate_sold_cards`
    makes them when the order is paid, for the order's email, at once. It also gives them their
    value.
    """
    return _new_sold_cards(order=order, lines=_gift_card_lines(order.pk), recipient=recipient or {})


def _gift_card_lines(order_id: int) -> list:
    from orders.models import OrderLine

    return list(OrderLine.objects.filter(order_id=order_id, variant__product__gift_card__isnull=False)
                .select_related("order", "variant__product__gift_card"))


def _new_sold_cards(*, order, lines, recipient: dict, save: bool = True) -> list[GiftCard]:
    deliver_at = None
    if recipient.get("deliver_at"):
        deliver_at = datetime.fromisoformat(recipient["deliver_at"])
    cards = []
    for line in lines:
        months = line.variant.product.gift_card.valid_months
        for index in range(line.quantity):
            cards.append(GiftCard(
                source=GiftCard.Source.SOLD, initial_balance=line.unit_price, balance=Decimal("0"),
                currency=order.currency, is_active=False, order=order, order_line=line, unit_index=index,
                recipient_email=recipient.get("email") or order.email, recipient_name=recipient.get("name", ""),
                sender_name=recipient.get("sender", "") or order.customer_name,
                message=recipient.get("message", ""), deliver_at=deliver_at,
                reason=f"Sold with order {order.number}",
                expires_at=None if months is None else _add_months(timezone.now(), months),
            ))
    return GiftCard.objects.bulk_create(cards) if save else cards


def activate_sold_cards(*, order_id: int) -> list:
    """The order was paid: its sold cards get their value and are scheduled for delivery.

    Called by `orders.services.confirm_payment` in its transaction (order row locked); one query
    for an order without gift cards. Makes the cards checkout did not (no recipient chosen).
    Idempotent: a card already active is skipped. Returns the order's gift card lines (the order
    counts them fulfilled: the cards exist now, and are emailed on their delivery day).
    """
    lines = _gift_card_lines(order_id)
    if not lines:
        return []
    made = set(GiftCard.objects.filter(order_id=order_id).values_list("order_line_id", "unit_index"))
    missing = [line for line in lines if any((line.pk, i) not in made for i in range(line.quantity))]
    if missing:  # no recipient was chosen at checkout: the cards go to the order's email, now
        order = lines[0].order
        GiftCard.objects.bulk_create([
            card for card in _new_sold_cards(order=order, lines=missing, recipient={}, save=False)
            if (card.order_line_id, card.unit_index) not in made
        ])
    pending = GiftCard.objects.filter(order_id=order_id, source=GiftCard.Source.SOLD, is_active=False,
                                      deactivated_at=None)
    activated = 0
    for card in lock_cards(pending.values_list("pk", flat=True)):
        if card.is_active or card.balance != 0:
            continue
        card.is_active = True
        if card.expires_at is not None:
            # Valid from the payment, not from when it was put in the cart.
            card.expires_at = card.expires_at + (timezone.now() - card.created_at)
        card.save(update_fields=["is_active", "expires_at", "updated_at"])
        _move(card, kind=Kind.ISSUE, amount=card.initial_balance, order_id=order_id, note="Bought")
        _schedule_delivery(card)
        activated += 1
    return lines


# --- Delivery --------------------------------------------------------------------------------------


def _schedule_delivery(card: GiftCard) -> None:
    """Send a card due now after commit; a later one waits for the beat job (`deliver_due_gift_cards`)."""
    if card.deliver_at is not None and card.deliver_at > timezone.now():
        return
    from .tasks import deliver_gift_card_task

    card_id = card.pk
    transaction.on_commit(lambda: deliver_gift_card_task.delay(card_id=card_id), robust=True)


def due_for_delivery(now: datetime | None = None):
    now = now or timezone.now()
    return GiftCard.objects.filter(is_active=True, delivered_at=None).exclude(recipient_email="").filter(
        Q(deliver_at=None) | Q(deliver_at__lte=now))


def deliver_gift_card(*, card_id: int, now: datetime | None = None) -> bool:
    """Email the card and its code to its recipient, once; True if sent now.

    The code is made here, under the card's row lock, and the email sent inside that transaction:
    a second run (a duplicate task, the beat job) waits on the lock and finds the card delivered;
    a failed send rolls back, so the card stays undelivered and the beat job tries again with a
    fresh code (none was ever shown). Nothing is sent before `deliver_at`, nor for an inactive card.
    """
    now = now or timezone.now()
    with transaction.atomic():
        cards = lock_cards([card_id])
        if not cards:
            return False
        card = cards[0]
        if card.delivered_at is not None or not card.is_active or not card.recipient_email:
            return False
        if card.deliver_at is not None and card.deliver_at > now:
            return False
        code = _assign_code(card)
        card.delivered_at = now
        card.save(update_fields=["delivered_at", "updated_at"])
        _gift_card_email(card, code).send()
    return True


def deliver_due_gift_cards(*, now: datetime | None = None, limit: int = 200) -> int:
    sent = 0
    for card_id in due_for_delivery(now).order_by("pk").values_list("pk", flat=True)[:limit]:
        try:
            sent += deliver_gift_card(card_id=card_id, now=now)
        except Exception:  # one bad address or a mail server hiccup must not stop the others
            logger.exception("Gift card %s not delivered; tried again next run", card_id)
    return sent


def _gift_card_email(card: GiftCard, code: str, *, resent: bool = False) -> EmailMultiAlternatives:
    """The card's email; `resent`: a new code replacing the one sent before (`resend.py`)."""
    from notifications import links

    context = {
        "card": card, "code": code, "store_name": settings.STORE_NAME, "site_url": links.absolute_url("/"),
        "resent": resent,
    }
    subject = " ".join(render_to_string("emails/gift_card_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string("emails/gift_card.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL, to=[card.recipient_email],
        connection=get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 10),
    )
    message.attach_alternative(render_to_string("emails/gift_card.html", context), "text/html")
    return message


def erase_for_customer(*, customer, emails=(), scrub=lambda text: text) -> int:
    """Erase the person from the gift cards tied to `customer` (`selectors.cards_of_customer`),
    keeping every card, balance and ledger row: they are money records (docs/privacy.md).

    - a card sent to them loses the recipient's email, name and message (it is not delivered any
      more if it was waiting; its code still works for whoever holds it);
    - a card they bought loses the sender name and message, and, once delivered, the recipient's
      details too; a card still waiting to be delivered keeps its recipient, name and message: it
      is someone else's gift, paid for;
    - the staff texts (reason, why deactivated) and ledger notes lose the person's details (`scrub`);
    - the cards' events keep only the address the card keeps, and their notes are scrubbed.
    Called by `customers.services.privacy.erase_customer` inside its transaction, before the
    account and the customer's email go. Locks the cards in pk order. Returns how many cards.
    """
    from .selectors import cards_of_customer

    cards = list(cards_of_customer(customer, emails=emails).select_for_update(of=("self",)).order_by("pk"))
    ids = [card.pk for card in cards]
    for card in cards:
        tied = card
        waiting = card.delivered_at is None and bool(card.recipient_email)
        if tied.sent_to_them or not waiting:
            card.recipient_email = card.recipient_name = card.message = ""
        if tied.bought_by_them:
            card.sender_name = ""
            if not waiting:
                card.message = ""
        card.reason = scrub(card.reason)
        card.deactivation_reason = scrub(card.deactivation_reason)
    GiftCard.objects.bulk_update(cards, ["recipient_email", "recipient_name", "message", "sender_name", "reason",
                                         "deactivation_reason"])
    notes = list(GiftCardTransaction.objects.filter(card_id__in=ids).exclude(note=""))
    for row in notes:
        row.note = scrub(row.note)
    GiftCardTransaction.objects.bulk_update(notes, ["note"])
    # The cards' events (resends, recipient changes) name addresses too: only the recipient a card
    # keeps (someone else's gift still to be delivered) stays; staff notes are scrubbed.
    from .models import GiftCardEvent

    kept = {card.pk: card.recipient_email.lower() for card in cards}
    events = list(GiftCardEvent.objects.filter(card_id__in=ids))
    for event in events:
        keep = kept[event.card_id]
        event.recipient_email = event.recipient_email if keep and event.recipient_email.lower() == keep else ""
        event.previous_email = event.previous_email if keep and event.previous_email.lower() == keep else ""
        event.note = scrub(event.note)
    GiftCardEvent.objects.bulk_update(events, ["recipient_email", "previous_email", "note"])
    return len(cards)
