"""Analytics tasks: thin wrappers over analytics.services, each safe to run twice."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def flush_events_task() -> int:
    """Every minute: the buffered events into the database (one flush at a time), then, if any
    were written, today's figures so far: the dashboard reads today's visitors and conversion
    from them instead of counting the day's raw events on every load."""
    written = services.flush_events()
    if written:
        services.rollup_day(day=services.store_today())
    return written


@shared_task
def rollup_recent_days_task() -> int:
    """Hourly: yesterday's figures again, and any recent day never rolled up."""
    return len(services.rollup_recent())


@shared_task
def purge_events_task() -> int:
    """Nightly: raw events past ANALYTICS_EVENT_RETENTION_DAYS."""
    return services.purge_events()
