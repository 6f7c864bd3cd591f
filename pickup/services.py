"""Writes for click and collect: ready for pickup, collected at the counter, reminded, cancelled.

Lock order, as everywhere in orders: a payment's row before its order's (payments/services),
then the order's, then the pick-up's. Every step writes an order event; emails go through the
outbox (written in the same transaction, sent after commit).
"""
from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import OrderError
from orders.models import Order, OrderEvent, OrderLine
from orders.services import ShipmentRequest, create_shipment
from orders.services.common import lock_order, release_outstanding
from orders.status import FULFILMENT, can_ship, transition

from . import codes, selectors
from .exceptions import PickupError, TooManyAttempts, WrongCode
from .models import Pickup

logger = logging.getLogger(__name__)
F = Order.FulfilmentStatus
COLLECTED_CARRIER = "Collected in shop"


def _staff(user: AbstractBaseUser | None):
    return user if user is not None and user.is_authenticated else None


@transaction.atomic
def mark_ready_for_pickup(*, order_id: int, user: AbstractBaseUser | None) -> Pickup:
    """Say a paid pick-up order is waiting at its shop, and email the shopper their pick-up code.

    Locks the order. Raises PickupError, changing nothing, for an order that is not a pick-up, is
    not paid (or has nothing left to hand over), or is already marked ready. Enqueues the
    "ready for pickup" email (code, address, hours, what to bring) after commit. The order's
    fulfilment state does not move: the goods are still the shop's until collected.
    """
    order = lock_order(order_id)
    if order.pickup_location_id is None:
        raise PickupError(_("Order %(number)s is delivered, not collected.") % {"number": order.number})
    if not can_ship(order) or order.fulfilment_status != F.UNFULFILLED:
        raise PickupError(_("Order %(number)s is %(state)s; only a paid order not yet handed over can be made "
                            "ready for pickup.") % {"number": order.number, "state": order.get_state_display().lower()})
    if Pickup.objects.filter(order=order).exists():
        raise PickupError(_("Order %(number)s is already marked ready for pickup.") % {"number": order.number})
    pickup = Pickup.objects.create(order=order, location_id=order.pickup_location_id, code_salt=codes.new_salt(),
                                   ready_at=timezone.now(), ready_by=_staff(user))
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=_staff(user),
        message=_("Ready for pickup at %(shop)s; the shopper was sent a pick-up code.")
        % {"shop": order.pickup_location.name}, data={"pickup": pickup.pk, "pickup_status": Pickup.Status.READY},
    )
    from notifications.services import enqueue_order_email

    enqueue_order_email(order_id=order.pk, kind="ready_for_pickup")
    return pickup


def collect_pickup(*, order_id: int, code: str, user: AbstractBaseUser | None) -> Pickup:
    """Hand a ready pick-up over at the counter once the shopper gave its code.

    The right code ships every unit left (`orders.services.create_shipment`: the reservation
    leaves on hand at the shop, the order becomes shipped, the "collected" email is enqueued) and
    marks the pick-up collected, in one transaction (order locked, then the pick-up).
    A wrong code hands nothing over and changes nothing but the count of wrong codes (committed,
    with an order event), then raises WrongCode; after `PICKUP_CODE_ATTEMPTS` wrong codes every
    further try raises TooManyAttempts. PickupError for a pick-up that is not waiting.
    """
    wrong: WrongCode | None = None
    with transaction.atomic():
        order = lock_order(order_id)
        pickup = Pickup.objects.select_for_update().filter(order=order).first()
        if pickup is None or pickup.status != Pickup.Status.READY:
            state = pickup.get_status_display().lower() if pickup else _("not ready for pickup yet")
            raise PickupError(_("Order %(number)s is %(state)s; nothing was handed over.")
                              % {"number": order.number, "state": state})
        limit = settings.PICKUP_CODE_ATTEMPTS
        if pickup.failed_attempts >= limit:
            raise TooManyAttempts()
        if not codes.matches(order_id=order.pk, salt=pickup.code_salt, given=code):
            pickup.failed_attempts += 1
            pickup.save(update_fields=["failed_attempts", "updated_at"])
            OrderEvent.objects.create(
                order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=_staff(user),
                message=_("Wrong pick-up code entered at the counter (%(count)d of %(limit)d).")
                % {"count": pickup.failed_attempts, "limit": limit},
            )
            wrong = WrongCode(attempts_left=limit - pickup.failed_attempts)
        else:
            _hand_over(order=order, pickup=pickup, user=user)
    if wrong is not None:
        raise wrong
    return pickup


