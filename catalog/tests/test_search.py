"""Product search: ranking, typos, prefixes, odd input, suggestions, and the index staying in sync.

These run on whichever database DATABASE_URL names (SQLite by default), so the same behaviour is
checked on both backends; tests marked `postgres` check what only PostgreSQL has.
"""
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from catalog import search as product_search
from catalog.models import Brand, Product
from catalog.search import query as search_query
from catalog.search import search, suggest

from .factories import BrandFactory, CategoryFactory, ProductFactory, product_with_stock

pytestmark = pytest.mark.django_db


def test_exact_title_match_ranks_first():
    # given: the exact title is the oldest product and the others repeat the words more often
    exact = ProductFactory(title="Rain Jacket", description="<p>Light.</p>")
    ProductFactory(title="Rain Jacket Rain Jacket Pro", description="<p>A rain jacket for rain.</p>")
    ProductFactory(
        title="Jacket for rain", brand=BrandFactory(name="Rain", slug="rain"), description="<p>Rain jacket.</p>"
    )

    # when
    result = search("rain jacket")

    # then
    assert len(result.ids) == 3
    assert result.ids[0] == exact.pk
    assert result.corrected is None


def test_exact_title_ignores_case_accents_and_punctuation():
    ProductFactory(title="T-Shirt Café Edition", description="<p>T-shirt café.</p>")
    exact = ProductFactory(title="T-Shirt, Café")

    assert search("t shirt cafe").ids[0] == exact.pk


@pytest.mark.parametrize(
    "typo", ["jaket", "jakcet", "jecket", "jacnket"], ids=["deletion", "swap", "substitution", "insertion"]
)
def test_one_letter_typo_still_finds_it(typo):
    jacket = ProductFactory(title="Waxed Jacket")
    ProductFactory(title="Wool Scarf")

    result = search(typo)

    assert result.ids == [jacket.pk]
    assert result.corrected == "jacket"


def test_typo_in_one_word_of_several_is_corrected_and_shown(client):
    ProductFactory(title="Waxed Jacket", description="<p>Waterproof cotton.</p>")

    result = search("waxed jaket")
    response = client.get(reverse("catalog:search"), {"q": "waxed jaket"})

    assert result.corrected == "waxed jacket"
    assert response.status_code == 200
    assert "Showing results for “waxed jacket”" in response.content.decode()
    assert "Waxed Jacket" in response.content.decode()


def test_known_words_are_not_corrected():
    ProductFactory(title="Jacket")
    ProductFactory(title="Packet of seeds")

    result = search("packet")

    assert result.corrected is None
    assert len(result.ids) == 1


@pytest.mark.parametrize("partial", ["jack", "JACKE", "waterpr"])
def test_partial_word_matches_as_a_prefix(partial):
    product = ProductFactory(title="Waterproof Jacket")
    ProductFactory(title="Wool Scarf")

    assert search(partial).ids == [product.pk]


def test_title_outranks_brand_which_outranks_description():
    # given: created oldest first, so a newest-first tie-break would reverse them
    in_title = ProductFactory(title="Merino Base Layer", description="<p>Warm.</p>")
    in_brand = ProductFactory(title="Base Layer", brand=BrandFactory(name="Merino Works", slug="merino-works"))
    in_description = ProductFactory(title="Base Layer Crew", description="<p>Knitted from merino wool.</p>")
    ProductFactory(title="Cotton Tee")

    assert search("merino").ids == [in_title.pk, in_brand.pk, in_description.pk]


def test_exact_word_ranks_above_a_longer_word_it_prefixes():
    # given: the exact word is older, so a newest-first tie-break would put it last
    exact = ProductFactory(title="Cape Poster")
    longer = ProductFactory(title="Capes Poster")
    ProductFactory(title="Cap Poster")

    assert search("cape").ids == [exact.pk, longer.pk]


def test_every_word_must_match_unless_none_does():
    both = ProductFactory(title="Red Wool Hat")
    ProductFactory(title="Red Cotton Tee")
    hat = ProductFactory(title="Blue Wool Hat")

    assert search("red hat").ids == [both.pk]
    # No product has "green": products with any of the words, rather than nothing.
    assert set(search("green hat").ids) == {both.pk, hat.pk}


