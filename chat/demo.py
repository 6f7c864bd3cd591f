"""Demo FAQ entries and canned replies, so the assistant answers something on a fresh store.
Idempotent: entries are matched by their question or shortcut and never overwritten."""
from __future__ import annotations

from .models import CannedReply, FaqEntry

FAQ = [
    ("What is your returns policy?", "Can I return an item?\nHow do I send something back?\nrefund",
     "You can return anything unused within 30 days for a full refund. Start from your order's page "
     "(the link is in your order email), or ask us here."),
    ("How long does shipping take?", "When will my order arrive?\ndelivery time\nDo you ship abroad?",
     "Orders leave our warehouse within one working day; delivery takes 2 to 4 working days in the US. "
     "You can see the options and prices at checkout before you pay."),
    ("Can I pick up my order in a shop?", "click and collect\npickup\ncollect in store",
     "Yes: choose pick-up at checkout and collect it free in one of our shops once we email you it is ready."),
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