@transaction.atomic
def hand_over_without_code(*, order_id: int, reason: str, user: AbstractBaseUser) -> Pickup:
    """Hand a ready pick-up over without its code, on a staff member's word (e.g. "photo ID checked").

    For a shopper who lost the email at the counter, or whose tries are used up: it is the
    explicit, recorded alternative to the code, never a silent one. Locks the order, then the
    pick-up. The history gets who handed it over without the code and why, before the shipment
    (`_hand_over`, as for the code). Raises PickupError, changing nothing, without a reason (or
    one over 500 characters), without a signed-in staff member, or for a pick-up not waiting.
    A pick-up locked by wrong codes may be handed over this way: staff checked who is there.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise PickupError(_("Say why the order is handed over without its code (for example: photo ID checked); "
                            "nothing was handed over."))
    if len(reason) > 500:
        raise PickupError(_("The reason is too long (at most 500 characters); nothing was handed over."))
    staff = _staff(user)
    if staff is None:
        raise PickupError(_("Only a signed-in staff member can hand an order over without its code."))
    order = lock_order(order_id)
    pickup = _waiting(order)
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=staff,
        message=_("Handed over without the pick-up code by %(staff)s: %(reason)s")
        % {"staff": staff.get_username(), "reason": reason},
        data={"pickup": pickup.pk, "pickup_override": reason},
    )
    _hand_over(order=order, pickup=pickup, user=staff)
    return pickup


@transaction.atomic
def issue_new_code(*, order_id: int, user: AbstractBaseUser | None) -> Pickup:
    """Give a ready pick-up a new code and email it to the shopper (who lost the first email).

    Locks the order, then the pick-up. A new salt is a new code (`codes.pickup_code`): the old one
    stops matching at once, and the count of wrong codes starts again (they were tries at the old
    one). The history says a new code was sent and by whom; the "new pick-up code" email is
    written to the outbox in this transaction (keyed by that history entry, so each new code is
    one email) and sent after commit. Raises PickupError, changing nothing, for a pick-up not
    waiting at the shop.
    """
    order = lock_order(order_id)
    pickup = _waiting(order)
    pickup.code_salt = codes.new_salt()
    pickup.failed_attempts = 0
    pickup.save(update_fields=["code_salt", "failed_attempts", "updated_at"])
    event = OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=_staff(user),
        message=_("New pick-up code sent to %(email)s; the previous code no longer works.") % {"email": order.email},
        data={"pickup": pickup.pk, "pickup_new_code": True},
    )
    from notifications.services import enqueue_order_email

    enqueue_order_email(order_id=order.pk, kind="pickup_code", occurrence=event.pk)
    return pickup


def _waiting(order: Order) -> Pickup:
    """The order's pick-up, row locked, if it waits at the shop; PickupError otherwise.
    Precondition: the caller holds the order's row lock."""
    pickup = Pickup.objects.select_for_update().filter(order=order).first()
    if pickup is None or pickup.status != Pickup.Status.READY:
        state = pickup.get_status_display().lower() if pickup else _("not ready for pickup yet")
        raise PickupError(_("Order %(number)s is %(state)s; nothing was handed over or changed.")
                          % {"number": order.number, "state": state})
    return pickup


def _hand_over(*, order: Order, pickup: Pickup, user: AbstractBaseUser | None) -> None:
    """Ship every unit left and mark the pick-up collected. Precondition: the caller holds the
    order's and the pick-up's row locks and checked the code, or recorded why not."""
    lines = OrderLine.objects.filter(order=order).values_list("pk", "quantity", "quantity_fulfilled")
    try:
        create_shipment(order_id=order.pk, user=user, pickup_checked=True, request=ShipmentRequest(
            quantities={pk: quantity - done for pk, quantity, done in lines if quantity > done},
            carrier=COLLECTED_CARRIER,
        ))
    except OrderError as error:  # refunded meanwhile, say: the counter gets the reason, not a crash
        raise PickupError(str(error)) from error
    pickup.status = Pickup.Status.COLLECTED
    pickup.collected_at = timezone.now()
    pickup.collected_by = _staff(user)
    pickup.save(update_fields=["status", "collected_at", "collected_by", "updated_at"])


