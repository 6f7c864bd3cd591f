"""Sending a card's email again, to the same recipient or a corrected address: for staff (the
admin's "Send again…" page) and for the shopper who bought it (their account's gift cards page).

Only a hash of a code is stored, so the code that went out cannot be sent again: a resend makes
a new code and emails it, and the old one stops working (a code that reached a wrong address is
then worthless to whoever got it). The code exists only in that email; nobody who asks for the
resend sees it. Each resend, and each change of recipient before delivery, is a `GiftCardEvent`
keyed by the click that asked for it, so the same click posted twice sends one email.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .exceptions import CannotResend
from .models import GiftCard, GiftCardEvent, GiftCardTransaction
from .services import _actor, _assign_code, _gift_card_email, lock_cards

# A purchaser may have a card sent again this many times a day (a person fixing a typo, not a
# way to fill someone's inbox); staff are not limited.
PURCHASER_DAILY_RESENDS = 3

By = GiftCardEvent.By


@dataclass(frozen=True)
class Resent:
    event: GiftCardEvent
    repeated: bool  # the same click again: nothing was done this time

    @property
    def sent(self) -> bool:
        return self.event.kind == GiftCardEvent.Kind.RESENT


def resend_gift_card(
    *, card_id: int, user: AbstractBaseUser, by: str, key: str, recipient_email: str = "", note: str = "",
) -> Resent:
    """Email card `card_id` again with a new code, to `recipient_email` (a correction) or to its
    recipient; for a card still waiting for its delivery day, only change who gets it.

    `by` is `GiftCardEvent.By.STAFF` (the caller checked the staff member's `change_giftcard`
    permission) or `.PURCHASER` (checked here: the signed-in `user` placed the order that bought
    it; they may correct the address only while the card is unspent, and resend at most
    PURCHASER_DAILY_RESENDS times a day). `key` is the click's token: a key already used for this
    card returns that event (repeated=True) and sends nothing; used for another card,
    CannotResend("key").

    One transaction holding the card's row lock: the new code, the email (sent inside it, as
    `deliver_gift_card` does: a failed send rolls everything back and raises, the old code still
    works) and the event. Raises CannotResend with a reason for a deactivated or unpaid card, a
    card without any address, a purchaser who is not the buyer, a spent card's new address from
    a purchaser, too many resends.
    """
    recipient_email = (recipient_email or "").strip()
    with transaction.atomic():
        cards = lock_cards([card_id])
        if not cards:
            raise GiftCard.DoesNotExist(card_id)
        card = cards[0]
        earlier = GiftCardEvent.objects.filter(key=key).first()
        if earlier is not None:
            if earlier.card_id != card.pk:
                raise CannotResend("key")
            return Resent(event=earlier, repeated=True)
        _check(card, user=user, by=by, recipient_email=recipient_email)
        previous = card.recipient_email
        to = recipient_email or previous
        now = timezone.now()
        event = GiftCardEvent(card=card, by=by, user=_actor(user), recipient_email=to, previous_email=previous,
                              note=note.strip()[:255], key=key)
        if card.delivered_at is None and card.deliver_at is not None and card.deliver_at > now:
            # Not sent yet: it goes on its day, to the corrected address.
            if to.lower() == previous.lower():
                raise CannotResend("scheduled")
            event.kind = GiftCardEvent.Kind.RECIPIENT
            card.recipient_email = to
            card.save(update_fields=["recipient_email", "updated_at"])
            event.save()
            return Resent(event=event, repeated=False)
        event.kind = GiftCardEvent.Kind.RESENT
        event.previous_last4 = card.last4
        code = _assign_code(card)
        event.last4 = card.last4
        card.recipient_email = to
        card.delivered_at = now
        card.save(update_fields=["recipient_email", "delivered_at", "updated_at"])
        event.save()
        _gift_card_email(card, code, resent=True).send()
    return Resent(event=event, repeated=False)


def _check(card: GiftCard, *, user: AbstractBaseUser, by: str, recipient_email: str) -> None:
    if not card.is_active:
        raise CannotResend("inactive" if card.deactivated_at else "unpaid")
    if not (recipient_email or card.recipient_email):
        raise CannotResend("no_recipient")
    if by == By.STAFF:
        return
    if by != By.PURCHASER or card.order_id is None or _actor(user) is None or card.order.user_id != user.pk:
        raise CannotResend("not_yours")
    changed = recipient_email and recipient_email.lower() != card.recipient_email.lower()
    if changed and GiftCardTransaction.objects.filter(card=card, kind=GiftCardTransaction.Kind.DEBIT).exists():
        raise CannotResend("used")
    today = GiftCardEvent.objects.filter(card=card, by=By.PURCHASER, created_at__gte=timezone.now() - timedelta(days=1))
    if today.count() >= PURCHASER_DAILY_RESENDS:
        raise CannotResend("too_often")


def record_deactivation(*, card: GiftCard, user: AbstractBaseUser | None, reason: str) -> GiftCardEvent:
    """Precondition: inside `deactivate_gift_card`'s transaction (card locked)."""
    return GiftCardEvent.objects.create(card=card, kind=GiftCardEvent.Kind.DEACTIVATED, by=By.STAFF,
                                        user=_actor(user), note=reason.strip()[:255])
