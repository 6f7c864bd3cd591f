"""Product search on SQLite: an FTS5 index kept in step with catalog_product by triggers.

`catalog_product_fts` holds, per product (rowid = product id), the title, the brand name and the
description as plain text, folded (folding.py: accents, ligatures and case, as on PostgreSQL; the
tokenizer's own `remove_diacritics` is off, since it folds fewer letters). Triggers on
catalog_product (insert, update of the indexed columns, delete) and on catalog_brand (insert,
rename, delete) keep it current, so `bulk_create`, `QuerySet.update()` and raw SQL are covered as
well as `save()`. Ranking is bm25 with column weights; a word's prefix matches too;
`catalog_product_fts_vocab` and `..._vocab_col` (fts5vocab) list the indexed words for the
spelling pass, in how many products each is, and in which columns.
Korean words are tokens like any other (unicode61 treats Hangul as letters); a prefix query finds
"재킷은" for "재킷", and the spelling pass takes the particle off a query's "재킷을".

Descriptions are HTML. The triggers index `catalog_search_text(description)`, a deterministic
Python function registered on every connection (`connection_created`), which drops the tags and
decodes entities so "strong" or "table" never match a product for its markup, then folds; titles
and brand names go through `catalog_search_fold()`. A connection without them (the sqlite3 shell)
cannot write product rows: use Django to edit the catalog.

SQLite rebuilds a table to alter it, and dropping the old table drops its triggers; after every
`migrate`, `repair()` puts missing triggers back and re-fills the index (see catalog/search/__init__.py).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING
from html import unescape

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from .folding import fold
from .query import MIN_PREFIX_LENGTH, Term, Vocabulary

if TYPE_CHECKING:
    from . import Published

TABLE = "catalog_product_fts"
VOCABULARY = "catalog_product_fts_vocab"
COLUMN_VOCABULARY = "catalog_product_fts_vocab_col"
BRANDS = "catalog_product_fts_brand"
TEXT_FUNCTION = "catalog_search_text"
FOLD_FUNCTION = "catalog_search_fold"
# bm25 column weights: a word in the title counts ten times one in the description.
TITLE_WEIGHT, BRAND_WEIGHT, DESCRIPTION_WEIGHT = 10.0, 4.0, 1.0
# Max UTF-8 code point: `term < word + TOP` bounds the words that start with `word`.
TOP = "\U0010ffff"
IN_CHUNK = 500
DESCRIPTION_CANDIDATES = 2000
BM25 = f"bm25({TABLE}, {TITLE_WEIGHT}, {BRAND_WEIGHT}, {DESCRIPTION_WEIGHT})"

# Tags and comments of sanitised HTML; a lone "<" in text ("size < 5") is left alone.
_MARKUP = re.compile(r"<!--.*?-->|<[A-Za-z/!?][^>]*>", re.DOTALL)


def text_from_html(html: str | None) -> str:
    """The words of an HTML fragment: tags dropped, entities decoded. Deterministic."""
    if not html:
        return ""
    return unescape(_MARKUP.sub(" ", html))


def indexed_text(html: str | None) -> str:
    """A description as the index holds it: its words, folded."""
    return fold(text_from_html(html))


def indexed_name(text: str | None) -> str:
    return fold(text or "")


def register_functions(connection: BaseDatabaseWrapper) -> None:
    """Give a SQLite connection the SQL functions the index triggers call."""
    connection.connection.create_function(TEXT_FUNCTION, 1, indexed_text, deterministic=True)
    connection.connection.create_function(FOLD_FUNCTION, 1, indexed_name, deterministic=True)


def on_connection_created(sender, connection: BaseDatabaseWrapper, **kwargs) -> None:
    if connection.vendor == "sqlite":
        register_functions(connection)


# A trigger must never name another Django table: while SQLite rebuilds a table, the rename at
# the end fails if any trigger refers to a table that is missing at that moment. So the product
# triggers read brand names from BRANDS, a copy the brand triggers keep, and the brand triggers
# find a brand's products through the index's own `brand_id` column.
_INDEXED_ROW = f"""
    new.id, {FOLD_FUNCTION}(new.title),
    coalesce((SELECT name FROM {BRANDS} WHERE id = new.brand_id), ''),
    {TEXT_FUNCTION}(new.description),
    new.brand_id
