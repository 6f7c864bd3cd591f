"""Thin: the outbox row decides whether the email is sent (once); a mail server error is on the
row with its next attempt (notifications.delivery), so this task does not retry itself."""
from contextlib import suppress

from celery import shared_task

from notifications.tasks import MAIL_ERRORS


@shared_task
def send_return_email_task(request_id: int, kind: str) -> None:
    from . import emails

    with suppress(*MAIL_ERRORS):
        emails.send(request_id=request_id, kind=kind)


@shared_task
def finish_refunds_task() -> int:
    """Refunds of returns a provider did not answer: asked again with the same keys, then settled."""
    from .services import finish_refunds

    return finish_refunds()
