"""The spelling pass corrects slips, not words: "jakcet" is a jacket, "café" is not "care".

Runs on whichever database DATABASE_URL names, so both backends are held to the same answers.
"""
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.demo.seed import seed_demo_catalog
from catalog.search import search
from catalog.search.query import Term, Vocabulary, spell

pytestmark = pytest.mark.django_db

DEMO_PRODUCTS = 40  # has "care" in its descriptions (the care notes) and a rain jacket


@pytest.fixture
def demo_products():
    seed_demo_catalog(products=DEMO_PRODUCTS, images=False)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- On the demo catalog --------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["café", "cafe", "CAFÉ"])
def test_cafe_is_not_corrected_into_care_on_the_demo_catalog(client, demo_products, query):
    # given: "care" is in many descriptions ("Care: machine wash..."), one letter from "cafe"
    assert search("care").ids

    # when
    result = search(query)
    response = client.get("/search/", {"q": query})

    # then: nothing found, and said so, rather than wool blankets for "care"
    assert result.ids == []
    assert result.corrected is None
    assert result.suggestion is None
    assert response.status_code == 200
    assert response.context["no_results"]
    assert f"No results for “{query}”" in _text(response)
    assert "Showing results for" not in _text(response)
    assert "Did you mean" not in _text(response)


@pytest.mark.parametrize(("typo", "meant"), [("jakcet", "jacket"), ("jaket", "jacket"), ("lmap", "lamp"),
                                             ("blankit", "blanket"), ("Skilet", "skillet")])
def test_a_true_typo_is_still_corrected_on_the_demo_catalog(client, demo_products, typo, meant):
    result = search(typo)
    response = client.get("/search/", {"q": typo})

    assert result.corrected == meant
    assert result.ids and result.ids == search(meant).ids
    assert f"Showing results for “{meant}”" in _text(response)


# --- Sure, likely, or neither ---------------------------------------------------------------------


def _vocabulary(terms: dict[str, Term]) -> Vocabulary:
    return Vocabulary(
        is_known=lambda prefix: any(term.startswith(prefix) for term in terms),
        terms=lambda candidates: {c: terms[c] for c in candidates if c in terms},
        similar=lambda word: [],
    )


def test_a_short_word_one_letter_from_a_description_word_is_left_alone():
    vocabulary = _vocabulary({"care": Term(products=55, in_names=0), "jacket": Term(products=20, in_names=20)})

    assert spell("cafe", vocabulary) == ("cafe", None, False)


def test_a_short_word_one_letter_from_a_product_name_is_suggested_not_imposed():
    vocabulary = _vocabulary({"boots": Term(products=12, in_names=12)})

    assert spell("boats", vocabulary) == ("boats", "boots", False)


def test_two_equally_likely_candidates_are_a_guess_not_a_correction():
    alone = _vocabulary({"jacket": Term(products=9, in_names=9)})
    rivals = _vocabulary({"jacket": Term(products=9, in_names=9), "jackal": Term(products=6, in_names=6)})
    rare_rival = _vocabulary({"jacket": Term(products=9, in_names=9), "jackal": Term(products=2, in_names=2)})

    assert spell("jackel", alone) == ("jacket", None, True)
    assert spell("jackel", rivals) == ("jackel", "jacket", False)
    assert spell("jackel", rare_rival) == ("jacket", None, True)


def test_a_title_word_is_offered_before_an_equally_close_commoner_description_word():
    # "woolln" is one slip from both; the commoner one is only in descriptions
    vocabulary = _vocabulary({"woolen": Term(products=15, in_names=0), "woollen": Term(products=3, in_names=3)})

    assert spell("woolln", vocabulary) == ("woolln", "woollen", False)


_LETTERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=14)


@given(word=_LETTERS, position=st.integers(min_value=0, max_value=12))
def test_a_neighbour_swap_in_an_indexed_word_is_always_corrected_back(word, position):
    position %= len(word) - 1
    typo = word[:position] + word[position + 1] + word[position] + word[position + 2:]
    vocabulary = _vocabulary({word: Term(products=3, in_names=1)})
    if typo == word or vocabulary.is_known(typo):
        return  # a swap of equal letters changes nothing; a known prefix is left to prefix search

    assert spell(typo, vocabulary) == (word, None, True)


@given(word=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=4), position=st.integers(0, 3),
       letter=st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
def test_a_changed_letter_in_a_short_word_is_never_corrected_without_asking(word, position, letter):
    position %= len(word)
    typo = word[:position] + letter + word[position + 1:]
    vocabulary = _vocabulary({word: Term(products=50, in_names=50)})
    if typo == word or vocabulary.is_known(typo):
        return

    searched, suggested, corrected = spell(typo, vocabulary)

    assert (searched, corrected) == (typo, False)
    assert suggested == word
