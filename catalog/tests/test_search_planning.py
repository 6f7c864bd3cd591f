"""How PostgreSQL plans the search's queries on a catalog of realistic size (issue 9).

The search tables are filled directly with generated rows (twenty thousand in well under a
second; no products are needed to plan or count) and analysed, as seeds and imports leave them
(`shop.db.analyze`). What is checked is what the planner is given: the titles a common word
matches are estimated right (which is what lets it choose the GIN index at 100,000 products), and
a frequency count of the spelling pass never reads the whole titles table for a word no title has.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from catalog.search import postgres, search

from .factories import CategoryFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 20_000
# 150 made-up line names, so the titles have more distinct words than PostgreSQL needs (100) to
# estimate a prefix from its statistics; "jacket" in one title of twelve, as at 100,000 demo
# products (7,890 titles).
TITLES = """
    SELECT g, title, setweight(to_tsvector('simple', title), 'A')
    FROM (
        SELECT g, 'line' || (g %% 150) || ' ' || (ARRAY['waterproof', 'packable', 'hooded', 'quilted'])[g %% 4 + 1]
               || ' ' || CASE WHEN g %% 12 = 0 THEN 'jacket' ELSE (ARRAY['tent', 'lantern', 'mug', 'beanie',
                  'skillet', 'blanket', 'gloves', 'socks'])[g %% 8 + 1] END AS title
        FROM generate_series(1, %s) AS g
    ) AS titles
"""


@pytest.fixture
def large_index():
    # search() keeps to the published products of the active categories: every row is one.
    category = CategoryFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {postgres.TABLE} (product_id, title, names, status, category_id)
                SELECT *, %s, %s FROM ({TITLES}) AS generated""",
            [Product.Status.ACTIVE, category.pk, ROWS],
        )
        cursor.execute(
            f"""INSERT INTO {postgres.DOCUMENTS} (product_id, document, status, category_id)
                SELECT product_id, names || setweight(to_tsvector('simple', 'made to last'), 'C'), status, category_id
                FROM {postgres.TABLE}"""
        )
        # A word of the descriptions that no title has, in one row in 800.
        cursor.execute(
            f"""UPDATE {postgres.DOCUMENTS} SET document = document || to_tsvector('simple', 'membrane')
                WHERE product_id %% %s = 0""",
            [800],
        )
        # The vocabulary only grows and products made earlier in the run may have added some of
        # these words already (a duplicate key failed the fixture when tests ran in another order).
        cursor.execute(
            f"""INSERT INTO {postgres.WORDS} (word)
                SELECT DISTINCT unnest(tsvector_to_array(document)) FROM {postgres.DOCUMENTS}
                ON CONFLICT DO NOTHING"""
        )
        cursor.execute(f"SELECT gin_clean_pending_list('{postgres.TABLE}_names'::regclass)")
        cursor.execute(f"SELECT gin_clean_pending_list('{postgres.DOCUMENTS}_document'::regclass)")
        cursor.execute(f"ANALYZE {postgres.TABLE}, {postgres.DOCUMENTS}, {postgres.WORDS}")


def _plan(sql: str, *, analyze: bool = False) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ({'ANALYZE, ' if analyze else ''}FORMAT JSON) {sql}")
        return cursor.fetchone()[0][0]["Plan"]  # psycopg decodes the JSON


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_the_titles_a_word_matches_are_estimated_from_the_statistics(large_index):
    with CaptureQueriesContext(connection) as queries:
        search("jacket")
    ranking = next(q["sql"] for q in queries.captured_queries if f"FROM {postgres.TABLE} AS s" in q["sql"])

    scan = next(
        node for node in _nodes(_plan(ranking))
        if node.get("Relation Name") == postgres.TABLE and node["Node Type"] in ("Seq Scan", "Bitmap Heap Scan")
    )

    # 1,666 titles have "jacket". The ranking query's own form, `'jacket' | 'jacket':*`, was
    # estimated as two independent matches (about 3,200 here; 14,851 for 7,890 at 100,000 demo
    # products), which made a sequential scan of every title look cheaper than the GIN index. At
    # this size a sequential scan is still the cheaper plan; at 100,000 the index is chosen.
    assert ROWS // 12 * 0.8 <= scan["Plan Rows"] <= ROWS // 12 * 1.25


def test_the_matching_query_finds_what_the_ranking_query_finds(large_index):
    with connection.cursor() as cursor:
        for words in (["jacket"], ["jack"], ["line1", "jacket"], ["x"], ["tent", "mug"]):
            for any_word in (False, True):
                found = []
                for prefixes_only in (False, True):
                    query = postgres.tsquery(words, any_word=any_word, prefixes_only=prefixes_only)
                    cursor.execute(
                        f"SELECT array_agg(product_id ORDER BY product_id) FROM {postgres.TABLE}"
                        " WHERE names @@ to_tsquery('simple', %s)",
                        [query],
                    )
                    found.append(cursor.fetchone()[0])
                assert found[0] == found[1], (words, any_word)


def test_word_counts_are_capped_and_never_read_every_title(large_index):
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        terms = postgres.vocabulary(cursor).terms(["membrane", "jacket", "lantern", "nosuchword"])
    counting = queries.captured_queries[-1]["sql"]

    # Capped at FREQUENCY_CAP either way: "membrane" is in one description in 800 and no title.
    assert terms == {
        "membrane": postgres.Term(products=20, in_names=0),
        "jacket": postgres.Term(products=20, in_names=20),
        "lantern": postgres.Term(products=20, in_names=20),
    }
    # At 100,000 demo products a LIMIT left to the planner read every title for such a word (~30
    # ms): it estimates a word missing from its statistics at half the rarest word it knows (383
    # titles there), so it expected to stop early. At this size it happens to pick the index even
    # so; the bound keeps any later form of the count from reading every title.
    plan = _plan(counting, analyze=True)
    read = sum(
        node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
        for node in _nodes(plan)
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == postgres.TABLE
    )
    assert read <= 3 * postgres.HEAD_ROWS


def test_a_rare_word_past_the_first_rows_is_still_counted(large_index):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {postgres.TABLE} SET names = names || to_tsvector('simple', 'ember') WHERE product_id > %s",
            [ROWS - 5],
        )
        cursor.execute(f"SELECT {postgres._capped_count(postgres.TABLE, 'names')}", ["ember", "ember"])

        assert cursor.fetchone()[0] == 5
