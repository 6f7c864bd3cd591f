"""Background work for the CRM. Tasks take ids and are idempotent: running one twice writes the
same figures and records no second activity."""
from __future__ import annotations

from celery import shared_task


@shared_task
def refresh_customer_stats_task(customer_ids: list[int] | None = None) -> int:
    from .services.stats import refresh_customer_stats

    return refresh_customer_stats(customer_ids=customer_ids)


@shared_task
def score_customers_task() -> dict:
    """Nightly (CELERY_BEAT_SCHEDULE) and from the segment list's "Recompute scores now": every
    customer's figures first, so the scores rest on current numbers, then the RFM scores."""
    from .services.rfm import score_customers
    from .services.stats import refresh_customer_stats

    refreshed = refresh_customer_stats()
    result = score_customers()
    return {**result, "refreshed": refreshed}
