"""Gift card codes: random, unguessable, typed by people, stored only as a keyed hash.

The alphabet leaves out symbols people confuse when reading or typing (0/O, 1/I/L, U/V): 29
symbols, 16 of them (about 78 bits) in groups of four ("K7QX-9MPD-WH4R-T2NE"). What a person
types is normalised first: case, spaces and dashes do not matter. The database keeps
an HMAC of the normalised code (a leaked table gives no usable code) and its last four symbols
for display.
"""
from __future__ import annotations

import secrets

from django.utils.crypto import salted_hmac

ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"  # no 0 O 1 I L U V
LENGTH = 16
GROUP = 4
_SALT = "giftcards.code"


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(typed: str) -> str:
    return "".join(ch for ch in (typed or "").upper() if ch.isalnum())


def looks_like_code(typed: str) -> bool:
    code = normalise(typed)
    return len(code) == LENGTH and all(ch in ALPHABET for ch in code)


def code_hash(typed: str) -> str:
    return salted_hmac(_SALT, normalise(typed), algorithm="sha256").hexdigest()


def last_four(code: str) -> str:
    return normalise(code)[-GROUP:]


def masked(last4: str) -> str:
    return f"••••-••••-••••-{last4}" if last4 else ""
