"""Background work for the catalog. Tasks take ids and call one service; they are idempotent."""
from __future__ import annotations

import logging

from celery import shared_task

from . import images, listing_index, search
from .models import ProductImage

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def build_image_renditions_task(image_id: int) -> None:
    """Build the WebP renditions of one product image (see catalog.images.build_renditions)."""
    try:
        images.build_renditions(image_id=image_id)
    except ProductImage.DoesNotExist:
        # Deleted between the save that enqueued us and now: nothing left to render.
        logger.info("Product image %s no longer exists; no renditions to build", image_id)


@shared_task
def optimize_search_index_task() -> None:
    """Compact the search index (scheduled nightly by beat; safe to run at any time)."""
    search.optimize_index()


@shared_task
def rebuild_listing_index_task() -> None:
    """Build the listing index rows a catalog change left stale (see listing_index.rebuild_after_commit)."""
    listing_index.rebuild_stale()
