"""Product search: ranked, tolerant of a typo and of a partial word, on SQLite and PostgreSQL.

The views call `search()` and `suggest()`; the index behind them is built by the catalog's search
migrations (0002_search, re-installed by 0005_search_accent_folding) and kept current by database
triggers (catalog/search/sqlite.py, postgres.py), so every write path is covered without signals.
The flow of a search:

1. The query is reduced to at most eight words of letters and digits (query.py): nothing a
   shopper types is ever interpreted as search syntax, and everything is bound as a parameter.
   Words are folded (folding.py) as the index stores them: accents and case never matter.
2. The spelling pass (query.py) looks at each word the index does not know, not even as a prefix.
   A Korean word loses the particle on its end ("재킷을" -> "재킷"). Otherwise the closest indexed
   word (one slip; two for long words on PostgreSQL, whose trigram index finds them) replaces it
   only when it is surely meant: few slips for the word's length and no rival as close and as
   common; `SearchResult.corrected` then says so. A likely word it is not sure of, found in titles
   or brand names, is only offered (`SearchResult.suggestion`) if nothing is found; a word close
   to nothing relevant stays as typed, and finds nothing ("cafe" is not "care").
3. Published products matching every word (as a word or a prefix) are ranked: a product titled
   exactly as the query first, then those whose title or brand has the words (title above
   brand), then those that have them only in the description (or spread over several fields),
   ranked within a bounded set of candidates so a very common word stays cheap. If no product
   has every word, products with any of them are returned instead.

Compacting the index now and then (`optimize_index()`, e.g. nightly) keeps SQLite lookups fast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import F
from django.db.models.signals import post_migrate

from . import postgres, sqlite
from .folding import fold
from .query import clean, comparable, correct, words

__all__ = ["SearchResult", "search", "suggest", "rebuild_index", "optimize_index", "index_tables"]

BACKENDS: dict[str, ModuleType] = {"sqlite": sqlite, "postgresql": postgres}


@dataclass
class SearchResult:
    ids: list[int] = field(default_factory=list)  # best match first, at most `limit`
    # The categories of those products (ascending): which listings a results page draws from.
    categories: list[int] = field(default_factory=list)
    corrected: str | None = None  # the query as the spelling pass rewrote it, when it did
    suggestion: str | None = None  # "Did you mean": a likelier query, when nothing was found


def backend_for(conn: BaseDatabaseWrapper) -> ModuleType:
    try:
        return BACKENDS[conn.vendor]
    except KeyError:
        raise ImproperlyConfigured(f"Product search supports SQLite and PostgreSQL, not {conn.vendor}.") from None


@dataclass(frozen=True)
class Published:
    """What "published" (ProductQuerySet.published) means to a search backend, in two forms.

    `sql`, `params`: the published products' ids, titles and categories (`pub_id`, `pub_title`,
    `pub_category`), compiled from the queryset itself; SQLite joins it. The same rule in parts,
    for an index that keeps each product's status and category beside its words (PostgreSQL):
    `status` (active), `category_ids` (the active tree) and `not_online_sql`, `not_online_params`
    (the products sold in shops only). tests/test_search.py checks both forms find the same
    products as the queryset.
    """

    sql: str
    params: tuple
    status: str
    category_ids: list[int]
    not_online_sql: str
    not_online_params: tuple


_published_cache: dict[tuple, Published] = {}


def _published() -> Published | None:
    """"Published" for this database and the active categories; None when no category is active,
    so nothing is published (the ORM cannot compile `IN ()`).

    Compiled once per database and set of active categories (the structure rarely changes; the
    ORM took ~0.7 ms of a cold search to build it), at most a few kept.
    """
    from catalog.models import Product
    from catalog.selectors import category_tree
    from saleschannels.selectors import not_sold_online

    category_ids = list(category_tree().by_id)
    if not category_ids:
        return None
    key = (connection.alias, tuple(category_ids))
    found = _published_cache.get(key)
    if found is None:
        queryset = (
            Product.objects.published(category_ids=category_ids)
            .order_by()
            .annotate(pub_id=F("pk"), pub_title=F("title"), pub_category=F("category_id"))
            .values("pub_id", "pub_title", "pub_category")
        )
        sql, params = queryset.query.sql_with_params()
        # Unordered: Publication's default ordering would join the products to sort a subquery.
        not_online_sql, not_online_params = not_sold_online().order_by().query.sql_with_params()
        if len(_published_cache) >= 8:
            _published_cache.clear()
        found = _published_cache[key] = Published(
            sql=sql, params=params, status=Product.Status.ACTIVE.value, category_ids=category_ids,
            not_online_sql=not_online_sql, not_online_params=not_online_params,
        )
    return found


def search(query: str, *, limit: int = 1000) -> SearchResult:
    """Published products matching `query`, best first (at most `limit` ids).

    Never raises for odd input: a query with no letters or digits returns no ids. Read-only. One
    query per word of three or more letters to check it is known; a few more per unknown word (the
    spelling pass); one or two to rank, twice that when no product has every word.
    """
    text = clean(query)
    query_words = words(text)
    if not query_words or limit <= 0:
        return SearchResult()
    backend = backend_for(connection)
    published = _published()
    if published is None:
        return SearchResult()
    with connection.cursor() as cursor:
        spelling = correct(query_words, backend.vocabulary(cursor))
        fixed = spelling.words
        changed = fixed != query_words
        target = " ".join(fixed) if changed else fold(text)
        rows = backend.ranked(cursor, fixed, any_word=False, title=target, published=published, limit=limit)
        if not rows and len(fixed) > 1:
            rows = backend.ranked(cursor, fixed, any_word=True, title=target, published=published, limit=limit)
    # The database compares folded text; here punctuation is ignored too, so "T-Shirt, Café" is the
    # exact title for the query "t shirt cafe".
    exact = {comparable(text), comparable(" ".join(fixed))}
    first, rest = [], []
    for pk, title, _category in rows:
        (first if comparable(title) in exact else rest).append(pk)
    return SearchResult(
        ids=first + rest,
        categories=sorted({category for _pk, _title, category in rows}),
        corrected=" ".join(fixed) if spelling.corrected and rows else None,
        suggestion=" ".join(spelling.suggestion) if not rows and spelling.suggestion != fixed else None,
    )


def suggest(query: str, *, limit: int = 6) -> list[dict]:
    """Up to `limit` published products for search-as-you-type: `title` and `url` of each."""
    from catalog.models import Product

    ids = search(query, limit=limit).ids
    products = Product.objects.published().filter(pk__in=ids).only("title", "slug").in_bulk()
    return [{"title": products[pk].title, "url": products[pk].get_absolute_url()} for pk in ids if pk in products]


def rebuild_index(*, using: str = "default") -> None:
    """Re-index every product in one transaction (the triggers make this a repair tool, not a chore)."""
    conn = connections[using]
    with transaction.atomic(using=using):
        backend_for(conn).rebuild(conn)


def optimize_index(*, using: str = "default") -> None:
    """Compact the index after a bulk load, or nightly: SQLite's FTS5 lookups slow down with the
    number of segments that many small writes leave behind (merging them is safe at any time)."""
    conn = connections[using]
    with transaction.atomic(using=using):
        backend_for(conn).optimize(conn)


def index_tables(*, using: str = "default") -> list[str]:
    """The index's plain tables, whose planner statistics a bulk load should refresh (PostgreSQL;
    SQLite's full-text tables keep their own)."""
    if connections[using].vendor == "postgresql":
        return [postgres.TABLE, postgres.DOCUMENTS, postgres.WORDS]
    return []


def _repair_after_migrate(sender, *, using: str, verbosity: int = 1, stdout=None, **kwargs) -> None:
    # On SQLite a migration that alters catalog_product rebuilds the table and drops its triggers.
    if sender.name != "catalog":
        return
    conn = connections[using]
    backend = BACKENDS.get(conn.vendor)
    if backend and backend.repair(conn) and verbosity and stdout:
        stdout.write("  Product search: triggers restored and index rebuilt.\n")


connection_created.connect(sqlite.on_connection_created, dispatch_uid="catalog-search-sqlite-functions")
post_migrate.connect(_repair_after_migrate, dispatch_uid="catalog-search-repair")
