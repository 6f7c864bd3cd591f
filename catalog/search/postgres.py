"""Product search on PostgreSQL: weighted full-text search plus pg_trgm for typos, all indexed.

Two tables hold, per product, `tsvector`s in the language-neutral `simple` configuration (no
stemming: the store's language is not fixed, and prefixes cover plurals) of folded text:
`catalog_search_fold()` folds accents, ligatures and case with the same table as SQLite
(folding.py), so "Crème" is indexed as "creme" and a query's words, folded in Python, match it.
The default parser keeps Hangul words whole, so Korean is matched word by word as on SQLite.

- `catalog_product_search`: the folded title and `names`, the title (weight A) and brand name (B). Narrow
  rows, so ranking the products whose title matches reads little.
- `catalog_product_search_document`: `document`, the names plus the description with its tags
  stripped (C), for words that are only in the description or spread over several fields.

Both also carry the product's `status` and `category_id`, so a search keeps to published products
(ProductQuerySet.published: active, in the active category tree, not sold in shops only) on the
rows it ranks. Checked against catalog_product instead, a search looked up the ~1,270 products of
its window one by one, about half of a cold search's SQL at 100,000 products (docs/decisions.md).
The GIN indexes keep a pending list of at most 64 kB (`gin_pending_list_limit`): with the default
4 MB, every search scanned up to a few hundred pending pages after a bulk load or a day of catalog
edits, until autovacuum merged them.

Both vectors have GIN indexes. They are stored rather than computed in expression indexes because
the brand name sits in another table and because ranking needs the vector of every candidate.

Ranking (`ranked()`) keeps to bounded sets: products whose title or brand has every word come
first, all of them ranked (ts_rank, so title above brand, plus a little trigram similarity of the
title, and the exact title before all); then, while there is room, the other matches, ranked by
ts_rank over the whole document within the first DESCRIPTION_CANDIDATES found. A word in half the
descriptions then costs a few milliseconds instead of a ranking of half the catalog.

`catalog_search_word` is the vocabulary of every indexed word, with a pg_trgm GiST index: the
spelling pass looks up words similar to an unknown query word there.

Triggers keep all three current: on catalog_product (insert, update of the indexed columns,
delete, truncate) and on catalog_brand (rename), so `bulk_create`, `QuerySet.update()` and raw SQL
are covered. The vocabulary only grows (a word whose last product went away is harmless:
corrections are checked against the documents); `rebuild()` trims it.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from .folding import FOLDS
from .query import MIN_PREFIX_LENGTH, Term, Vocabulary

if TYPE_CHECKING:
    from . import Published

TABLE = "catalog_product_search"
DOCUMENTS = "catalog_product_search_document"
WORDS = "catalog_search_word"
TOP = "\U0010ffff"
# How far trigram similarity counts next to ts_rank: enough to order equally ranked titles by
# closeness to the query (shorter, closer titles first), too little to lift a brand match over a
# title match.
SIMILARITY_WEIGHT = 0.3
# Document frequencies only need to tell a real word from a stray one, and two candidates apart.
FREQUENCY_CAP = 20
# Rows a frequency count reads in table order before it turns to the GIN index (_capped_count).
HEAD_ROWS = 1000
SIMILAR_CANDIDATES = 20
DESCRIPTION_CANDIDATES = 2000
# The GIN indexes' pending list, in kB (PostgreSQL's least; the default is 4 MB): see above.
PENDING_LIST_KB = 64

# The fold table as SQL literals: letters and combining marks only, so no quoting is needed, and
# none of them is special inside a regular expression's brackets.
_FOLDED_CHARACTERS = "".join(FOLDS)
_FOLDS_JSON = json.dumps(FOLDS, ensure_ascii=False)
if any(char in _FOLDS_JSON for char in "'\\]^-"):
    raise ValueError("The fold table must hold letters and marks only.")

# Words are added in sorted order so two transactions adding the same new words wait for each other
# instead of deadlocking.
SYNC_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION catalog_product_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        names tsvector;
        doc tsvector;
    BEGIN
        -- save() writes every column; only a change to what is indexed costs a re-index, and a
        -- change of status or category only rewrites those two columns.
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.title IS NOT DISTINCT FROM OLD.title
                AND NEW.brand_id IS NOT DISTINCT FROM OLD.brand_id
                AND NEW.description IS NOT DISTINCT FROM OLD.description THEN
            IF NEW.status IS DISTINCT FROM OLD.status OR NEW.category_id IS DISTINCT FROM OLD.category_id THEN
                UPDATE {TABLE} SET status = NEW.status, category_id = NEW.category_id WHERE product_id = NEW.id;
                UPDATE {DOCUMENTS} SET status = NEW.status, category_id = NEW.category_id WHERE product_id = NEW.id;
            END IF;
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
            DELETE FROM {TABLE} WHERE product_id = OLD.id;
            DELETE FROM {DOCUMENTS} WHERE product_id = OLD.id;
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
        names := catalog_search_names(NEW.title, (SELECT name FROM catalog_brand WHERE id = NEW.brand_id));
        doc := catalog_search_document(names, NEW.description);
        -- Upserts, as an update re-indexes the rows it replaces.
        INSERT INTO {TABLE} (product_id, title, names, status, category_id)
            VALUES (NEW.id, catalog_search_fold(NEW.title), names, NEW.status, NEW.category_id)
            ON CONFLICT (product_id) DO UPDATE SET title = EXCLUDED.title, names = EXCLUDED.names,
                status = EXCLUDED.status, category_id = EXCLUDED.category_id;
        INSERT INTO {DOCUMENTS} (product_id, document, status, category_id)
            VALUES (NEW.id, doc, NEW.status, NEW.category_id)
            ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document,
                status = EXCLUDED.status, category_id = EXCLUDED.category_id;
        INSERT INTO {WORDS} (word)
            SELECT w FROM unnest(tsvector_to_array(doc)) AS w ORDER BY w COLLATE "C"
            ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$"""