def test_search_covers_only_published_products():
    published = ProductFactory(title="Linen Shirt")
    ProductFactory(title="Linen Shirt Draft", status=Product.Status.DRAFT)
    ProductFactory(title="Linen Shirt Hidden", category=CategoryFactory(is_active=False))

    assert search("linen").ids == [published.pk]


def test_search_finds_exactly_the_published_products_through_every_change():
    # PostgreSQL keeps each product's status and category beside its words (search/postgres.py);
    # both backends must find what ProductQuerySet.published() holds, before and after changes
    # made by save(), by QuerySet.update() and by a publication.
    from saleschannels.models import Publication

    shown = CategoryFactory()
    hidden_parent = CategoryFactory(is_active=False)
    hidden_child = CategoryFactory(parent=hidden_parent)
    active, draft, hidden, shops_only, online_only = (
        ProductFactory(title=f"Harbour Parka {name}", category=shown)
        for name in ("active", "draft", "hidden", "shops", "online")
    )
    Product.objects.filter(pk=draft.pk).update(status=Product.Status.DRAFT)
    hidden.category = hidden_child
    hidden.save()
    Publication.objects.create(product=shops_only, sold_in=Publication.SoldIn.SHOPS)
    Publication.objects.create(product=online_only, sold_in=Publication.SoldIn.ONLINE)

    def published():
        return set(Product.objects.published().filter(title__startswith="Harbour").values_list("pk", flat=True))

    assert set(search("harbour parka").ids) == published() == {active.pk, online_only.pk}

    active.status = Product.Status.DRAFT
    active.save()
    Product.objects.filter(pk=draft.pk).update(status=Product.Status.ACTIVE)
    Product.objects.filter(pk=hidden.pk).update(category=shown)
    online_only.category = hidden_child
    online_only.save()
    Publication.objects.filter(product=shops_only).update(sold_in=Publication.SoldIn.BOTH)

    assert set(search("harbour parka").ids) == published() == {draft.pk, hidden.pk, shops_only.pk}
    # The description stage keeps to the same products (no title has "breakwater").
    Product.objects.filter(title__startswith="Harbour").update(description="<p>Cut for the breakwater.</p>")
    assert set(search("breakwater").ids) == {draft.pk, hidden.pk, shops_only.pk}


def test_a_store_with_every_category_hidden_finds_nothing_calmly(client):
    # A new store, or one whose staff hid every category: no category is active, so no product is
    # published; search must answer "nothing found", not raise (EmptyResultSet) or answer 500.
    ProductFactory(title="Rain Jacket", category=CategoryFactory(is_active=False))

    assert search("jacket").ids == []
    assert suggest("jacket") == []
    assert client.get(reverse("catalog:search"), {"q": "jacket"}).status_code == 200


def test_limit_bounds_the_ids():
    for n in range(5):
        ProductFactory(title=f"Canvas Tote {n}")

    assert len(search("canvas", limit=3).ids) == 3
    assert search("canvas", limit=0).ids == []


def test_markup_in_descriptions_is_not_searchable():
    product = ProductFactory(
        title="Desk Light",
        description='<p><strong>Bright</strong> &amp; <a href="https://example.com/spec">dimmable</a></p>'
        "<table><tr><td>60 W</td></tr></table>",
    )

    assert search("bright").ids == [product.pk]
    assert search("dimmable").ids == [product.pk]
    for tag_word in ["strong", "href", "example", "table", "amp", "noopener", "td"]:
        assert search(tag_word).ids == [], tag_word


ABSURD_QUERIES = [
    "x" * 10_000,
    "jacket " * 2_000,
    "!!!???...,,,;;;",
    '"',
    '"jacket',
    "*",
    "jack*",
    "NEAR(jacket scarf)",
    "jacket AND",
    "AND OR NOT",
    "title:jacket",
    ":",
    "^jacket",
    "{title}: jacket",
    "jacket\x00scarf",
    "\x00",
    "🧥🧣",
    "🧥 jacket",
    "' OR 1=1; DROP TABLE catalog_product; --",
    "%_\\",
    "jacket:* & !scarf | (",
    "'' \\' \\\\",
    "ｆｕｌｌｗｉｄｔｈ ½ ¼ ²",
    "ǅemal Ⅻ ﬁne ß",
    "中文 日本語 한국어",
    "a",
    " ",
    "\ud800broken surrogate",
]


