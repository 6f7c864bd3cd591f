"""Pick-up codes: six digits derived from a pick-up's salt with SECRET_KEY, never stored."""
from __future__ import annotations

import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

DIGITS = 6


def new_salt() -> str:
    return secrets.token_hex(16)


def pickup_code(*, order_id: int, salt: str) -> str:
    """The code for this pick-up: what the email shows and the counter checks."""
    digest = salted_hmac("pickup.code", f"{order_id}:{salt}", algorithm="sha256").hexdigest()
    return f"{int(digest, 16) % 10 ** DIGITS:0{DIGITS}d}"


def matches(*, order_id: int, salt: str, given: str) -> bool:
    """Whether `given` (spaces and dashes ignored, as people read codes out) is the code."""
    cleaned = "".join(ch for ch in (given or "") if ch.isdigit())
    return constant_time_compare(cleaned, pickup_code(order_id=order_id, salt=salt))
