"""How an outbox row is sent: claimed, sent with no lock held, recorded; and when it is retried.

The contract every sender follows (`deliver`):

1. Claim, in a short transaction holding the row's lock: a row that is sent or skipped is left
   alone, and so is one another sender has claimed (status "sending" until `next_attempt_at`).
   Otherwise it becomes "sending" with a lease of SENDING_LEASE, and the attempt is counted.
2. Build and send the message with no transaction open: a mail server that hangs holds this
   sender for EMAIL_TIMEOUT per step, never a row lock (on SQLite, the whole database's write lock)
   that a shopper's request would wait for.
3. Record, in one transaction: sent (with what the caller writes alongside, e.g. the order's
   history), or skipped, or failed with the error and the time of the next attempt
   (`retry_delay`), or, after GIVE_UP_AFTER_ATTEMPTS, given up for staff.

Two senders at once (a duplicate task, two retry loops) send once: the second finds the claim.
A sender that dies between sending and recording leaves the row "sending"; once the lease lapses
the retry loop sends it again, with the same Message-ID (which mailbox providers collapse), so
the rare failure is a duplicate, never a lost email.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from smtplib import SMTPAuthenticationError, SMTPConnectError, SMTPHeloError, SMTPServerDisconnected

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from .models import OutboundEmail

logger = logging.getLogger(__name__)

S = OutboundEmail.Status
# After this many failed attempts (about a day of retries, see retry_delay) the row is given up:
# staff see it in the outbox with its last error and can send it again from there.
GIVE_UP_AFTER_ATTEMPTS = 30
# A new row waits this long for the task enqueued with it before the retry loop sends it itself
# (a broker that was down at commit, a process killed before its background thread ran).
FIRST_ATTEMPT_GRACE = datetime.timedelta(minutes=2)
# How long a sender's claim holds: far longer than an SMTP conversation bounded by EMAIL_TIMEOUT.
SENDING_LEASE = datetime.timedelta(minutes=10)
# Errors that say the mail server cannot be reached or talked to at all (as opposed to refusing
# one message): the retry loop stops at the first and leaves the rest for its next run.
MAIL_SERVER_DOWN = (OSError, SMTPServerDisconnected, SMTPConnectError, SMTPHeloError, SMTPAuthenticationError)
UNSENT = (S.PENDING, S.SENDING, S.FAILED, S.GAVE_UP)


class NothingToSend(Exception):
    """The email is no longer needed (e.g. the stock was refilled before the alert went out)."""


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long after its `attempts`-th failed attempt an email is tried again: 1, 2, 4 … 32
    minutes, then every hour (30 attempts span about a day)."""
    return datetime.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def register(*, key: str, kind: str, params: dict, order_id: int | None = None) -> None:
    """Insert the outbox row unless one with this key exists (the unique constraint decides)."""
    OutboundEmail.objects.bulk_create(
        [OutboundEmail(key=key, kind=kind, order_id=order_id, params=params,
                       next_attempt_at=timezone.now() + FIRST_ATTEMPT_GRACE)],
        ignore_conflicts=True,
    )


def ensure_registered(*, key: str, kind: str, params: dict, order_id: int | None = None) -> None:
    """`register`, but only after looking: the row is usually there already.

    On PostgreSQL an INSERT … ON CONFLICT waits for any transaction that has updated the existing
    row (e.g. a claim in progress); a caller holding the order's row lock would wait for it too.
    """
    if not OutboundEmail.objects.filter(key=key).exists():
        register(key=key, kind=kind, params=params, order_id=order_id)


def due_emails(*, now: datetime.datetime) -> QuerySet[OutboundEmail]:
    """Rows the retry loop should send at `now`: waiting or failed and due, or claimed by a sender
    whose lease has lapsed. Given-up rows are left to staff. Oldest due first."""
    return (
        OutboundEmail.objects.filter(status__in=[S.PENDING, S.FAILED, S.SENDING], next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
    )


def deliver(
    *,
    key: str,
    build: Callable[[], EmailMultiAlternatives],
    on_sent: Callable[[EmailMultiAlternatives], None],
    due_by: datetime.datetime | None = None,
) -> bool:
    """Send the outbox row `key` under the contract above; True if this call sent it.

    `due_by`: only if the row is due by then (the retry loop, whose clock it is: the attempt is
    recorded at that time); without it (the task enqueued with the email, staff's "send now") any
    unsent row that no other sender holds is sent, a given-up one too. `build` makes the message
    (raising NothingToSend to skip it); `on_sent` writes the caller's records in the transaction
    that marks the row sent.

    On failure the row records the attempt and the error and the exception propagates (the loop
    stops at MAIL_SERVER_DOWN errors).
    """
    outbox = _claim(key=key, due_by=due_by)
    if outbox is None:
        return False
    try:
        with translation.override(settings.LANGUAGE_CODE):
            message = build()
        message.send()
    except NothingToSend as reason:
        _record(outbox, status=S.SKIPPED, error=str(reason))
        logger.info("Email %s not sent: %s", key, reason)
        return False
    except Exception as error:
        status = S.GAVE_UP if outbox.attempts >= GIVE_UP_AFTER_ATTEMPTS else S.FAILED
        _record(outbox, status=status, error=f"{type(error).__name__}: {error}"[:2000],
                next_attempt_at=outbox.last_attempt_at + retry_delay(outbox.attempts) if status == S.FAILED else None)
        logger.warning("Email %s failed (attempt %s, %s): %s", key, outbox.attempts, status, outbox.last_error)
        raise
    with transaction.atomic():
        outbox.subject = message.subject[:255]
        outbox.recipients = list(message.to)
        _record(outbox, status=S.SENT, error="", fields=["subject", "recipients"])
        on_sent(message)
    return True


def _claim(*, key: str, due_by: datetime.datetime | None) -> OutboundEmail | None:
    # The retry loop's time is the time of the attempt: its schedule and its claims agree.
    now = due_by or timezone.now()
    with transaction.atomic():
        outbox = OutboundEmail.objects.select_for_update().get(key=key)
        if outbox.status in (S.SENT, S.SKIPPED):
            return None
        held = outbox.status == S.SENDING and outbox.next_attempt_at is not None and outbox.next_attempt_at > now
        not_due = due_by is not None and (
            outbox.status == S.GAVE_UP or outbox.next_attempt_at is None or outbox.next_attempt_at > due_by
        )
        if held or not_due:
            return None
        outbox.status = S.SENDING
        outbox.attempts += 1
        outbox.last_attempt_at = now
        outbox.next_attempt_at = now + SENDING_LEASE
        outbox.save(update_fields=["status", "attempts", "last_attempt_at", "next_attempt_at", "updated_at"])
    return outbox


def _record(outbox: OutboundEmail, *, status: str, error: str, next_attempt_at: datetime.datetime | None = None,
            fields: list[str] | None = None) -> None:
    outbox.status = status
    outbox.last_error = error
    outbox.next_attempt_at = next_attempt_at
    outbox.sent_at = outbox.last_attempt_at if status == S.SENT else None
    outbox.save(update_fields=["status", "last_error", "next_attempt_at", "sent_at", "updated_at", *(fields or [])])
