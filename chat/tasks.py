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
