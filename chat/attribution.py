"""Which conversation an order followed, recorded when the order is placed (`ConversationOrder`).

Checkout calls `attribute_order` once the order has committed (`checkout.views.place`). In order:

1. **cart link**: the shopper pressed the button of a cart an agent built as a link
   (`views.cart_link`); the session remembers that conversation (`remember_cart_link`) until an
   order uses it, for ATTRIBUTION_DAYS;
2. **same visitor**: this browser's chat cookie (`identity.visitor_key`, a guest's too) has a
   conversation started within ATTRIBUTION_DAYS before the order;
3. **same customer**: the order's customer has one.

The latest such conversation wins. An order is attributed at most once (a replayed checkout POST
finds the row), so the figures count each order once whatever the rules read later.
"""
from __future__ import annotations

import datetime
import time

from django.db import IntegrityError, transaction
from .models import CartLink, Conversation, ConversationOrder, cart_link_key
from .selectors import ATTRIBUTION_DAYS

CART_LINK_SESSION_KEY = "chat_cart_link"


def conversation_of_cart_link(token: str) -> Conversation | None:
    """The conversation an agent sent this cart link in (its `CartLink`, by the token's digest
    through an index; the latest when the same link was sent twice). One query."""
    link = CartLink.objects.filter(key=cart_link_key(token)).select_related("conversation").order_by("-pk").first()
    return link.conversation if link is not None else None


def remember_cart_link(*, session, conversation: Conversation) -> None:
    session[CART_LINK_SESSION_KEY] = {"conversation": conversation.pk, "at": int(time.time())}


def _from_cart_link(session) -> Conversation | None:
    remembered = session.get(CART_LINK_SESSION_KEY)
    if not isinstance(remembered, dict):
        return None
    if time.time() - remembered.get("at", 0) > ATTRIBUTION_DAYS * 86400:
        return None
    return Conversation.objects.filter(pk=remembered.get("conversation")).first()


def attribute_order_after_response(*, order, session, visitor_key: str) -> None:
    """Checkout's call: `attribute_order` after the response (`shop.background`), so placing an
    order spends no query on it. The session's cart link is taken now (the session is the
    request's; no query) and forgotten; a guest with neither a chat cookie nor a cart link costs
    nothing at all. Without the background thread (management commands, tests) it runs here."""
    from shop import background

    remembered = session.pop(CART_LINK_SESSION_KEY, None)
    if remembered is None and not visitor_key and not order.customer_id:
        return
    carried = {CART_LINK_SESSION_KEY: remembered} if remembered is not None else {}
    background.submit(lambda: attribute_order(order=order, session=carried, visitor_key=visitor_key),
                      name="chat-attribution")


def attribute_order(*, order, session, visitor_key: str) -> ConversationOrder | None:
    """Record which conversation `order` followed (see the module docstring), or nothing when none
    did. Call it after the order committed; idempotent (the order is unique among the rows: a
    replay returns the row as it is). Forgets the session's cart link once an order used it.
    A guest with neither a chat cookie nor a cart link costs no query; a customer one."""
    window = Conversation.objects.filter(
        created_at__lte=order.created_at, created_at__gte=order.created_at - datetime.timedelta(days=ATTRIBUTION_DAYS))
    how = ConversationOrder.How
    found, way = _from_cart_link(session), how.CART_LINK
    if found is None and visitor_key:
        found, way = window.filter(visitor_key=visitor_key).order_by("-created_at", "-pk").first(), how.SAME_VISITOR
    if found is None and order.customer_id:
        found, way = window.filter(customer_id=order.customer_id).order_by("-created_at", "-pk").first(), how.SAME_CUSTOMER
    if found is None:
        return None
    session.pop(CART_LINK_SESSION_KEY, None)
    try:
        with transaction.atomic():
            return ConversationOrder.objects.create(conversation=found, order=order, how=way)
    except IntegrityError:  # recorded already (a replayed checkout POST, or its concurrent twin)
        return ConversationOrder.objects.filter(order=order).first()
