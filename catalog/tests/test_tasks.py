import pytest
from django.conf import settings

from catalog.search import search
from catalog.tasks import optimize_search_index_task
from catalog.tests.factories import product_with_stock

pytestmark = pytest.mark.django_db


def test_nightly_search_compaction_is_scheduled_and_keeps_the_index_usable():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    product = product_with_stock(title="Compacted Lantern")

    optimize_search_index_task.delay()

    assert "catalog.tasks.optimize_search_index_task" in scheduled
    assert search("lantern").ids == [product.pk]