def remind_uncollected(*, now: datetime | None = None) -> int:
    """Email a reminder for each pick-up waiting `PICKUP_REMINDER_DAYS` days or more; return how many.

    Idempotent: each pick-up is claimed by a conditional UPDATE of `reminded_at` (only if still
    unset and still waiting), in the transaction that writes its email to the outbox, so two runs,
    or two workers, remind once.
    """
    now = now or timezone.now()
    from notifications.services import enqueue_order_email

    sent = 0
    for pickup_id, order_id in selectors.due_for_reminder(now=now).values_list("pk", "order_id")[:500]:
        with transaction.atomic():
            claimed = Pickup.objects.filter(pk=pickup_id, status=Pickup.Status.READY,
                                            reminded_at__isnull=True).update(reminded_at=now, updated_at=now)
            if not claimed:
                continue
            OrderEvent.objects.create(order_id=order_id, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.TASK,
                                      message=_("Pick-up reminder sent: not collected after %(days)d days.")
                                      % {"days": settings.PICKUP_REMINDER_DAYS})
            enqueue_order_email(order_id=order_id, kind="pickup_reminder")
            sent += 1
    return sent


def cancel_uncollected(*, now: datetime | None = None) -> int:
    """Cancel each pick-up waiting `PICKUP_CANCEL_AFTER_DAYS` days or more; return how many.

    Each in its own transaction (`cancel_uncollected_pickup`, which records the refunds as
    pending); then, with no transaction open, the refunds of cancelled pick-ups still awaiting
    their provider (these, and any an earlier run's providers left unanswered) are sent by
    `payments.services.send_awaiting_refunds`: each claimed, asked once, and answered in its own
    transaction, so what one provider did is committed before the next is asked, and a second
    worker running at once asks for none of them again. A failure on one order is logged and does
    not stop the others.
    """
    from payments.models import Refund
    from payments.services import send_awaiting_refunds

    now = now or timezone.now()
    done = 0
    for order_id in selectors.due_for_cancellation(now=now).values_list("order_id", flat=True)[:200]:
        try:
            cancelled = cancel_uncollected_pickup(order_id=order_id, now=now)
        except Exception:  # one order's trouble must not stop the others
            logger.exception("Could not cancel uncollected pick-up of order %s", order_id)
            continue
        done += cancelled
    send_awaiting_refunds(refunds=Refund.objects.filter(payment__order__pickup__status=Pickup.Status.CANCELLED))
    return done


@transaction.atomic
def cancel_uncollected_pickup(*, order_id: int, now: datetime | None = None) -> int:
    """Cancel one pick-up nobody collected: refund what was paid, give the reserved units back.

    Locks the order's succeeded payments (pk order) and then the order and the pick-up (the
    payments' lock order). Does nothing (returns 0) when the pick-up is no longer waiting or not
    yet due, so a second run, or a collection that won the race, is left alone. The fulfilment
    state moves to cancelled (the shelf's units become available again: `release_outstanding`),
    promotions are given back, what is left of each payment is recorded as a pending refund
    (`payments.services.open_refund`: no provider is asked inside this transaction, so a provider
    failing after another refunded cannot roll back the record of that refund; `cancel_uncollected`
    sends them after commit), and the "cancelled" email is enqueued. Returns 1 when it cancelled.
    """
    from payments.models import Payment
    from payments.services.refunds import open_refund, refundable_amount
    from promotions.services import release_for_order

    now = now or timezone.now()
    payments = list(Payment.objects.select_for_update().filter(order_id=order_id, status=Payment.Status.SUCCEEDED)
                    .order_by("pk"))
    order = lock_order(order_id)
    pickup = Pickup.objects.select_for_update().filter(order=order).first()
    due = selectors.due_for_cancellation(now=now).filter(pk=getattr(pickup, "pk", None)).exists()
    if pickup is None or not due or order.fulfilment_status != F.UNFULFILLED:
        return 0
    days = settings.PICKUP_CANCEL_AFTER_DAYS
    reason = _("Not collected within %(days)d days") % {"days": days}
    transition(order=order, state=FULFILMENT, to=F.CANCELLED, actor=OrderEvent.Actor.TASK, message=reason)
    released = release_outstanding(order)
    release_for_order(order=order)
    order.reservation_expires_at = None
    order.save(update_fields=["reservation_expires_at", "updated_at"])
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.TASK,
                              message=_("%(count)d reserved unit(s) back in stock at %(shop)s.")
                              % {"count": released, "shop": pickup.location.name})
    pickup.status = Pickup.Status.CANCELLED
    pickup.cancelled_at = now
    pickup.save(update_fields=["status", "cancelled_at", "updated_at"])
    for payment in payments:
        left = refundable_amount(payment)
        if left > 0:
            open_refund(payment=payment, amount=left, user=None, reason=reason)
    from notifications.services import enqueue_order_email

    enqueue_order_email(order_id=order.pk, kind="cancelled")
    return 1
