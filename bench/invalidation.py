"""How much of the page cache survives orders: random storefront URLs while stock is sold.

    DATABASE_URL=sqlite:////tmp/shop.db python -m bench.invalidation [orders] [requests per order]

Takes up to 2,000 URLs from the catalog (product pages, categories with sorts, filters and page 2,
searches for words from titles), renders each once, then alternates: reserve stock for one order
(1-3 lines, through `catalog.stock.reserve` as checkout does), then ask for `requests per order`
random URLs as an anonymous visitor. Prints the share served from the cache and the mean time per
request. Measures in process with a local-memory cache large enough to hold everything, so the
figure is the invalidation's doing, not eviction's. Run it on a copy of the database: it sells stock.
"""
from __future__ import annotations

import os
import random
import sys
import time


def main(orders: int = 40, per_order: int = 75) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    os.environ.setdefault("CACHE_URL", "locmemcache://invalidation-bench")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.db import transaction
    from django.test import Client
    from django.test.utils import override_settings

    settings.CACHES["default"].setdefault("OPTIONS", {})["MAX_ENTRIES"] = 10**6
    caches._settings = None  # noqa: SLF001 - re-read the size above
    from django.core.cache import cache

    cache.clear()

    from catalog import selectors, stock
    from catalog.models import Product, StockLevel
    from catalog.stock import StockRequest

    rng = random.Random(1)
    products = list(Product.objects.published().values_list("slug", "title")[:5000])
    rng.shuffle(products)
    urls = [f"/p/{slug}/" for slug, _title in products[:1000]]
    for node in selectors.category_tree().by_path.values():
        base = f"/c/{node.path}/"
        urls += [base, f"{base}?page=2", f"{base}?sort=price_asc", f"{base}?in_stock=1", f"{base}?sort=newest&page=2"]
    words = sorted({word.lower() for _slug, title in products for word in title.split() if len(word) > 3})
    urls += [f"/search/?q={word}" for word in rng.sample(words, min(len(words), 400))]
    urls = urls[:2000]

    sellable = list(
        StockLevel.objects.filter(on_hand__gt=0, variant__product__status="active", location__is_active=True)
        .values_list("variant_id", flat=True).distinct()
    )

    with override_settings(ALLOWED_HOSTS=["testserver"]):
        client = Client()
        for url in urls:
            client.get(url)
        hits = misses = 0
        spent = 0.0
        for _order in range(orders):
            lines = rng.sample(sellable, rng.randint(1, 3))
            try:
                with transaction.atomic():
                    stock.reserve(requests=[StockRequest(variant_id=v, quantity=1) for v in lines])
            except Exception:  # sold out meanwhile: the next order
                pass
            for url in rng.choices(urls, k=per_order):
                started = time.perf_counter()
                response = client.get(url)
                spent += time.perf_counter() - started
                if response.get("X-Cache") == "hit":
                    hits += 1
                else:
                    misses += 1
    total = hits + misses
    print(f"{len(urls)} URLs, {orders} orders, {per_order} requests per order")
    print(f"served from the cache: {hits / total:.1%} ({hits} of {total}); mean {spent / total * 1000:.1f} ms per request")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))