# The product's status and category on both tables (catalog migration 0011 adds them to an
# existing index; a new install creates them here). Idempotent.
PUBLICATION_COLUMNS = [
    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT '', "
    f"ADD COLUMN IF NOT EXISTS category_id bigint"
    for table in (TABLE, DOCUMENTS)
]

INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # folding.fold() in SQL. ASCII text only needs lower(); otherwise each distinct character of
    # the table that occurs is replaced (a few `replace()` calls: `translate()` with the whole
    # table costs ~10 ms per description, as it scans the table for every character of the text).
    f"""
    CREATE FUNCTION catalog_search_fold(value text)
    RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
    DECLARE
        folded text;
        ch text;
    BEGIN
        IF octet_length(value) = char_length(value) THEN
            RETURN lower(value);
        END IF;
        folded := lower(normalize(value, NFC));
        IF folded !~ '[{_FOLDED_CHARACTERS}]' THEN
            RETURN folded;
        END IF;
        FOR ch IN SELECT DISTINCT m[1] FROM regexp_matches(folded, '[{_FOLDED_CHARACTERS}]', 'g') AS m LOOP
            folded := replace(folded, ch, '{_FOLDS_JSON}'::jsonb ->> ch);
        END LOOP;
        RETURN folded;
    END
    $$""",
    """
    CREATE FUNCTION catalog_search_names(title text, brand text)
    RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('simple', coalesce(catalog_search_fold(title), '')), 'A')
            || setweight(to_tsvector('simple', coalesce(catalog_search_fold(brand), '')), 'B')
    $$""",
    # Tags and entities go before to_tsvector sees the text, as text_from_html() does on SQLite;
    # sanitised HTML has no other markup.
    r"""
    CREATE FUNCTION catalog_search_document(names tsvector, description text)
    RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT names || setweight(to_tsvector('simple', catalog_search_fold(regexp_replace(
                   regexp_replace(coalesce(description, ''), '<[A-Za-z/!?][^>]*>', ' ', 'g'),
                   '&#?[A-Za-z0-9]+;', ' ', 'g'))), 'C')
    $$""",
    # parallel_workers = 0: a search is short, a parallel plan's start-up costs more than it saves,
    # and its cheap-looking parallel sequential scan wins the planner over the GIN index.
    f"""CREATE TABLE {TABLE} (product_id bigint PRIMARY KEY, title text NOT NULL, names tsvector NOT NULL)
        WITH (parallel_workers = 0)""",
    f"CREATE INDEX {TABLE}_names ON {TABLE} USING gin (names) WITH (gin_pending_list_limit = {PENDING_LIST_KB})",
    f"""CREATE TABLE {DOCUMENTS} (product_id bigint PRIMARY KEY, document tsvector NOT NULL)
        WITH (parallel_workers = 0)""",
    f"CREATE INDEX {DOCUMENTS}_document ON {DOCUMENTS} USING gin (document) WITH (gin_pending_list_limit = {PENDING_LIST_KB})",
    *PUBLICATION_COLUMNS,
    # "C" collation: byte order, so `word >= 'jack' AND word < 'jack' || U+10FFFF` is a prefix scan.
    f'CREATE TABLE {WORDS} (word text COLLATE "C" PRIMARY KEY)',
    # GiST rather than GIN: pg_trgm's GIN opclass also answers `=`, and the planner then prefers
    # it to the primary key for the spelling pass's exact look-ups, at a hundred times the cost.
    f"CREATE INDEX {WORDS}_trgm ON {WORDS} USING gist (word gist_trgm_ops)",
    SYNC_FUNCTION,
    # No column list and no WHEN clause: either would make the columns depend on the trigger,
    # and PostgreSQL would then refuse a later migration that alters them.
    """
    CREATE TRIGGER catalog_product_search_sync AFTER INSERT OR UPDATE OR DELETE ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_sync()""",
    f"""
    CREATE FUNCTION catalog_product_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {TABLE}, {DOCUMENTS}, {WORDS};
        RETURN NULL;
    END
    $$""",
    # Django's test flush truncates tables; row triggers do not fire on TRUNCATE.
    """
    CREATE TRIGGER catalog_product_search_truncate AFTER TRUNCATE ON catalog_product
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_product_search_truncate()""",
    f"""
    CREATE FUNCTION catalog_brand_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.name IS NOT DISTINCT FROM OLD.name THEN
            RETURN NULL;
        END IF;
        UPDATE {TABLE} AS s SET names = catalog_search_names(p.title, NEW.name)
            FROM catalog_product AS p
            WHERE p.brand_id = NEW.id AND s.product_id = p.id;
        UPDATE {DOCUMENTS} AS d SET document = catalog_search_document(s.names, p.description)
            FROM catalog_product AS p JOIN {TABLE} AS s ON s.product_id = p.id
            WHERE p.brand_id = NEW.id AND d.product_id = p.id;
        INSERT INTO {WORDS} (word)
            SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', catalog_search_fold(NEW.name)))) AS w
            ORDER BY w COLLATE "C"
            ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$""",
    """
    CREATE TRIGGER catalog_brand_search_sync AFTER UPDATE ON catalog_brand
    FOR EACH ROW EXECUTE FUNCTION catalog_brand_search_sync()""",
]

