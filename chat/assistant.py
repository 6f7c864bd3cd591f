"""The built-in assistant: the first responder in a conversation, with no outside service.

It understands quick-reply actions and free text:
- "talk to a person" (any time), and a hand-off offered after two answers the shopper did not accept;
- "where is my order": a signed-in shopper picks from their orders; a guest gives the order number
  and the email on it, both must match, attempts are limited, and a wrong pair says only that no
  such order was found;
- finding products: "waterproof jacket under 150 in M" -> the product search, a price limit and
  option values as facets -> up to three product cards;
- shipping, pick-up and returns, answered from the store's settings (`policies.py`) when no FAQ
  entry staff wrote answers it better;
- questions answered by staff's FAQ entries, matched with the search's own word handling (folding,
  words, one-typo tolerance) and a confidence threshold below which it says it is not sure.
With `CHAT_LLM_URL` set, free text that no quick reply or pending question claims goes to the
language model first (`llm.py`), which may call only these same functions; it falls back here.
Whatever it says goes through `services.add_bot_message`, like everyone else's messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.search.query import comparable, edit_distance

from . import policies, services
from .models import Conversation, FaqEntry, Message

FAQ_THRESHOLD = 0.5
ORDER_LOOKUPS_PER_HOUR = 5

STOP_WORDS = {
    "a", "an", "the", "i", "me", "my", "you", "your", "we", "our", "is", "are", "am", "be", "do", "does",
    "can", "could", "would", "will", "to", "of", "for", "in", "on", "at", "it", "its", "and", "or", "with",
    "what", "how", "when", "where", "which", "who", "please", "hi", "hello", "hey", "there", "thanks",
    "want", "need", "looking", "find", "show", "some", "any", "have", "has", "get", "size", "under",
    "below", "less", "than", "over", "above", "up", "max", "about", "this", "that", "im", "i'm",
}

PERSON = re.compile(r"\b(person|human|agent|somebody|someone|staff|real|operator|representative|talk to)\b", re.I)
# "Where is my order", not every sentence with "my order" in it ("can I collect my order in store?"
# is a question for the FAQ).
ORDER = re.compile(r"\b(where\s*(is|'s)\s+my\s+(order|parcel|package)|order\s+status|track(ing)?\s+(my\s+)?order)\b", re.I)
PRODUCT = re.compile(r"\b(looking for|find|show me|do you have|need|want|buy|under|below|cheaper than)\b", re.I)
ORDER_NUMBER = re.compile(r"\b([0-9A-Za-z]{4})-([0-9A-Za-z]{4})\b")
EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")
PRICE_MAX = re.compile(r"\b(?:under|below|less than|cheaper than|up to|max(?:imum)?)\s*\$?\s*(\d+(?:[.,]\d{1,2})?)", re.I)
PRICE_MIN = re.compile(r"\b(?:over|above|more than|from|at least)\s*\$?\s*(\d+(?:[.,]\d{1,2})?)", re.I)


def quick_replies(*actions: tuple[str, str]) -> list[dict]:
    return [{"label": label, "action": action} for label, action in actions]


def menu() -> list[dict]:
    return quick_replies(
        (_("Where is my order?"), "order_status"), (_("Find a product"), "find_products"),
        (_("Talk to a person"), "person"),
    )


@dataclass
class Turn:
    """What the shopper sent: free text, or a quick reply's action (with its value)."""

    text: str = ""
    action: str = ""
    value: str = ""