@pytest.mark.parametrize("query", ABSURD_QUERIES)
def test_absurd_queries_get_a_calm_page(client, query):
    ProductFactory(title="Waxed Jacket")

    response = client.get(reverse("catalog:search"), {"q": query.replace("\ud800", "")})
    result = search(query)

    assert response.status_code == 200
    assert isinstance(result.ids, list)


@pytest.mark.parametrize("query", ["", "   ", "!!!", '"*"', "\x00\x00", "🧥", "x" * 10_000])
def test_queries_without_words_find_nothing(query):
    ProductFactory(title="Waxed Jacket")

    assert search(query) == product_search.SearchResult(ids=[], corrected=None)
    assert suggest(query) == []


def test_search_syntax_is_read_as_words():
    jacket = ProductFactory(title="Waxed Jacket")

    # As FTS syntax these would exclude the jacket or fail; as words they find it.
    assert search('"jacket" NOT waxed').ids == [jacket.pk]
    assert search("waxed - jacket").ids == [jacket.pk]


def test_search_page_lists_matches(client):
    product = product_with_stock(title="Canvas Rucksack", price=Decimal("80.00"))

    response = client.get(reverse("catalog:search"), {"q": "rucksack"})

    assert response.status_code == 200
    assert product.get_absolute_url() in response.content.decode()


def test_suggest_returns_titles_and_urls_best_first():
    exact = ProductFactory(title="Parka")
    other = ProductFactory(title="Parka Lightweight Shell")

    assert suggest("parka") == [
        {"title": "Parka", "url": exact.get_absolute_url()},
        {"title": "Parka Lightweight Shell", "url": other.get_absolute_url()},
    ]
    assert len(suggest("park", limit=1)) == 1


def test_draft_products_are_never_suggested():
    ProductFactory(title="Secret Parka", status=Product.Status.DRAFT)
    ProductFactory(title="Parka in a Hidden Category", category=CategoryFactory(is_active=False))
    published = ProductFactory(title="Parka Light")

    assert suggest("parka") == [{"title": "Parka Light", "url": published.get_absolute_url()}]


def test_suggestions_endpoint(client):
    product = ProductFactory(title="Parka Light")
    ProductFactory(title="Secret Parka", status=Product.Status.DRAFT)

    response = client.get(reverse("catalog:suggest"), {"q": "park"}, headers={"HX-Request": "true"})
    body = response.content.decode()

    assert response.status_code == 200
    assert product.get_absolute_url() in body
    assert "Secret Parka" not in body


@pytest.mark.parametrize("query", ["🧥", '"', "x" * 10_000, "\x00"])
def test_suggestions_endpoint_is_calm_with_odd_input(client, query):
    ProductFactory(title="Parka Light")

    response = client.get(reverse("catalog:suggest"), {"q": query})

    assert response.status_code == 200
    assert "Parka Light" not in response.content.decode()


# --- The index follows every write path ---------------------------------------------------------


def test_index_follows_save_of_title_and_description():
    product = ProductFactory(title="Waxed Jacket", description="<p>Cotton.</p>")

    product.title = "Quilted Gilet"
    product.description = "<p>Recycled down.</p>"
    product.save()

    assert search("waxed").ids == []
    assert search("cotton").ids == []
    assert search("gilet").ids == [product.pk]
    assert search("recycled").ids == [product.pk]


def test_index_follows_queryset_update():
    product = ProductFactory(title="Waxed Jacket")

    Product.objects.filter(pk=product.pk).update(title="Quilted Gilet")

    assert search("waxed").ids == []
    assert search("gilet").ids == [product.pk]


def test_index_follows_delete():
    product = ProductFactory(title="Waxed Jacket")
    keep = ProductFactory(title="Waxed Cap")

    product.delete()

    assert search("waxed").ids == [keep.pk]