"""
_COLUMNS = "rowid, title, brand, description, brand_id"

TRIGGERS = {
    "catalog_product_fts_insert": f"""
        CREATE TRIGGER IF NOT EXISTS catalog_product_fts_insert AFTER INSERT ON catalog_product BEGIN
            INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({_INDEXED_ROW});
        END""",
    "catalog_product_fts_update": f"""
        CREATE TRIGGER IF NOT EXISTS catalog_product_fts_update
        AFTER UPDATE OF id, title, brand_id, description ON catalog_product
        WHEN old.id IS NOT new.id OR old.title IS NOT new.title OR old.brand_id IS NOT new.brand_id
            OR old.description IS NOT new.description
        BEGIN
            DELETE FROM {TABLE} WHERE rowid = old.id;
            INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({_INDEXED_ROW});
        END""",
    "catalog_product_fts_delete": f"""
        CREATE TRIGGER IF NOT EXISTS catalog_product_fts_delete AFTER DELETE ON catalog_product BEGIN
            DELETE FROM {TABLE} WHERE rowid = old.id;
        END""",
    "catalog_brand_fts_insert": f"""
        CREATE TRIGGER IF NOT EXISTS catalog_brand_fts_insert AFTER INSERT ON catalog_brand BEGIN
            INSERT OR REPLACE INTO {BRANDS} (id, name) VALUES (new.id, {FOLD_FUNCTION}(new.name));
        END""",
    # A brand is renamed rarely; finding its products scans the index's brand_id column.
    "catalog_brand_fts_update": f"""
        CREATE TRIGGER IF NOT EXISTS catalog_brand_fts_update AFTER UPDATE OF id, name ON catalog_brand
        WHEN old.id IS NOT new.id OR old.name IS NOT new.name
        BEGIN
            DELETE FROM {BRANDS} WHERE id = old.id;
            INSERT OR REPLACE INTO {BRANDS} (id, name) VALUES (new.id, {FOLD_FUNCTION}(new.name));
            UPDATE {TABLE} SET brand = {FOLD_FUNCTION}(new.name) WHERE brand_id = new.id;
        END""",
    # Products of a deleted brand are re-indexed by their own update (on_delete=SET_NULL).
    "catalog_brand_fts_delete": f"""
        CREATE TRIGGER IF NOT EXISTS catalog_brand_fts_delete AFTER DELETE ON catalog_brand BEGIN
            DELETE FROM {BRANDS} WHERE id = old.id;
        END""",
}


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the index, its vocabulary and the triggers, and index every existing product."""
    register_functions(connection)
    with connection.cursor() as cursor:
        # prefix='2 3': short prefixes (search-as-you-type) read a ready-made index instead of
        # merging every word that starts with them.
        cursor.execute(
            f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(
                title, brand, description, brand_id UNINDEXED,
                tokenize = 'unicode61 remove_diacritics 0',
                prefix = '2 3'
            )"""
        )
        cursor.execute(f"CREATE VIRTUAL TABLE {VOCABULARY} USING fts5vocab({TABLE}, 'row')")
        cursor.execute(f"CREATE VIRTUAL TABLE {COLUMN_VOCABULARY} USING fts5vocab({TABLE}, 'col')")
        cursor.execute(f"CREATE TABLE {BRANDS} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        for sql in TRIGGERS.values():
            cursor.execute(sql)
    rebuild(connection)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {COLUMN_VOCABULARY}")
        cursor.execute(f"DROP TABLE IF EXISTS {VOCABULARY}")
        cursor.execute(f"DROP TABLE IF EXISTS {BRANDS}")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def rebuild(connection: BaseDatabaseWrapper) -> None:
    """Re-index every product from scratch (run it inside the caller's transaction)."""
    register_functions(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {BRANDS}")
        cursor.execute(f"INSERT INTO {BRANDS} (id, name) SELECT id, {FOLD_FUNCTION}(name) FROM catalog_brand")
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(
            f"""INSERT INTO {TABLE} ({_COLUMNS})
                SELECT p.id, {FOLD_FUNCTION}(p.title), {FOLD_FUNCTION}(b.name), {TEXT_FUNCTION}(p.description),
                       p.brand_id
                FROM catalog_product p LEFT JOIN catalog_brand b ON b.id = p.brand_id"""
        )


def optimize(connection: BaseDatabaseWrapper) -> None:
    """Merge the index's segments into one: every lookup then reads one b-tree instead of many."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')")


def is_installed(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [TABLE])
        return cursor.fetchone() is not None


def repair(connection: BaseDatabaseWrapper) -> bool:
    """Recreate triggers a table rebuild dropped, and re-index; True when something was missing.

    Does nothing before the search migration has run (or after it was reversed).
    """
    if not is_installed(connection):
        return False
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
        missing = [name for name in TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(TRIGGERS[name])
        if missing:
            # Writes made while a trigger was gone are unknown: rebuilding is the only safe answer.
            rebuild(connection)
    return bool(missing)


# --- Queries ------------------------------------------------------------------------------------


def vocabulary(cursor: CursorWrapper) -> Vocabulary:
    def is_known(word: str) -> bool:
        cursor.execute(f"SELECT 1 FROM {VOCABULARY} WHERE term >= %s AND term < %s LIMIT 1", [word, word + TOP])
        return cursor.fetchone() is not None

    def terms(candidates) -> dict[str, Term]:
        candidates = sorted(candidates)
        products: dict[str, int] = {}
        for start in range(0, len(candidates), IN_CHUNK):
            chunk = candidates[start : start + IN_CHUNK]
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT term, doc FROM {VOCABULARY} WHERE term IN ({placeholders})", chunk)
            products.update(cursor.fetchall())
        if not products:
            return {}
        # Usually one or two words: how many titles and brand names hold each.
        found = sorted(products)[:IN_CHUNK]
        placeholders = ", ".join(["%s"] * len(found))
        cursor.execute(
            f"""SELECT term, sum(doc) FROM {COLUMN_VOCABULARY}
                WHERE term IN ({placeholders}) AND col IN ('title', 'brand') GROUP BY term""",
            found,
        )
        in_names = dict(cursor.fetchall())
        return {term: Term(products=count, in_names=in_names.get(term, 0)) for term, count in products.items()}

    return Vocabulary(is_known=is_known, terms=terms, similar=lambda word: [])


def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def match_expression(words: list[str], *, any_word: bool) -> str:
    """An FTS5 query for `words`: each word quoted (so it is never syntax), exact or as a prefix.

    Listing the exact word as well as the prefix scores a product with "jacket" above one that
    only has "jackets" for the query "jacket".
    """
    groups = [
        f"({_phrase(word)} OR {_phrase(word)}*)" if len(word) >= MIN_PREFIX_LENGTH else _phrase(word)
        for word in words
    ]
    return (" OR " if any_word else " AND ").join(groups)


def ranked(
    cursor: CursorWrapper, words: list[str], *, any_word: bool, title: str, published: Published, limit: int
) -> list[tuple[int, str]]:
    """(id, title, category id) of published products matching `words`, best first.

    First the products whose title and brand hold the words: the one titled exactly `title`
    (folded), then by bm25 with column weights, then newest. Then, while there is room, the
    other matches (words only in the description, or spread over several fields), by bm25 within
    the first DESCRIPTION_CANDIDATES found, so a word in half the descriptions does not mean
    ranking half the catalog.
    """
    published_sql, published_params = published.sql, published.params
    expression = match_expression(words, any_word=any_word)
    names = f"{{title brand}} : ({expression})"
    cursor.execute(
        f"""SELECT {TABLE}.rowid, {TABLE}.title, published.pub_category
            FROM {TABLE} JOIN ({published_sql}) AS published ON published.pub_id = {TABLE}.rowid
            WHERE {TABLE} MATCH %s
            ORDER BY {TABLE}.title = %s DESC, {BM25}, {TABLE}.rowid DESC
            LIMIT %s""",
        [*published_params, names, title, limit],
    )
    rows = cursor.fetchall()
    if len(rows) < limit:
        cursor.execute(
            f"""SELECT candidates.rowid, candidates.title, published.pub_category FROM (
                    SELECT rowid, title, {BM25} AS score FROM {TABLE} WHERE {TABLE} MATCH %s
                    LIMIT {DESCRIPTION_CANDIDATES}
                ) AS candidates
                JOIN ({published_sql}) AS published ON published.pub_id = candidates.rowid
                ORDER BY candidates.score, candidates.rowid DESC
                LIMIT %s""",
            [f"({expression}) NOT {names}", *published_params, limit - len(rows)],
        )
        rows += cursor.fetchall()
    return rows