def respond(*, conversation: Conversation, turn: Turn, user=None, rate_key: str = "") -> None:
    """Answer the shopper's last turn if the assistant still answers this conversation."""
    conversation.refresh_from_db()
    if not conversation.bot_active:
        # After a hand-off outside opening hours the system asked for an email address.
        if not conversation.email and EMAIL.search(turn.text) and _last_asked_email(conversation):
            _give_email(conversation, turn)
        return
    expecting = _expecting(conversation)
    action = turn.action
    if not action:
        if PERSON.search(turn.text):
            action = "person"
        elif expecting == "order_lookup" or ORDER_NUMBER.search(turn.text) and EMAIL.search(turn.text):
            action = "order_lookup"
        elif expecting == "product_query":
            action = "product_query"
        elif expecting == "email" and EMAIL.search(turn.text):
            action = "give_email"
    handler = {
        "person": _person, "order_status": _order_status, "order_pick": _order_pick,
        "order_lookup": _order_lookup, "find_products": _find_products, "product_query": _products,
        "accept": _accept, "reject": _reject, "give_email": _give_email, "menu": _menu,
    }.get(action)
    if handler is not None:
        handler(conversation, turn, user=user, rate_key=rate_key)
        return
    from . import llm

    if (llm.enabled() and not turn.action and turn.text.strip()
            and llm.answer(conversation=conversation, text=turn.text, user=user, rate_key=rate_key)):
        return
    if ORDER.search(turn.text):
        _order_status(conversation, turn, user=user, rate_key=rate_key)
    elif _answer_from_faq(conversation, turn.text):
        return
    elif topic := policies.topic_of(turn.text):
        _policy(conversation, topic)
    elif PRODUCT.search(turn.text) or PRICE_MAX.search(turn.text):
        _products(conversation, turn, user=user, rate_key=rate_key)
    else:
        _not_sure(conversation, turn.text)


def _expecting(conversation: Conversation) -> str:
    last = conversation.messages.filter(sender=Message.Sender.BOT).order_by("-pk").values_list("payload", flat=True).first()
    return (last or {}).get("expect", "")


def _last_asked_email(conversation: Conversation) -> bool:
    last = (conversation.messages.filter(sender__in=[Message.Sender.BOT, Message.Sender.SYSTEM], is_note=False)
            .order_by("-pk").values_list("payload", flat=True).first())
    return bool((last or {}).get("ask_email"))


def _say(conversation: Conversation, body: str, **payload) -> Message:
    return services.add_bot_message(conversation=conversation, body=body, payload=payload)


def _menu(conversation, turn, **kwargs) -> None:
    _say(conversation, _("How can I help?"), quick_replies=menu())


def _person(conversation, turn, **kwargs) -> None:
    services.hand_off(conversation=conversation, reason=_("the shopper asked for a person"))


def _give_email(conversation, turn, **kwargs) -> None:
    email = EMAIL.search(turn.text)[0].strip(".,;")
    services.set_email(conversation=conversation, email=email)
    _say(conversation, _("Thank you. We will answer here and at %(email)s.") % {"email": email})


def _accept(conversation, turn, **kwargs) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(bot_misses=0)
    _say(conversation, _("Glad I could help. Anything else?"), quick_replies=menu())


def _reject(conversation, turn, **kwargs) -> None:
    # The question the rejected answer was for: the shopper's message before this one.
    asked = (conversation.messages.filter(sender=Message.Sender.SHOPPER).order_by("-pk")
             .values_list("body", flat=True)[1:2].first())
    _missed(conversation, _("Sorry about that."), unanswered=asked or "")


def _missed(conversation: Conversation, opening: str, *, unanswered: str = "") -> None:
    """An answer the shopper did not accept: at the second in a row, offer a person. The question
    it could not answer is kept on the message (`unanswered`) for staff's list."""
    extra = {"unanswered": unanswered[:300]} if unanswered.strip() else {}
    Conversation.objects.filter(pk=conversation.pk).update(bot_misses=conversation.bot_misses + 1)
    conversation.refresh_from_db()
    if conversation.bot_misses >= 2:
        _say(conversation, opening + " " + _("Shall I bring in a person from our team?"),
             quick_replies=quick_replies((_("Yes, a person please"), "person"), (_("No, thanks"), "menu")), **extra)
    else:
        _say(conversation, opening + " " + _("Could you say it another way, or pick one of these?"),
             quick_replies=menu(), **extra)


def _not_sure(conversation: Conversation, text: str) -> None:
    _missed(conversation, _("I am not sure I understood."), unanswered=text)


# --- Orders ----------------------------------------------------------------------------------


def order_card(order, *, signed: bool) -> dict:
    """An order link's payload (the assistant's and staff's): its state and total when sent, and
    `pay` while it awaits payment (the card's button then says "Pay now"; the order page it opens
    offers the payment if it still can)."""
    from orders.links import signed_order_url

    url = signed_order_url(order) if signed else reverse("orders:detail", args=[order.number])
    return {"number": order.number, "url": url, "status": order.get_state_display(),
            "placed": timezone.localtime(order.created_at).date().isoformat(),
            "total": str(order.total), "currency": order.currency, "pay": order.is_awaiting_payment}