# The extension stays: other apps may use pg_trgm, and dropping it needs more rights than using it.
UNINSTALL = [
    "DROP TRIGGER IF EXISTS catalog_brand_search_sync ON catalog_brand",
    "DROP TRIGGER IF EXISTS catalog_product_search_truncate ON catalog_product",
    "DROP TRIGGER IF EXISTS catalog_product_search_sync ON catalog_product",
    "DROP FUNCTION IF EXISTS catalog_brand_search_sync()",
    "DROP FUNCTION IF EXISTS catalog_product_search_truncate()",
    "DROP FUNCTION IF EXISTS catalog_product_search_sync()",
    f"DROP TABLE IF EXISTS {WORDS}",
    f"DROP TABLE IF EXISTS {DOCUMENTS}",
    f"DROP TABLE IF EXISTS {TABLE}",
    "DROP FUNCTION IF EXISTS catalog_search_document(tsvector, text)",
    "DROP FUNCTION IF EXISTS catalog_search_names(text, text)",
    "DROP FUNCTION IF EXISTS catalog_search_fold(text)",
]


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the extension, tables, indexes and triggers, and index every existing product."""
    with connection.cursor() as cursor:
        for sql in INSTALL:
            cursor.execute(sql)
    rebuild(connection)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for sql in UNINSTALL:
            cursor.execute(sql)


def rebuild(connection: BaseDatabaseWrapper) -> None:
    """Re-index every product and rebuild the vocabulary (run it inside the caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE}, {DOCUMENTS}, {WORDS}")
        cursor.execute(
            f"""INSERT INTO {TABLE} (product_id, title, names, status, category_id)
                SELECT p.id, catalog_search_fold(p.title), catalog_search_names(p.title, b.name), p.status, p.category_id
                FROM catalog_product p LEFT JOIN catalog_brand b ON b.id = p.brand_id"""
        )
        cursor.execute(
            f"""INSERT INTO {DOCUMENTS} (product_id, document, status, category_id)
                SELECT p.id, catalog_search_document(s.names, p.description), p.status, p.category_id
                FROM catalog_product p JOIN {TABLE} s ON s.product_id = p.id"""
        )
        cursor.execute(
            f"INSERT INTO {WORDS} (word) SELECT DISTINCT unnest(tsvector_to_array(document)) FROM {DOCUMENTS}"
        )