def test_index_follows_bulk_create():
    category = CategoryFactory()
    Product.objects.bulk_create(
        Product(title=f"Enamel Mug {n}", slug=f"enamel-mug-{n}", category=category, status=Product.Status.ACTIVE,
                description="<p><strong>Dishwasher</strong> safe.</p>")
        for n in range(3)
    )

    assert len(search("enamel").ids) == 3
    assert len(search("dishwasher").ids) == 3
    assert search("strong").ids == []


def test_index_follows_brand_changes():
    brand = BrandFactory(name="Fjellstad", slug="fjellstad")
    product = ProductFactory(title="Trail Boot", brand=brand)

    Brand.objects.filter(pk=brand.pk).update(name="Nordkapp")
    assert search("fjellstad").ids == []
    assert search("nordkapp").ids == [product.pk]

    brand.delete()  # products keep going, without a brand
    assert search("nordkapp").ids == []
    assert search("trail").ids == [product.pk]


def _search_migrations(executor: MigrationExecutor) -> list:
    """The catalog migrations that install the search index, oldest first."""
    graph = executor.loader.graph
    return [graph.nodes[key] for key in sorted(graph.nodes) if key[0] == "catalog" and "search" in key[1]]


@pytest.mark.django_db(transaction=True)
def test_migration_is_reversible_and_indexes_existing_products():
    backend = product_search.backend_for(connection)
    executor = MigrationExecutor(connection)
    migrations = _search_migrations(executor)
    # Only the search migrations: unapplying every app that depends on the catalog would run
    # their own reverse operations, which are not what this test is about.
    executor.migrate([], plan=[(migration, True) for migration in reversed(migrations)])
    try:
        assert not backend.is_installed(connection)
        # Written while there is no index: the migration must pick it up.
        lantern = ProductFactory(title="Storm Lantern")
    finally:
        executor.loader.build_graph()
        executor.migrate([], plan=[(migration, False) for migration in migrations])

    assert backend.is_installed(connection)
    assert search("lantern").ids == [lantern.pk]
    assert search("lanter").ids == [lantern.pk]


def _wider(model, name: str):
    old = model._meta.get_field(name)
    new = old.clone()
    new.max_length = old.max_length + 50
    new.set_attributes_from_name(name)
    new.model = model
    return old, new


@pytest.mark.django_db(transaction=True)
def test_index_survives_migrations_that_rebuild_product_and_brand_tables():
    """SQLite alters a table by copying it, which drops its triggers; post_migrate restores them."""
    from django.core.management.sql import emit_post_migrate_signal

    brand = BrandFactory(name="Fjellstad", slug="fjellstad")
    before = ProductFactory(title="Storm Lantern", brand=brand)
    changes = [(Product, *_wider(Product, "title")), (Brand, *_wider(Brand, "name"))]
    try:
        with connection.schema_editor() as editor:
            for model, old, new in changes:
                editor.alter_field(model, old, new)
        emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)

        after = ProductFactory(title="Storm Kettle", brand=brand)
        before.delete()
        Brand.objects.filter(pk=brand.pk).update(name="Nordkapp")
        assert search("storm").ids == [after.pk]
        assert search("nordkapp").ids == [after.pk]
    finally:
        with connection.schema_editor() as editor:
            for model, old, new in changes:
                editor.alter_field(model, new, old)
        emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)


def test_rebuild_index_reproduces_what_the_triggers_built():
    product = ProductFactory(title="Storm Lantern", description="<p><em>Brass</em> body.</p>")

    product_search.rebuild_index()

    assert search("brass").ids == [product.pk]
    assert search("em").ids == []


# --- The spelling pass on its own --------------------------------------------------------------


def test_words_keep_letters_and_digits_only():
    assert search_query.words('"Rain"* JACKET:^ NEAR(x) 500ml 🧥') == ["rain", "jacket", "near", "x", "500ml"]
    assert len(search_query.words("word " * 1000)) == search_query.MAX_WORDS
    assert search_query.words("y" * 41) == []


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("jacket", "jacket", 0), ("jaket", "jacket", 1), ("jakcet", "jacket", 1), ("jcaekt", "jacket", 2), ("", "ab", 2)],
)
def test_edit_distance_counts_a_swap_as_one_slip(a, b, distance):
    assert search_query.edit_distance(a, b) == distance


