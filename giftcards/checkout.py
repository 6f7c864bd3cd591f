"""What checkout calls for gift cards when it places an order, and forgets afterwards."""
from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from django.utils import timezone

from . import selectors, services


def on_order_placed(*, order, session, user) -> Decimal:
    """Inside the transaction that created `order`: make the gift cards it buys (valueless until it
    is paid) and pay what the entered cards cover (`payments.services.pay_with_gift_cards`);
    return how much they paid (for `payments.services.open_payment`)."""
    from payments.services import pay_with_gift_cards

    recipient = dict(session.get(selectors.RECIPIENT_SESSION_KEY) or {})
    if recipient:  # else the cards bought (if any) go to the order's email when it is paid: no query here
        if recipient.get("deliver_on"):
            day = datetime.fromisoformat(recipient["deliver_on"]).date()
            moment = timezone.make_aware(datetime.combine(day, time(8)))  # the morning, store time
            recipient["deliver_at"] = moment.isoformat() if moment > timezone.now() else ""
        services.create_sold_cards(order=order, recipient=recipient)
    card_ids = [pk for pk in session.get(selectors.SESSION_KEY, []) if isinstance(pk, int)]
    if not card_ids:
        return Decimal("0")
    return sum((p.amount for p in pay_with_gift_cards(order=order, card_ids=card_ids, user=user)), Decimal("0"))


def forget(session) -> None:
    session.pop(selectors.SESSION_KEY, None)
    session.pop(selectors.RECIPIENT_SESSION_KEY, None)
