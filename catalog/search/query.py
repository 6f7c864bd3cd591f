"""What both search backends share: turning shopper text into words, and the spelling pass.

Nothing here talks to a database. Words are the only thing ever taken from the query: every
character that is not a letter or a digit (quotes, `*`, `:`, `^`, brackets, NUL bytes, emoji) is a
separator, so full-text syntax typed by a shopper can never reach a MATCH or tsquery as syntax.
Words are folded (folding.py) exactly as the index stores them, on both backends.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .folding import fold

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
# A correction is made without asking only when it is likely what the shopper meant: fewer slips
# than one in five letters of the longer word ("jaket" -> "jacket" is one in six), or one swap of
# neighbouring letters in a word of four or more ("tnet" -> "tent"), which keeps every letter
# typed. One changed letter in four ("cafe" -> "care") as often makes another word as a slip.
SURE_SLIPS_PER_LETTER = 0.2
MIN_SWAP_LENGTH = 4
# A candidate with a rival as close and at least half as common is a guess, not a correction.
RIVAL_SHARE = 0.5

_WORD = re.compile(r"[^\W_]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
# Korean particles (josa) written on the end of a word, longest first: "재킷을" is "재킷" + "을".
KOREAN_PARTICLES = sorted(
    {
        "은", "는", "이", "가", "을", "를", "의", "에", "로", "와", "과", "도", "만", "나", "랑",
        "에서", "에게", "한테", "께서", "부터", "까지", "처럼", "보다", "으로", "이나", "이랑", "하고",
        "마저", "조차", "만큼", "으로서", "으로써", "에서는", "에서도", "으로는", "에게서",
    },
    key=len,
    reverse=True,
)


def clean(text: str) -> str:
    """`text` cut to MAX_QUERY_CHARS, without NUL bytes or lone surrogates (neither database takes
    them), whitespace collapsed."""
    text = text[:MAX_QUERY_CHARS].replace("\x00", " ")
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return " ".join(text.split())


def words(query: str) -> list[str]:
    """The folded words of `query`, at most MAX_WORDS, over-long words dropped."""
    found = []
    for match in _WORD.finditer(fold(query[:MAX_QUERY_CHARS])):
        word = match.group()
        if len(word) <= MAX_WORD_LENGTH:
            found.append(word)
            if len(found) == MAX_WORDS:
                break
    return found


def comparable(text: str) -> str:
    """A title or query reduced to its folded words, for "is this the exact title?" comparisons."""
    return " ".join(_WORD.findall(fold(text)))


def korean_stem(word: str, is_known: Callable[[str], bool], *, known: bool) -> str | None:
    """`word` without the Korean particle on its end when the index knows the rest ("재킷을" ->
    "재킷"), else None. `known` says whether the index knows `word` itself.

    Particles follow the noun without a space, so a shopper's "재킷을" would otherwise look for a
    word no product has, and "재킷은" would find only the products that say "재킷은". The stem
    finds them all, as a prefix. A known word loses a particle only to a stem of two syllables or
    more: "타이" (a tie) ends in the particle "이", but "타" is not what was meant.
    """
    if not _HANGUL.fullmatch(word):
        return None
    for particle in KOREAN_PARTICLES:
        stem = word[: -len(particle)]
        if word.endswith(particle) and stem and (len(stem) >= MIN_PREFIX_LENGTH or not known) and is_known(stem):
            return stem
    return None


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


def is_swap(a: str, b: str) -> bool:
    """Whether `b` is `a` with two neighbouring letters swapped."""
    if len(a) != len(b):
        return False
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(differ) != 2 or differ[1] != differ[0] + 1:
        return False
    first, second = differ
    return a[first] == b[second] and a[second] == b[first]


@dataclass(frozen=True)
class Term:
    """What the index says about an indexed word: in how many products, and in how many titles or
    brand names (both may be capped by the backend; they only need to rank and compare)."""

    products: int
    in_names: int = 0


@dataclass(frozen=True)
class Vocabulary:
    """How a backend answers the spelling pass's questions about its index's words (all folded).

    `is_known` says whether any indexed word starts with a word; `terms` maps the candidate words
    the index has to their Term; `similar` offers extra candidates (may return nothing).
    """

    is_known: Callable[[str], bool]
    terms: Callable[[Iterable[str]], dict[str, Term]]
    similar: Callable[[str], list[str]]
    max_distance: int = 1


@dataclass
class Spelling:
    """The spelling pass's answer for a query's words.

    `words` are searched: known words, Korean words without their particle, and the corrections
    the pass is sure of. `suggestion` adds the likely ones it is not sure of, to offer as "Did you
    mean" when the search finds nothing. `corrected` says whether a word was respelled.
    """

    words: list[str] = field(default_factory=list)
    suggestion: list[str] = field(default_factory=list)
    corrected: bool = False


@dataclass(frozen=True)
class _Candidate:
    term: str
    distance: int
    info: Term

    def rank(self) -> tuple:
        """Closest first, then a word of titles or brand names, then the commonest."""
        return self.distance, not self.info.in_names, -self.info.products, self.term


def is_sure(word: str, best: _Candidate, others: list[_Candidate]) -> bool:
    """Whether `best` is surely what the shopper meant by `word` (see SURE_SLIPS_PER_LETTER)."""
    few_slips = best.distance < SURE_SLIPS_PER_LETTER * max(len(word), len(best.term))
    swap = best.distance == 1 and len(word) >= MIN_SWAP_LENGTH and is_swap(word, best.term)
    rival = any(
        other.distance == best.distance and other.info.products >= RIVAL_SHARE * best.info.products
        for other in others
        if other is not best
    )
    return (few_slips or swap) and not rival


def spell(word: str, vocabulary: Vocabulary) -> tuple[str, str | None, bool]:
    """(word to search, word to suggest, whether it was respelled) for one folded query word.

    A word is left alone when it is short or very long, all digits, or a prefix of an indexed word
    (the shopper may still be typing it). A Korean word loses its particle (korean_stem).
    Otherwise the candidates are the indexed words within one slip (two for long words where the
    backend finds them); the closest wins, then one found in titles and brand names, then the most
    common. It replaces the word when the pass is sure of it (is_sure); else, if it names products,
    it is only suggested; a word found only in descriptions ("care" for "cafe") is neither.
    """
    hangul = bool(_HANGUL.fullmatch(word))
    if word.isdigit() or len(word) > MAX_CORRECTABLE_LENGTH or (len(word) < MIN_CORRECTABLE_LENGTH and not hangul):
        return word, None, False
    known = vocabulary.is_known(word)
    stem = korean_stem(word, vocabulary.is_known, known=known) if hangul else None
    if stem:
        return stem, None, False
    if known or len(word) < MIN_CORRECTABLE_LENGTH:
        return word, None, False
    limit = allowed_distance(word, max_distance=vocabulary.max_distance)
    # A word one slip away at position i starts with word[:i], so slips past the longest known
    # prefix cannot name an indexed word: a few prefix probes spare hundreds of lookups.
    reach = known_prefix_length(word, vocabulary.is_known)
    candidates = edits1(word, up_to=reach) | set(vocabulary.similar(word))
    scored = [_Candidate(term, edit_distance(word, term), info) for term, info in vocabulary.terms(candidates).items()]
    scored = [candidate for candidate in scored if candidate.distance <= limit]
    if not scored:
        return word, None, False
    best = min(scored, key=_Candidate.rank)
    if is_sure(word, best, scored):
        return best.term, None, True
    return word, (best.term if best.info.in_names else None), False


def correct(query_words: list[str], vocabulary: Vocabulary) -> Spelling:
    """The spelling pass over a query's folded words (see spell())."""
    spelling = Spelling()
    for word in query_words:
        searched, suggested, respelled = spell(word, vocabulary)
        spelling.words.append(searched)
        spelling.suggestion.append(suggested or searched)
        spelling.corrected |= respelled
    return spelling
