"""Campaign tasks: thin wrappers over marketing.services, which makes each send idempotent.

Retried like the store's other emails (notifications.tasks.RETRY: SMTP and connection errors,
exponential backoff for about an hour); what is still pending after that is sent by the
campaign page's "Resume sending" button (services.resume_campaign). Without a broker (eager
mode) the batches run inside the request that pressed "send", after its commit, and a mail
outage leaves the messages pending for that button.
"""
from __future__ import annotations

from celery import shared_task

from notifications.tasks import RETRY

from . import services


@shared_task(**RETRY)
def send_campaign_batch_task(campaign_id: int, message_ids: list[int]) -> None:
    services.send_campaign_batch(campaign_id=campaign_id, message_ids=message_ids)