def _order_status(conversation, turn, *, user=None, **kwargs) -> None:
    from orders.models import Order

    if user is not None and user.is_authenticated:
        orders = list(Order.objects.filter(user=user).order_by("-created_at", "-pk")[:5])
        if orders:
            _say(conversation, _("Which order? Here are your latest."),
                 quick_replies=[{"label": o.number, "action": "order_pick", "value": o.number} for o in orders])
            return
    _say(conversation, _("Please send your order number (like 7KQ2-M4XD) and the email address you ordered with."),
         expect="order_lookup")


def _order_pick(conversation, turn, *, user=None, **kwargs) -> None:
    from orders.models import Order

    order = None
    if user is not None and user.is_authenticated:
        order = Order.objects.filter(user=user, number=turn.value.upper()).first()
    if order is None:
        _say(conversation, _("I could not find that order in your account."), quick_replies=menu())
        return
    _tell_order(conversation, order, signed=False)


def _tell_order(conversation: Conversation, order, *, signed: bool) -> None:
    _say(conversation, _("Order %(number)s: %(status)s.") % {"number": order.number, "status": order.get_state_display()},
         orders=[order_card(order, signed=signed)],
         quick_replies=quick_replies((_("That helped"), "accept"), (_("Talk to a person"), "person")))


class TooManyLookups(Exception):
    """A visitor's order lookups are over the hourly limit."""


def verified_order(*, number: str, email: str, user=None, rate_key: str, conversation: Conversation):
    """The order a shopper may be told about, or None. Signed in: one of their own orders by
    number. Otherwise number and email must match one order; five tries an hour per visitor
    (TooManyLookups past that), and a wrong number and a wrong email look the same. Both the
    built-in responder and the language model's `lookup_order` tool come through here."""
    from orders.models import Order

    number = number.strip().upper()
    if user is not None and user.is_authenticated:
        own = Order.objects.filter(user=user, number=number).first()
        if own is not None:
            return own
    if not number or not email:
        return None
    key = f"chat:order-lookups:{rate_key or conversation.pk}"
    cache.add(key, 0, 3600)
    if cache.incr(key) > ORDER_LOOKUPS_PER_HOUR:
        raise TooManyLookups
    return Order.objects.filter(number=number, email__iexact=email.strip().strip(".,;")).first()


def _order_lookup(conversation, turn, *, rate_key: str = "", **kwargs) -> None:
    """A guest's order number and email: both must match one order. Five tries an hour per
    visitor; a wrong pair and an unknown number get the same answer."""
    number, email = ORDER_NUMBER.search(turn.text), EMAIL.search(turn.text)
    if number is None or email is None:
        _say(conversation, _("I need both the order number (like 7KQ2-M4XD) and the email address on the order."),
             expect="order_lookup")
        return
    try:
        order = verified_order(number=f"{number[1]}-{number[2]}", email=email[0], rate_key=rate_key,
                               conversation=conversation)
    except TooManyLookups:
        _say(conversation, _("Too many tries. Please wait an hour, or talk to a person."),
             quick_replies=quick_replies((_("Talk to a person"), "person")))
        return
    if order is None:
        _say(conversation, _("I could not find an order with that number and email address. Please check both."),
             expect="order_lookup", quick_replies=quick_replies((_("Talk to a person"), "person")))
        return
    _tell_order(conversation, order, signed=True)


# --- Policies --------------------------------------------------------------------------------


def _policy(conversation: Conversation, topic: str) -> None:
    _say(conversation, policies.answer(topic), policy=topic,
         quick_replies=quick_replies((_("That helped"), "accept"), (_("Not what I asked"), "reject")))


# --- Products --------------------------------------------------------------------------------


def _find_products(conversation, turn, **kwargs) -> None:
    _say(conversation, _("What are you looking for? For example: waterproof jacket under 150 in M."),
         expect="product_query")