def add_publication_columns(connection: BaseDatabaseWrapper) -> None:
    """Bring an index installed before catalog migration 0011 up to date: the status and category
    columns, the trigger that keeps them, the columns filled from the catalog, the small pending
    lists. Idempotent.

    Meant to run statement by statement outside a transaction (the migration is not atomic), in
    this order: adding a column with a constant default and setting a storage parameter only take
    their table's lock for a moment, so searches and catalog edits go on; the trigger is replaced
    before the fill, so an edit made meanwhile is kept right by both.
    """
    with connection.cursor() as cursor:
        for sql in PUBLICATION_COLUMNS:
            cursor.execute(sql)
        cursor.execute(SYNC_FUNCTION)
        for table in (TABLE, DOCUMENTS):
            cursor.execute(
                f"""UPDATE {table} AS s SET status = p.status, category_id = p.category_id
                    FROM catalog_product AS p
                    WHERE p.id = s.product_id AND (s.status, s.category_id) IS DISTINCT FROM (p.status, p.category_id)"""
            )
        for index in (f"{TABLE}_names", f"{DOCUMENTS}_document"):
            cursor.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = {PENDING_LIST_KB})")
        # The fill left a dead version of every row, and of its index entries, which searches
        # would read until autovacuum came by (twice the heap blocks for a common word), and no
        # statistics on the new columns (the planner then estimated a common word's published
        # titles at 15 instead of 7,741). VACUUM cannot run inside a transaction (tests).
        tables = f"{TABLE}, {DOCUMENTS}"
        cursor.execute(f"ANALYZE {tables}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {tables}")
    optimize(connection)


