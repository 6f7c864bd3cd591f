"""Scheduled click-and-collect work. Thin and idempotent: each task calls one service."""
from celery import shared_task

from . import services


@shared_task
def remind_uncollected_task() -> int:
    return services.remind_uncollected()


@shared_task
def cancel_uncollected_task() -> int:
    return services.cancel_uncollected()