def _money(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def parse_product_query(text: str):
    """Free text -> (search words, ListingFilters): a price limit and option values as facets."""
    from catalog.models import OptionValue
    from catalog.selectors import ListingFilters

    filters = ListingFilters()
    if found := PRICE_MAX.search(text):
        filters.price_max = _money(found[1])
        text = text.replace(found[0], " ")
    if found := PRICE_MIN.search(text):
        filters.price_min = _money(found[1])
        text = text.replace(found[0], " ")
    tokens = comparable(text).split()
    candidates = {t for t in tokens if t not in STOP_WORDS or len(t) <= 3}
    values = OptionValue.objects.filter(slug__in=candidates).select_related("option") if candidates else []
    used = set()
    for value in values:
        filters.options.setdefault(value.option.slug, []).append(value.slug)
        used.add(value.slug)
    words = [t for t in tokens if t not in used and t not in STOP_WORDS and not t.isdigit()]
    return " ".join(words), filters


def find_products(text: str, *, limit: int = 3) -> list[dict]:
    """Product cards for a shopper's description: the search ranks, the facets narrow."""
    from catalog import search
    from catalog.selectors import apply_filters, cards_in_order, published_products, ranked_matches

    from .payloads import product_cards

    query, filters = parse_product_query(text)
    if not query:
        return []
    ids = search.search(query, limit=200).ids
    if not ids:
        return []
    matching = ranked_matches(apply_filters(published_products(), filters), ids)[:limit]
    variants = _variants_to_add(matching, filters)
    # One variant fits what was asked: it can go to the cart from the chat, if that variant is in stock.
    return product_cards(cards_in_order(matching), chosen=variants)


def _variants_to_add(product_ids: list[int], filters) -> dict[int, int]:
    """For each product, its one active variant that has every option value asked for (none when
    several fit: the shopper picks on the product page). One query and one prefetch."""
    from catalog.models import Variant

    fitting: dict[int, list[int]] = {}
    for variant in Variant.objects.filter(product_id__in=product_ids, is_active=True).prefetch_related("option_values__option"):
        values = {(v.option.slug, v.slug) for v in variant.option_values.all()}
        if all(any((option, slug) in values for slug in slugs) for option, slugs in filters.options.items()):
            fitting.setdefault(variant.product_id, []).append(variant.pk)
    return {product: ids[0] for product, ids in fitting.items() if len(ids) == 1}


def _products(conversation, turn, **kwargs) -> None:
    cards = find_products(turn.text)
    if not cards:
        _missed(conversation, _("I found nothing matching that."), unanswered=turn.text)
        return
    _say(conversation, _("Here is what I found:"), cards=cards,
         quick_replies=quick_replies((_("That helped"), "accept"), (_("Not what I want"), "reject")))


# --- FAQ -------------------------------------------------------------------------------------


def _meaningful(text: str) -> set[str]:
    return {w for w in comparable(text).split() if w not in STOP_WORDS}


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) >= 5 and len(b) >= 5:
        return edit_distance(a, b) <= 1 or a[:5] == b[:5] and abs(len(a) - len(b)) <= 3
    return False


def faq_score(question: str, phrasing: str) -> float:
    """How well `phrasing` answers `question`: the Dice overlap of their meaningful words, a word
    matching despite one typo or a plural ("return" ~ "returns")."""
    asked, known = _meaningful(question), _meaningful(phrasing)
    if not asked or not known:
        return 0.0
    matched = sum(1 for word in asked if any(_same_word(word, other) for other in known))
    return 2 * matched / (len(asked) + len(known))


def best_faq(text: str) -> tuple[FaqEntry | None, float]:
    best, best_score = None, 0.0
    for entry in FaqEntry.objects.filter(is_active=True):
        score = max(faq_score(text, phrasing) for phrasing in entry.phrasings())
        if score > best_score:
            best, best_score = entry, score
    return best, best_score


def _answer_from_faq(conversation: Conversation, text: str) -> bool:
    entry, score = best_faq(text)
    if entry is None or score < FAQ_THRESHOLD:
        return False
    FaqEntry.objects.filter(pk=entry.pk).update(times_used=entry.times_used + 1)
    _say(conversation, entry.answer, faq=entry.pk,
         quick_replies=quick_replies((_("That helped"), "accept"), (_("Not what I asked"), "reject")))
    return True



def greeting() -> str:
    return _("Hi! I am the %(store)s assistant. Ask me anything, or pick one:") % {"store": settings.STORE_NAME}
