"""Email tasks: thin wrappers over notifications.services, which makes each send idempotent.

A failed send is recorded on its outbox row with the time of its next attempt (1, 2, 4 … minutes,
then hourly; see notifications.delivery), and the retry loop, `send_due_emails_task`, sends it
then. So these tasks do not retry themselves: one schedule, the row's, visible to staff. A mail
server error is not raised (notifications.delivery has logged it and put it on the row, with the
time of the next attempt); anything else propagates.
"""
from __future__ import annotations

import logging
from contextlib import suppress
from smtplib import SMTPException

from celery import shared_task

from orders.models import Order

from . import services

logger = logging.getLogger(__name__)

# A mail server that failed: delivery has logged it and scheduled the retry on the outbox row.
MAIL_ERRORS = (SMTPException, OSError)


@shared_task
def send_order_email_task(
    order_id: int,
    kind: str,
    shipment_id: int | None = None,
    refund_id: int | None = None,
    amount: str | None = None,
    key: str | None = None,
) -> None:
    try:
        with suppress(*MAIL_ERRORS):
            services.send_order_email(
                order_id=order_id, kind=kind, shipment_id=shipment_id, refund_id=refund_id, amount=amount, key=key
            )
    except Order.DoesNotExist:
        # Deleted between the commit that enqueued us and now (its outbox row went with it).
        logger.info("Order %s no longer exists; its %s email is not sent", order_id, kind)


@shared_task
def send_low_stock_alert_task(key: str, stock_level_ids: list[int]) -> None:
    with suppress(*MAIL_ERRORS):
        services.send_low_stock_alert(key=key, stock_level_ids=stock_level_ids)


@shared_task
def send_staff_alert_task(key: str, subject: str, order_id: int | None, message: str) -> None:
    try:
        with suppress(*MAIL_ERRORS):
            services.send_staff_alert(key=key, subject=subject, order_id=order_id, message=message)
    except Order.DoesNotExist:
        logger.info("Order %s no longer exists; staff alert %s is not sent", order_id, key)


@shared_task
def send_due_emails_task() -> None:
    """The retry loop, every minute (beat, or the web process's thread without a broker): see
    services.send_due_emails."""
    run = services.send_due_emails()
    if run.sent or run.failed:
        logger.info("Due emails: %s sent, %s failed%s", run.sent, run.failed,
                    f"; stopped, the mail server is down ({run.stopped})" if run.stopped else "")


# The name beat used before the retry loop sent emails itself; a message still queued under it
# runs the loop.
requeue_unsent_emails_task = shared_task(name="notifications.tasks.requeue_unsent_emails_task")(
    send_due_emails_task.run
)
