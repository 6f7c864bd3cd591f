"""Chat's background work. Thin: each task calls one function and is safe to run twice."""
from contextlib import suppress

from celery import shared_task


@shared_task
def email_reply_task(message_id: int) -> bool:
    """A mail server error is recorded on the outbox row, whose retry loop sends it later."""
    from notifications.tasks import MAIL_ERRORS

    from .emails import send_reply_email

    with suppress(*MAIL_ERRORS):
        return send_reply_email(message_id=message_id)
    return False


@shared_task
def assign_queued_task() -> int:
    from .assignment import assign_queued

    return assign_queued()


@shared_task(bind=True, max_retries=3)
def fetch_sender_name_task(self, conversation_id: int) -> str:
    """A Messenger sender's name from the User Profile API (once; retried like a reply, then left
    empty: the inbox shows the sender's id instead)."""
    from .messaging import outbound

    attempts = self.max_retries + 1 if self.request.is_eager else 1
    for attempt in range(attempts):
        try:
            return outbound.fetch_sender_name(conversation_id=conversation_id)
        except outbound.TransientError as error:
            retries = self.request.retries + attempt
            if retries >= self.max_retries:
                return ""
            if not self.request.is_eager:
                raise self.retry(exc=error, countdown=30 * 2 ** retries) from error
    return ""


@shared_task(bind=True, max_retries=3)
def send_platform_message_task(self, message_id: int) -> bool:
    """A staff reply to WhatsApp or Messenger. Safe twice: a sent message has the platform's id.
    Timeouts, 429 and 5xx are retried (by a worker after 30 s, 60 s, 120 s; run eagerly, at once,
    as Celery's eager retry would raise into the request), then recorded as not delivered."""
    from .messaging import outbound

    attempts = self.max_retries + 1 if self.request.is_eager else 1
    for attempt in range(attempts):
        try:
            return outbound.deliver(message_id=message_id)
        except outbound.TransientError as error:
            retries = self.request.retries + attempt
            if retries >= self.max_retries:
                outbound.record_failure(message_id=message_id, error=str(error))
                return False
            if not self.request.is_eager:
                raise self.retry(exc=error, countdown=30 * 2 ** retries) from error
    return False
