"""Chat's background work. Thin: each task calls one function and is safe to run twice."""
from smtplib import SMTPException

from celery import shared_task


@shared_task(autoretry_for=(SMTPException, OSError), retry_backoff=True, max_retries=5)
def email_reply_task(message_id: int) -> bool:
    from .emails import email_reply

    return email_reply(message_id=message_id)


@shared_task
def assign_queued_task() -> int:
    from .assignment import assign_queued

    return assign_queued()
