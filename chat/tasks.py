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


def _with_retries(task, call, *, give_up):
    """Run `call()`; on a TransientError retry it (by a worker after 30 s, 60 s, 120 s; run
    eagerly, at once, as Celery's eager retry would raise into the request), then `give_up(error)`."""
    from .messaging import outbound

    attempts = task.max_retries + 1 if task.request.is_eager else 1
    for attempt in range(attempts):
        try:
            return call()
        except outbound.TransientError as error:
            retries = task.request.retries + attempt
            if retries >= task.max_retries:
                return give_up(error)
            if not task.request.is_eager:
                raise task.retry(exc=error, countdown=30 * 2 ** retries) from error
    return None


@shared_task(bind=True, max_retries=3)
def fetch_sender_name_task(self, conversation_id: int) -> str:
    """A Messenger sender's name from the User Profile API (once; retried like a reply, then left
    empty: the inbox shows the sender's id instead)."""
    from .messaging import outbound

    return _with_retries(self, lambda: outbound.fetch_sender_name(conversation_id=conversation_id),
                         give_up=lambda error: "") or ""


@shared_task(bind=True, max_retries=3)
def send_platform_message_task(self, message_id: int) -> bool:
    """A staff reply to WhatsApp or Messenger. Safe twice: a sent message has the platform's id.
    Timeouts, 429 and 5xx are retried, then recorded as not delivered."""
    from .messaging import outbound

    def give_up(error) -> bool:
        outbound.record_failure(message_id=message_id, error=str(error))
        return False

    return bool(_with_retries(self, lambda: outbound.deliver(message_id=message_id), give_up=give_up))


@shared_task(bind=True, max_retries=3)
def fetch_inbound_media_task(self, message_id: int) -> int:
    """The files of a WhatsApp or Messenger message: fetched, checked and stored (each once; a
    refused one noted for staff). Timeouts, 429 and 5xx are retried, then noted as not fetched."""
    from .messaging import media

    def give_up(error) -> int:
        media.give_up(message_id=message_id, error=str(error))
        return 0

    return _with_retries(self, lambda: media.fetch_inbound(message_id=message_id), give_up=give_up) or 0
