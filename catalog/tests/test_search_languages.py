"""Search across languages: accents and case fold the same way on both backends; Korean is found.

Runs on whichever database DATABASE_URL names; `postgres` tests compare PostgreSQL's SQL fold
with the Python one SQLite's triggers use.
"""
import unicodedata

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.demo.seed import seed_demo_catalog
from catalog.search import search, suggest
from catalog.search.folding import FOLDS, fold
from catalog.search.query import words

from .factories import BrandFactory, ProductFactory

pytestmark = pytest.mark.django_db

# Every character of the fold table, and what it folds to, by base letter: "e" -> "éèêëÉ...".
ACCENTED = {}
for _char, _folded in FOLDS.items():
    if len(_folded) == 1 and _folded.isascii():
        ACCENTED.setdefault(_folded, []).append(_char)


# --- The fold itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Crème", "creme"), ("CRÈME", "creme"), ("café", "cafe"), ("Straße", "strasse"), ("Øresund", "oresund"),
     ("Łódź", "lodz"), ("Æble", "aeble"), ("ﬁne", "fine"), ("Ｊａｃｋｅｔ", "jacket"), ("cafe\u0301", "cafe"),
     ("방수 재킷", "방수 재킷"), ("й", "й"), ("が", "が")],
)
def test_fold(text, folded):
    assert fold(text) == folded


def _capital_folds(char: str) -> bool:
    # Not "ŉ" or "ẚ": their capitals are two characters, the second a modifier letter ("ʼN", "Aʾ").
    return all(c.isascii() or c in FOLDS or unicodedata.combining(c) for c in char.upper())


def test_every_character_of_the_table_folds_whatever_its_case():
    wrong = {char: fold(char) for char in FOLDS if fold(char) != FOLDS[char]}
    wrong_capitals = {
        char: fold(char.upper()) for char in FOLDS
        if char.isalpha() and _capital_folds(char) and fold(char.upper()) != FOLDS[char]
    }

    assert wrong == wrong_capitals == {}


def test_fold_keeps_hangul_composed():
    decomposed = unicodedata.normalize("NFD", "재킷")  # as some systems send it: separate jamo

    assert fold(decomposed) == "재킷"


@given(st.text(max_size=30))
def test_fold_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


_LATIN_WORD = st.text(
    alphabet="".join(ACCENTED) + "".join(ch for chars in ACCENTED.values() for ch in chars if _capital_folds(ch)),
    min_size=1, max_size=12,
)


@given(_LATIN_WORD)
def test_case_and_accents_do_not_change_the_words_of_a_query(word):
    plain = "".join(fold(ch) for ch in word)

    assert words(word) == words(word.upper()) == words(word.lower()) == words(plain)


# --- The same on both backends --------------------------------------------------------------------


