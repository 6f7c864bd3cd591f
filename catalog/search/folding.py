"""Accent and case folding, one table for both backends: "Crème", "CRÈME" and "creme" are one word.

The index stores folded text and every query word is folded before it is looked up, so a word
matches whatever its accents or case on either side. The fold is defined once, here, as a
character table; SQLite applies it through a Python function its triggers call, PostgreSQL through
`catalog_search_fold()`, a function generated from the same table (postgres.py). Neither
database's own folding is used, because they differ: SQLite's `remove_diacritics` keeps "ø", "ł"
and "æ", PostgreSQL's `unaccent` turns them into "o", "l" and "ae".

What folds: Latin letters with diacritics to their base letter ("é" -> "e", "ł" -> "l", "ø" -> "o"),
Latin ligatures and digraphs to their letters ("æ" -> "ae", "ß" -> "ss", "ﬁ" -> "fi"), full-width
Latin to ASCII, combining accents (text typed in decomposed form) removed, after lower case. Other
scripts keep their marks, which tell words apart ("й" is not "и", "が" is not "か"), and Hangul
stays as composed syllables (NFC), as the tokenizers expect.
"""
from __future__ import annotations

import re
import unicodedata

# Latin-1 Supplement to Latin Extended-B, Latin Extended Additional, the Latin ligatures and the
# full-width Latin letters: blocks complete since Unicode 4, so the table does not change with a
# newer Python (a change would need a migration that re-installs the index, see postgres.py).
_LATIN_BLOCKS = [(0x00C0, 0x024F), (0x1E00, 0x1EFF), (0xFB00, 0xFB06), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)]
_COMBINING_ACCENTS = range(0x0300, 0x0370)
# Letters with a stroke, hook or bar have no decomposition; their names say their base letters.
_NAMED = re.compile(r"LATIN (?:CAPITAL|SMALL) (?:LETTER|LIGATURE) ([A-Z]{1,2})(?: WITH .+)?")
_UNNAMED = {"ß": "ss", "ẞ": "ss", "þ": "th", "Þ": "th", "ð": "d", "Ð": "d", "ı": "i", "ŋ": "n", "Ŋ": "n", "ŉ": "n"}


def _base(char: str) -> str:
    if char in _UNNAMED:
        return _UNNAMED[char]
    stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if stripped.isascii() and stripped.isalpha():
        return stripped.lower()
    named = _NAMED.fullmatch(unicodedata.name(char, ""))
    return named.group(1).lower() if named else char


def _table() -> dict[str, str]:
    table = {}
    for start, end in _LATIN_BLOCKS:
        for code in range(start, end + 1):
            char = chr(code)
            if unicodedata.category(char).startswith("L") and _base(char) != char:
                table[char] = _base(char)
    # fold() lowers case first, and a few capitals here have their small letter in another block
    # ("Ⱥ" -> "ⱥ", Latin Extended-C).
    for char, base in list(table.items()):
        small = char.lower()
        if len(small) == 1 and small not in table and small != base:
            table[small] = base
    return table


# Character -> its folded form (ASCII letters), or "" for the combining accents, which are dropped.
# Greek final sigma is sigma, as SQLite's tokenizer has it: Python's lower() writes one at the end
# of a capitalised word.
FOLDS: dict[str, str] = _table() | {"ς": "σ"} | {chr(code): "" for code in _COMBINING_ACCENTS}
_TRANSLATION = {ord(char): folded for char, folded in FOLDS.items()}


def fold(text: str) -> str:
    """`text` as the index stores it: NFC, lower case, Latin accents and ligatures folded."""
    if text.isascii():  # most titles: search compares up to a thousand of them per query
        return text.lower()
    return unicodedata.normalize("NFC", text).lower().translate(_TRANSLATION)