def test_edits1_covers_every_kind_of_slip():
    edits = search_query.edits1("cat")

    assert {"at", "act", "bat", "cart", "cats"} <= edits
    assert "cat" not in edits


def test_edits1_can_skip_slips_past_a_position():
    edits = search_query.edits1("jaxket", up_to=2)

    assert "jacket" in edits  # "x" (position 2) replaced
    assert "jaxke" not in edits  # deleting position 5 starts with "jaxke", which nothing does


def test_known_prefix_length_bisects_over_the_vocabulary():
    vocabulary = {"jacket", "jam"}
    probes = []

    def is_known(prefix):
        probes.append(prefix)
        return any(word.startswith(prefix) for word in vocabulary)

    assert search_query.known_prefix_length("jaxketxxxxxxxxx", is_known) == 2
    assert len(probes) <= 4


# --- PostgreSQL only ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_has_pg_trgm_and_the_search_indexes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() == ("pg_trgm",)
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN (%s, %s, %s)",
            ["catalog_product_search_names", "catalog_product_search_document_document", "catalog_search_word_trgm"],
        )
        indexes = dict(cursor.fetchall())
    assert "USING gin (names)" in indexes["catalog_product_search_names"]
    assert "USING gin (document)" in indexes["catalog_product_search_document_document"]
    assert "gist_trgm_ops" in indexes["catalog_search_word_trgm"]


@pytest.mark.postgres
def test_postgres_queries_can_use_the_gin_indexes():
    ProductFactory(title="Waxed Jacket")
    with connection.cursor() as cursor:
        for table in ["catalog_product_search", "catalog_product_search_document", "catalog_search_word"]:
            cursor.execute(f"ANALYZE {table}")
        # A table this small is cheapest to scan; make every other plan prohibitive.
        for setting in ["enable_seqscan", "enable_indexscan", "enable_indexonlyscan"]:
            cursor.execute(f"SET LOCAL {setting} = off")
        plans = {}
        for table, column in [("catalog_product_search", "names"), ("catalog_product_search_document", "document")]:
            cursor.execute(
                f"EXPLAIN SELECT product_id FROM {table} WHERE {column} @@ to_tsquery('simple', %s)",
                ["('jacket' | 'jacket':*)"],
            )
            plans[column] = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN SELECT word FROM catalog_search_word WHERE word %% %s", ["jaket"])
        trigram_plan = " ".join(row[0] for row in cursor.fetchall())

    assert "Bitmap Index Scan on catalog_product_search_names" in plans["names"]
    assert "Bitmap Index Scan on catalog_product_search_document_document" in plans["document"]
    assert "catalog_search_word_trgm" in trigram_plan


@pytest.mark.postgres
def test_postgres_forgives_two_slips_in_a_long_word():
    product = ProductFactory(title="Waterproof Overtrousers")

    result = search("watterprooff")

    assert result.ids == [product.pk]
    assert result.corrected == "waterproof"


@pytest.mark.postgres
def test_postgres_truncate_empties_the_index():
    ProductFactory(title="Waxed Jacket")

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred FK checks would block TRUNCATE
        cursor.execute("TRUNCATE catalog_product CASCADE")
        cursor.execute(
            "SELECT (SELECT count(*) FROM catalog_product_search)"
            " + (SELECT count(*) FROM catalog_product_search_document)"
        )
        assert cursor.fetchone() == (0,)


@pytest.mark.postgres
def test_postgres_upgrade_fills_status_and_category_of_an_index_built_before_them():
    # catalog migration 0011 on a store whose search tables predate the two columns.
    jacket = ProductFactory(title="Waxed Jacket")
    with connection.cursor() as cursor:
        for table in (product_search.postgres.TABLE, product_search.postgres.DOCUMENTS):
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN status, DROP COLUMN category_id")
        cursor.execute("ALTER INDEX catalog_product_search_names RESET (gin_pending_list_limit)")

    product_search.postgres.add_publication_columns(connection)

    assert search("jacket").ids == [jacket.pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'catalog_product_search_names'")
        assert cursor.fetchone()[0] == ["gin_pending_list_limit=64"]
