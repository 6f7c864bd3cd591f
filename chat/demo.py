"""Demo FAQ entries and canned replies, so the assistant answers something on a fresh store.
Shipping, pick-up and returns are not here: the assistant answers those from the store's own
settings (`policies.py`), so a demo FAQ entry would only hide them behind typed-in text.
Idempotent: entries are matched by their question or shortcut and never overwritten."""
from __future__ import annotations

from .models import CannedReply, FaqEntry

FAQ = [
    ("Which payment methods do you take?", "Can I pay by card?\npayment options",
     "We take all major cards. You pay on a secure page after reviewing your order."),
]

CANNED = [
    ("hello", "Hi {first_name}, this is {agent_name} from {store_name}. How can I help?"),
    ("order", "I have looked at your order {last_order}: "),
    ("thanks", "Thank you for getting in touch, {first_name}. Is there anything else I can do for you?"),
]


def seed_demo_chat() -> tuple[int, int]:
    """Create the demo FAQ entries and canned replies that do not exist yet; return how many."""
    faq = sum(FaqEntry.objects.get_or_create(question=q, defaults={"variants": v, "answer": a})[1] for q, v, a in FAQ)
    canned = sum(CannedReply.objects.get_or_create(shortcut=s, defaults={"body": b})[1] for s, b in CANNED)
    return faq, canned