def optimize(connection: BaseDatabaseWrapper) -> None:
    """Move the GIN indexes' pending entries into the main structure (autovacuum does it too)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT gin_clean_pending_list('{TABLE}_names'::regclass)")
        cursor.execute(f"SELECT gin_clean_pending_list('{DOCUMENTS}_document'::regclass)")


def is_installed(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [TABLE])
        return cursor.fetchone()[0]


def repair(connection: BaseDatabaseWrapper) -> bool:
    """PostgreSQL alters tables in place and keeps their triggers: nothing to repair."""
    return False


# --- Queries ------------------------------------------------------------------------------------


def vocabulary(cursor: CursorWrapper) -> Vocabulary:
    def is_known(word: str) -> bool:
        cursor.execute(f"SELECT 1 FROM {WORDS} WHERE word >= %s AND word < %s LIMIT 1", [word, word + TOP])
        return cursor.fetchone() is not None

    def terms(candidates) -> dict[str, Term]:
        cursor.execute(f"SELECT word FROM {WORDS} WHERE word = ANY(%s) ORDER BY word LIMIT 50", [sorted(candidates)])
        existing = [row[0] for row in cursor.fetchall()]
        if not existing:
            return {}
        # One branch per word, titles and brands counted apart from documents (_capped_count).
        branch = f"""(SELECT %s, {_capped_count(DOCUMENTS, "document")}, {_capped_count(TABLE, "names")})"""
        cursor.execute(
            " UNION ALL ".join([branch] * len(existing)), [p for word in existing for p in [word] * 5]
        )
        return {word: Term(products=count, in_names=named) for word, count, named in cursor.fetchall() if count}

    def similar(word: str) -> list[str]:
        # `%` is pg_trgm's similarity operator (threshold pg_trgm.similarity_threshold, 0.3),
        # answered by the trigram index.
        cursor.execute(
            f"""SELECT word FROM {WORDS} WHERE word %% %s
                ORDER BY similarity(word, %s) DESC, word LIMIT {SIMILAR_CANDIDATES}""",
            [word, word],
        )
        return [row[0] for row in cursor.fetchall()]

    return Vocabulary(is_known=is_known, terms=terms, similar=similar, max_distance=2)


def _capped_count(table: str, column: str) -> str:
    """SQL counting the rows of `table` whose `column` has a word (two parameters: the word, twice),
    up to FREQUENCY_CAP: first among the table's first HEAD_ROWS rows, a short scan that settles a
    common word; when that finds fewer, through the GIN index.

    Not one `LIMIT` query left to the planner: it cannot tell a rare word from an absent one (it
    estimates any word missing from its statistics at half the rarest word it knows, hundreds of
    rows), so it expected the cap within a few hundred rows and scanned the whole table for a word
    of the descriptions that no title has (at 100,000 products ~30 ms for each such candidate of
    the spelling pass). The GIN branch is a MATERIALIZED CTE, planned for every matching row (the
    index for a rare word) but read only up to the cap.
    """
    return f"""(SELECT CASE WHEN head.n = {FREQUENCY_CAP} THEN head.n ELSE (
            WITH matches AS MATERIALIZED (SELECT 1 FROM {table} WHERE {column} @@ plainto_tsquery('simple', %s))
            SELECT count(*) FROM (SELECT 1 FROM matches LIMIT {FREQUENCY_CAP}) AS capped
        ) END FROM (
            SELECT count(*) AS n FROM (
                SELECT 1 FROM (SELECT {column} FROM {table} LIMIT {HEAD_ROWS}) AS first
                WHERE first.{column} @@ plainto_tsquery('simple', %s) LIMIT {FREQUENCY_CAP}
            ) AS found
        ) AS head)"""


def tsquery(words: list[str], *, any_word: bool, prefixes_only: bool = False) -> str:
    """A to_tsquery() string for `words`: each word quoted, exact or as a prefix.

    Query words are letters and digits only, but a correction comes from the vocabulary, whose
    words may hold any character the parser kept: quotes and backslashes are escaped, so a word
    is never tsquery syntax. The string is passed as a bound parameter.

    Ranking lists each word both ways (`'jacket' | 'jacket':*`), so ts_rank scores a product with
    "jacket" above one with only "jackets". `prefixes_only` gives the query that *finds* the same
    products (a word is one of its own prefixes: `'jacket':*` alone), for the WHERE clause: the
    planner estimates the two branches of the ranking form as two independent matches, twice the
    products there are (at 100,000 products, 14,851 estimated for 7,890 "jacket"s), and that
    estimate made a sequential scan of the whole table (evaluating the match on every row) look
    cheaper than the GIN index. Estimated from the column's statistics, the prefix alone is right
    within a few percent, and the index is used.
    """
    groups = []
    for word in words:
        quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        if len(word) < MIN_PREFIX_LENGTH:
            groups.append(quoted)
        elif prefixes_only:
            groups.append(f"{quoted}:*")
        else:
            groups.append(f"({quoted} | {quoted}:*)")
    return (" | " if any_word else " & ").join(groups)


def ranked(
    cursor: CursorWrapper, words: list[str], *, any_word: bool, title: str, published: Published, limit: int
) -> list[tuple[int, str, int]]:
    """(id, title, category id) of published products matching `words`, best first.

    First the products whose title or brand match: the one titled exactly `title` (folded),
    then by ts_rank of title and brand plus a little trigram similarity of the title. Then, while
    there is room, the other matches by ts_rank over the whole document, within the first
    DESCRIPTION_CANDIDATES found. Both stages keep to published products on the search tables'
    own status and category columns (see the module docstring), so nothing is looked up in the
    catalog. A title from the second stage is "": it cannot be the exact title, whose product has
    every word in its title and so is found by the first stage.
    """
    query = tsquery(words, any_word=any_word)
    match = tsquery(words, any_word=any_word, prefixes_only=True)
    rows = _names_stage(cursor, query, match, title=title, published=published, limit=limit)
    if len(rows) < limit:
        seen = [row[0] for row in rows]
        rows += _document_stage(cursor, query, match, seen=seen, published=published, limit=limit - len(rows))
    return rows


def _window(limit: int) -> int:
    return limit + limit // 4 + 20


def _published_filter(alias: str, published: Published) -> tuple[str, list]:
    """ProductQuerySet.published on a search table's own columns (the rule in `Published`)."""
    # NOT EXISTS, an anti-join: `NOT IN (subquery)` would be estimated to keep half the rows
    # whatever the subquery holds, and the planner's estimate of the matches is what makes it
    # choose the GIN index (tests/test_search_planning.py).
    return (
        f"""{alias}.status = %s AND {alias}.category_id = ANY(%s) AND NOT EXISTS (
                SELECT 1 FROM ({published.not_online_sql}) AS shops_only WHERE shops_only.product_id = {alias}.product_id
            )""",
        [published.status, published.category_ids, *published.not_online_params],
    )


