"""Email tasks: thin wrappers over notifications.services, which makes each send idempotent.

A mail server outage makes these raise SMTPException/OSError; Celery retries them 8 times with
exponential backoff (up to 30 s, 1 min, 2 min … 1 h; jittered, so about an hour in all), and
`requeue_unsent_emails_task` picks up whatever is still unsent after that.
"""
from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from orders.models import Order

from . import services

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**RETRY)
def send_order_email_task(
    order_id: int,
    kind: str,
    shipment_id: int | None = None,
    refund_id: int | None = None,
    amount: str | None = None,
    key: str | None = None,
) -> None:
    try:
        services.send_order_email(
            order_id=order_id, kind=kind, shipment_id=shipment_id, refund_id=refund_id, amount=amount, key=key
        )
    except Order.DoesNotExist:
        # Deleted between the commit that enqueued us and now (its outbox row went with it).
        logger.info("Order %s no longer exists; its %s email is not sent", order_id, kind)


@shared_task(**RETRY)
def send_low_stock_alert_task(key: str, stock_level_ids: list[int]) -> None:
    services.send_low_stock_alert(key=key, stock_level_ids=stock_level_ids)


@shared_task(**RETRY)
def send_staff_alert_task(key: str, subject: str, order_id: int | None, message: str) -> None:
    try:
        services.send_staff_alert(key=key, subject=subject, order_id=order_id, message=message)
    except Order.DoesNotExist:
        logger.info("Order %s no longer exists; staff alert %s is not sent", order_id, key)


@shared_task
def requeue_unsent_emails_task() -> None:
    """Schedule with beat (every few minutes): see services.requeue_unsent_emails."""
    count = services.requeue_unsent_emails()
    if count:
        logger.info("Enqueued %s unsent email(s) again", count)
