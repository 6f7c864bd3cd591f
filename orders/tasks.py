"""Scheduled order work. Thin: each task calls one service."""
from celery import shared_task

from .services import complete_orders, expire_unpaid_orders
from .services.completion import PER_RUN


@shared_task
def expire_unpaid_orders_task() -> int:
    return expire_unpaid_orders()


@shared_task
def complete_orders_task() -> int:
    """Hourly: shipped orders past their return window become completed (at most PER_RUN a run)."""
    return complete_orders(limit=PER_RUN)
