"""What both search backends share: turning shopper text into words, and the spelling pass.

Nothing here talks to a database. Words are the only thing ever taken from the query: every
character that is not a letter or a digit (quotes, `*`, `:`, `^`, brackets, NUL bytes, emoji) is a
separator, so full-text syntax typed by a shopper can never reach a MATCH or tsquery as syntax.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Bounds that keep an absurd query cheap: the first few words, each of a sane length.
MAX_QUERY_CHARS = 1000
MAX_WORDS = 8
MAX_WORD_LENGTH = 40
# Words shorter than this are matched exactly: a one-letter prefix would match half the index,
# and "tv" or "xl" are rarely typos.
MIN_PREFIX_LENGTH = 2
MIN_CORRECTABLE_LENGTH = 3
# Candidates grow with the word's length; past this a slip is rarer than a code or a part number.
MAX_CORRECTABLE_LENGTH = 20
# A long word may carry two slips where the backend can find such candidates (PostgreSQL's
# trigram index); one slip otherwise.
LONG_WORD_LENGTH = 8

_WORD = re.compile(r"[^\W_]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def clean(text: str) -> str:
    """`text` cut to MAX_QUERY_CHARS, without NUL bytes or lone surrogates (neither database takes
    them), whitespace collapsed."""
    text = text[:MAX_QUERY_CHARS].replace("\x00", " ")
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return " ".join(text.split())


def words(query: str) -> list[str]:
    """The lower-cased words of `query`, at most MAX_WORDS, over-long words dropped."""
    found = []
    for match in _WORD.finditer(query[:MAX_QUERY_CHARS]):
        word = match.group().lower()
        if len(word) <= MAX_WORD_LENGTH:
            found.append(word)
            if len(found) == MAX_WORDS:
                break
    return found


def strip_diacritics(word: str) -> str:
    """`word` without combining marks ("café" -> "cafe"), as SQLite's `remove_diacritics` indexes it."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def comparable(text: str) -> str:
    """A title or query reduced to its words, for "is this the exact title?" comparisons."""
    folded = text.casefold()
    if not folded.isascii():
        folded = strip_diacritics(folded)
    return " ".join(_WORD.findall(folded))


def edits1(word: str, *, up_to: int | None = None) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from `word`,
    counting only slips at positions up to `up_to` (all of them by default).

    The alphabet is the ASCII letters plus the word's own characters (so a slip inside a
    non-Latin word is covered too), and the digits when the word has one.
    """
    alphabet = set(_LETTERS) | set(word)
    if any(ch.isdigit() for ch in word):
        alphabet |= set(_DIGITS)
    last = len(word) if up_to is None else min(up_to, len(word))
    splits = [(word[:i], word[i:]) for i in range(last + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in alphabet}
    inserts = {a + c + b for a, b in splits for c in alphabet}
    return (deletes | transposes | replaces | inserts) - {word}


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: a swap of two neighbouring letters counts as one slip."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def known_prefix_length(word: str, is_known: Callable[[str], bool]) -> int:
    """The length of the longest start of `word` that starts an indexed word, by bisection.

    Precondition: `word` itself is not known. Knowing a prefix implies knowing its prefixes.
    """
    low, high = 0, len(word)
    while high - low > 1:
        middle = (low + high) // 2
        if is_known(word[:middle]):
            low = middle
        else:
            high = middle
    return low


def allowed_distance(word: str, *, max_distance: int) -> int:
    return min(max_distance, 2 if len(word) >= LONG_WORD_LENGTH else 1)


@dataclass(frozen=True)
class Vocabulary:
    """How a backend answers the spelling pass's three questions about its index's words.

    `fold` turns a query word into the form the index stores; `is_known` says whether any indexed
    word starts with it; `frequencies` maps candidate words to how many products contain them
    (absent when none do); `similar` offers extra candidates (may return nothing).
    """

    fold: Callable[[str], str]
    is_known: Callable[[str], bool]
    frequencies: Callable[[Iterable[str]], dict[str, int]]
    similar: Callable[[str], list[str]]
    max_distance: int = 1


def correct(query_words: list[str], vocabulary: Vocabulary) -> list[str]:
    """`query_words` with each word the index does not know replaced by its likeliest spelling.

    A word is left alone when it is short or very long, all digits, or a prefix of an indexed word (the shopper
    may still be typing it). Otherwise the candidates are the indexed words within one slip (two
    for long words where the backend finds them); the closest wins, then the most common.
    """
    corrected = []
    for word in query_words:
        folded = vocabulary.fold(word)
        if (
            not MIN_CORRECTABLE_LENGTH <= len(folded) <= MAX_CORRECTABLE_LENGTH
            or folded.isdigit()
            or vocabulary.is_known(folded)
        ):
            corrected.append(word)
            continue
        limit = allowed_distance(folded, max_distance=vocabulary.max_distance)
        # A word one slip away at position i starts with folded[:i], so slips past the longest
        # known prefix cannot name an indexed word: a few prefix probes spare hundreds of lookups.
        reach = known_prefix_length(folded, vocabulary.is_known)
        candidates = edits1(folded, up_to=reach) | set(vocabulary.similar(folded))
        scored = []
        for term, count in vocabulary.frequencies(candidates).items():
            distance = edit_distance(folded, term)
            if distance <= limit:
                scored.append((distance, -count, term))
        corrected.append(min(scored)[2] if scored else word)
    return corrected