def _names_stage(cursor, query: str, match: str, *, title: str, published: Published, limit: int) -> list:
    # ts_rank normalisation 1 (divide by 1 + log of the length) prefers shorter titles; trigram
    # similarity, dearer, only re-orders a window a little larger than the page of results.
    where, params = _published_filter("s", published)
    cursor.execute(
        f"""SELECT r.product_id, r.title, r.category_id FROM (
                SELECT s.product_id, s.title, s.category_id, s.title = %s AS exact,
                       ts_rank(s.names, to_tsquery('simple', %s), 1) AS rank
                FROM {TABLE} AS s
                WHERE s.names @@ to_tsquery('simple', %s) AND {where}
                ORDER BY exact DESC, rank DESC, s.product_id DESC
                LIMIT %s
            ) AS r
            ORDER BY r.exact DESC, r.rank + {SIMILARITY_WEIGHT} * similarity(r.title, %s) DESC, r.product_id DESC
            LIMIT %s""",
        [title, query, match, *params, _window(limit), title, limit],
    )
    return cursor.fetchall()


def _document_stage(cursor, query: str, match: str, *, seen: list[int], published: Published, limit: int) -> list:
    where, params = _published_filter("d", published)
    cursor.execute(
        f"""SELECT c.product_id, '', c.category_id FROM (
                SELECT d.product_id, d.category_id, d.document FROM {DOCUMENTS} AS d
                WHERE d.document @@ to_tsquery('simple', %s) AND d.product_id <> ALL(%s) AND {where}
                LIMIT {DESCRIPTION_CANDIDATES}
            ) AS c
            ORDER BY ts_rank(c.document, to_tsquery('simple', %s)) DESC, c.product_id DESC
            LIMIT %s""",
        [match, seen, *params, query, limit],
    )
    return cursor.fetchall()
