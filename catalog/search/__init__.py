"""Product search. PLACEHOLDER until the backends land: substring match on the title."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SearchResult:
    ids: list[int]  # best match first, at most `limit`
    corrected: str | None = None  # the query as the spelling pass rewrote it, when it did


def search(query: str, *, limit: int = 1000) -> SearchResult:
    from catalog.models import Product

    ids = list(Product.objects.published().filter(title__icontains=query).values_list("pk", flat=True)[:limit])
    return SearchResult(ids=ids)


def suggest(query: str, *, limit: int = 6) -> list[dict]:
    from catalog.models import Product

    return [
        {"title": p.title, "url": p.get_absolute_url()}
        for p in Product.objects.published().filter(title__icontains=query).only("title", "slug")[:limit]
    ]
