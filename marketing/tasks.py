"""Campaign tasks: thin wrappers over marketing.services, which makes each send idempotent.

Retried on SMTP and connection errors with exponential backoff for about an hour; what is still
pending after that is sent by the campaign page's "Resume sending" button
(services.resume_campaign). Without a broker the batches run in the web process's background
thread after the response to "send" (shop/background.py); there a retry is not scheduled, and a
mail outage leaves the messages pending for that button.
"""
from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from . import services

RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**RETRY)
def send_campaign_batch_task(campaign_id: int, message_ids: list[int]) -> None:
    services.send_campaign_batch(campaign_id=campaign_id, message_ids=message_ids)