@pytest.fixture
def accented_catalog():
    return {
        "creme": ProductFactory(title="Crème Enamel Mug", description="<p>Glazed.</p>"),
        "cafe": ProductFactory(title="Camp Kettle", description="<p>For the <em>café</em> at the trailhead.</p>"),
        "oresund": ProductFactory(title="Harbour Jacket", brand=BrandFactory(name="Øresund", slug="oresund")),
        "strasse": ProductFactory(title="Straßen Boots"),
        "plain": ProductFactory(title="Cream Mug"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [("crème", "creme"), ("creme", "creme"), ("CRÈME", "creme"), ("Créme", "creme"),
     ("café", "cafe"), ("cafe", "cafe"), ("CAFÉ", "cafe"),
     ("øresund", "oresund"), ("oresund", "oresund"), ("ORESUND", "oresund"),
     ("strassen", "strasse"), ("straßen", "strasse"), ("STRASSEN", "strasse")],
)
def test_accents_and_case_fold_both_ways_in_titles_descriptions_and_brands(accented_catalog, query, expected):
    result = search(query)

    assert result.ids == [accented_catalog[expected].pk]
    assert result.corrected is None


def test_the_exact_title_ranks_first_whatever_its_accents(accented_catalog):
    assert search("creme enamel mug").ids[0] == accented_catalog["creme"].pk
    assert search("CRÈME ENAMEL MUG").ids[0] == accented_catalog["creme"].pk


def test_the_spelling_pass_works_on_folded_words(accented_catalog):
    # "crèem" is a slip of "creme" (folded from "Crème"): the vocabulary holds the folded word
    result = search("crèmme")

    assert result.ids == [accented_catalog["creme"].pk]
    assert result.corrected == "creme"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_case_and_accents_never_change_the_results(accented_catalog, data):
    # given: a query that names a product, each letter perhaps accented and perhaps upper case
    canonical = data.draw(st.sampled_from(["creme enamel mug", "cafe", "oresund", "harbour jacket", "cream"]))
    variant = "".join(
        data.draw(st.sampled_from([ch, ch.upper(), *ACCENTED.get(ch, [])])) if ch.isalpha() else ch
        for ch in canonical
    )

    assert search(variant).ids == search(canonical).ids != []


@pytest.mark.postgres
def test_postgres_folds_every_character_of_the_table_as_python_does():
    characters = sorted(set(FOLDS) | {ch.upper() for ch in FOLDS} | {ch.lower() for ch in FOLDS})
    with connection.cursor() as cursor:
        cursor.execute("SELECT c, catalog_search_fold(c) FROM unnest(%s::text[]) AS c", [characters])
        folded_by_postgres = dict(cursor.fetchall())

    assert {c: f for c, f in folded_by_postgres.items() if f != fold(c)} == {}


_REALISTIC_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=["L", "M", "N", "Zs", "Pd", "Po"],
        exclude_characters="\x00",
        # Latin, Greek, Cyrillic and Hangul: what product copy is written in here
        max_codepoint=0xD7A3,
    ).filter(lambda ch: ch < "\u0530" or "\u1e00" <= ch < "\u1f00" or "\uac00" <= ch <= "\ud7a3" or ch == " "),
    max_size=40,
)


@pytest.mark.postgres
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_REALISTIC_TEXT)
def test_postgres_folds_text_as_python_does(text):
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_search_fold(%s)", [text])
        assert cursor.fetchone()[0] == fold(text)


# --- Korean -----------------------------------------------------------------------------------


@pytest.fixture
def korean_catalog():
    return {
        "title": ProductFactory(title="방수 재킷", description="<p>Waterproof shell.</p>"),
        "description": ProductFactory(
            title="Storm Shell", description="<p>A light shell.</p><p>이 재킷은 가볍고 방수가 됩니다.</p>"
        ),
        "tie": ProductFactory(title="실크 타이"),
        "trousers": ProductFactory(title="등산 바지"),
    }


@pytest.mark.parametrize("query", ["재킷", "재킷을", "재킷은", "재킷이", "재킷으로", "재킷에서"])
def test_korean_is_found_with_or_without_a_particle(korean_catalog, query):
    result = search(query)

    assert set(result.ids) == {korean_catalog["title"].pk, korean_catalog["description"].pk}
    assert result.ids[0] == korean_catalog["title"].pk  # the title before the description
    assert result.corrected is None


def test_korean_words_combine_and_keep_a_word_that_merely_ends_like_a_particle(korean_catalog):
    assert search("방수 재킷").ids[0] == korean_catalog["title"].pk
    assert search("방수 재킷을").ids[0] == korean_catalog["title"].pk
    assert search("타이").ids == [korean_catalog["tie"].pk]  # "이" is a particle, but "타이" is a word
    assert search("타이를").ids == [korean_catalog["tie"].pk]
    assert search("바지").ids == [korean_catalog["trousers"].pk]
    assert search("모자").ids == []


def test_korean_is_suggested_as_you_type(korean_catalog):
    assert [item["title"] for item in suggest("재킷")][0] == "방수 재킷"


def test_the_demo_catalog_has_korean_that_search_finds(client):
    # given: the demo catalog (its rain jacket #25 is one of the products with a Korean line)
    seed_demo_catalog(products=40, images=False)

    # when
    response = client.get(reverse("catalog:search"), {"q": "재킷을"})

    # then
    assert response.status_code == 200
    assert not response.context.get("no_results")
    assert [p.title for p in response.context["products"]] == ["Redwood Waterproof Rain Jacket"]
    assert search("방수 재킷").ids == search("재킷").ids
