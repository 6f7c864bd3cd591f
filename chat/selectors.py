"""Reads for chat: a conversation's messages as the shopper or staff see them, the inbox, and
what the store knows about the customer beside a conversation."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from .models import Conversation, Message
from .payloads import for_shopper


def message_data(message: Message) -> dict:
    """A message as the live stream and the page's script get it (plain text; the script
    makes links of URLs and never reads it as HTML). The payload is the shopper's view of it
    (`payloads.for_shopper`: the kinds they may see, amounts formatted, addresses checked); staff's
    pages render messages on the server and read only the id from here."""
    author = ""
    if message.sender == Message.Sender.AGENT and message.author_id:
        author = message.author.first_name or message.author.get_username()
    return {
        "type": "message", "id": message.pk, "sender": message.sender, "author": author,
        "body": message.body, "payload": for_shopper(message.payload), "note": message.is_note,
        "created_at": message.created_at.isoformat(), "seen": message.seen_at is not None,
    }


def shopper_messages(*, conversation: Conversation, after: int = 0, limit: int = 200) -> list[Message]:
    """What the shopper sees: every message but staff's internal notes, oldest first, after
    message id `after` (the cursor a reconnecting client sends)."""
    return list(
        conversation.messages.filter(is_note=False, pk__gt=after).select_related("author").order_by("pk")[:limit]
    )


def staff_messages(*, conversation: Conversation, after: int = 0) -> list[Message]:
    """The conversation's messages after `after` for the inbox, each with `shown`: its payload as
    staff see it (`payloads.for_staff`). One query, and one more when gift cards were sent."""
    from .payloads import for_staff, gift_card_ids

    messages = list(conversation.messages.filter(pk__gt=after).select_related("author").order_by("pk"))
    gift_cards = {}
    if ids := gift_card_ids(message.payload for message in messages):
        from giftcards.models import GiftCard

        gift_cards = GiftCard.objects.only("pk", "last4", "recipient_email").in_bulk(ids)
    for message in messages:
        message.shown = for_staff(message.payload, gift_cards=gift_cards)
    return messages


INBOX_VIEWS = {
    "open": Q(status=Conversation.Status.OPEN),
    "waiting": Q(status=Conversation.Status.WAITING),
    "resolved": Q(status=Conversation.Status.RESOLVED),
    "unassigned": Q(assignee__isnull=True, bot_active=False) & ~Q(status=Conversation.Status.RESOLVED),
    "bot": Q(bot_active=True) & ~Q(status=Conversation.Status.RESOLVED),
    # Not resolved, whoever's turn: with `mine`, the "Mine" tab (as `inbox_counts` counts it).
    "active": ~Q(status=Conversation.Status.RESOLVED),
    "all": Q(),
}


def inbox(*, view: str, user, channel: str = "", mine: bool = False, limit: int = 100) -> QuerySet[Conversation]:
    """Conversations for the inbox list, newest activity first, each with `unread` (the shopper's
    messages after staff last looked) and its customer: two queries whatever the length."""
    unread = Count("messages", filter=Q(messages__sender=Message.Sender.SHOPPER,
                                        messages__pk__gt=F("agent_last_seen_id")))
    queryset = (Conversation.objects.filter(INBOX_VIEWS.get(view, INBOX_VIEWS["open"]))
                .select_related("customer", "assignee").annotate(unread=unread))
    if channel:
        queryset = queryset.filter(channel=channel)
    if mine:
        queryset = queryset.filter(assignee=user)
    last = Message.objects.filter(conversation=OuterRef("pk"), is_note=False).order_by("-pk").values("body")[:1]
    return queryset.annotate(preview=Subquery(last)).order_by(F("last_message_at").desc(nulls_last=True), "-pk")[:limit]


def inbox_counts(*, user) -> dict[str, int]:
    """How many in each list, and how many conversations have unread messages: one query."""
    open_q = INBOX_VIEWS["active"]
    has_unread = Exists(Message.objects.filter(conversation=OuterRef("pk"), sender=Message.Sender.SHOPPER,
                                               pk__gt=OuterRef("agent_last_seen_id")))
    return Conversation.objects.annotate(has_unread=has_unread).aggregate(
        open=Count("pk", filter=INBOX_VIEWS["open"]),
        waiting=Count("pk", filter=INBOX_VIEWS["waiting"]),
        unassigned=Count("pk", filter=INBOX_VIEWS["unassigned"]),
        bot=Count("pk", filter=INBOX_VIEWS["bot"]),
        mine=Count("pk", filter=open_q & Q(assignee=user)),
        unread=Count("pk", filter=open_q & Q(has_unread=True)),
    )


def waiting_for(conversation: Conversation, now: datetime.datetime | None = None) -> datetime.timedelta | None:
    if conversation.waiting_since is None:
        return None
    return (now or timezone.now()) - conversation.waiting_since


@dataclass
class CustomerPanel:
    customer: object | None
    orders: list
    cart_lines: list
    cart_total: object


def customer_panel(*, conversation: Conversation) -> CustomerPanel:
    """What the store knows beside the conversation: the customer (lifetime value and segment
    are columns on it), their last five orders, and what is in their cart now. A fixed number
    of queries."""
    from decimal import Decimal

    from carts.models import CartLine
    from orders.models import Order

    customer = conversation.customer
    orders = []
    if customer is not None:
        orders = list(Order.objects.filter(customer=customer).order_by("-created_at", "-pk")[:5])
    cart_q = Q(cart_id=conversation.cart_id) if conversation.cart_id else Q(pk__in=[])
    if customer is not None and customer.user_id:
        cart_q |= Q(cart__user_id=customer.user_id)
    lines = list(CartLine.objects.filter(cart_q).select_related("variant__product").order_by("pk"))
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    return CustomerPanel(customer=customer, orders=orders, cart_lines=lines, cart_total=total)


def export_for_customer(customer) -> list[dict]:
    """A customer's conversations for their data download: every message, staff's internal notes
    included (the right of access covers them), authors as roles, not names. Two queries."""
    conversations = Conversation.objects.filter(customer=customer).prefetch_related("messages").order_by("created_at", "pk")
    return [
        {
            "channel": c.channel, "status": c.status, "started_at": c.created_at, "email": c.email,
            "rating": c.rating, "rating_comment": c.rating_comment, "page": c.page_url,
            "messages": [
                {"from": "staff" if m.sender == Message.Sender.AGENT else m.sender, "text": m.body,
                 "internal_note": m.is_note, "at": m.created_at,
                 **({"files": [{"name": f.get("name"), "type": f.get("content_type"), "bytes": f.get("size")}
                               for f in m.payload["attachments"]]} if (m.payload or {}).get("attachments") else {})}
                for m in c.messages.all()
            ],
        }
        for c in conversations
    ]


@dataclass
class Unanswered:
    key: str  # the question's meaningful words, folded and sorted: how questions are grouped
    count: int
    example: str
    last_asked: datetime.datetime
    variants: list[str]


def unanswered_questions(*, days: int = 30, limit: int = 2000) -> list[Unanswered]:
    """What the assistant could not answer in the last `days`, grouped by their meaningful words
    (the assistant's own folding: "Do you ship to Canada?" and "ship to canada" are one), most
    asked first. One query over at most `limit` answers."""
    from .assistant import _meaningful

    since = timezone.now() - datetime.timedelta(days=days)
    rows = (Message.objects.filter(sender=Message.Sender.BOT, created_at__gte=since, payload__has_key="unanswered")
            .order_by("-pk").values_list("payload", "created_at")[:limit])
    groups: dict[str, Unanswered] = {}
    for payload, created_at in rows:
        text = str(payload.get("unanswered", "")).strip()
        key = " ".join(sorted(_meaningful(text)))
        if not key:
            continue
        group = groups.get(key)
        if group is None:
            groups[key] = Unanswered(key=key, count=1, example=text, last_asked=created_at, variants=[text])
        else:
            group.count += 1
            if text not in group.variants and len(group.variants) < 5:
                group.variants.append(text)
    return sorted(groups.values(), key=lambda g: (-g.count, -g.last_asked.timestamp()))


@dataclass
class Figures:
    days: list[dict]  # {"day", "total", "by_channel": {channel: n}}
    channels: list[tuple[str, str]]
    conversations: int
    first_response_median: datetime.timedelta | None
    resolution_median: datetime.timedelta | None
    assistant_only_share: float | None
    rating_average: float | None
    ratings: int
    satisfied_share: float | None
    busiest: int
    attributed_orders: int = 0
    attributed_revenue: object = 0
    attributed_by_how: list | None = None  # [(label, orders)] for each way an order is attributed


ATTRIBUTION_DAYS = 7


def attributed_orders(*, since: datetime.datetime):
    """Paid orders placed since `since` that followed a conversation: those recorded when they
    were placed (`ConversationOrder`, `attribution.attribute_order`: the agent's cart link, the
    same browser's chat, a guest's too, or the customer's conversation within ATTRIBUTION_DAYS)."""
    from orders.models import Order

    return (Order.objects.filter(created_at__gte=since, chat_attribution__isnull=False)
            .exclude(payment_status=Order.PaymentStatus.UNPAID))


def orders_after(conversation: Conversation) -> list:
    """The orders recorded as following this conversation, newest first, with how."""
    return list(conversation.attributed_orders.select_related("order").order_by("-order__created_at", "-pk"))


def _median(values: list[datetime.timedelta]) -> datetime.timedelta | None:
    if not values:
        return None
    values = sorted(values)
    return values[len(values) // 2]


def chat_figures(*, days: int = 30) -> Figures:
    """The last `days` of conversations: how many a day by channel, the median time to a person's
    first reply and to resolution, the share the assistant handled alone (never handed to a person,
    no staff reply), satisfaction (average rating, share of 4 and 5), and the paid orders that
    followed a conversation with their revenue (`attributed_orders`). Three queries."""
    from django.db.models.functions import TruncDate

    from .models import Channel

    since = timezone.now() - datetime.timedelta(days=days)
    recent = Conversation.objects.filter(created_at__gte=since)
    per_day: dict = {}
    for row in recent.annotate(day=TruncDate("created_at")).values("day", "channel").annotate(n=Count("pk")):
        entry = per_day.setdefault(row["day"], {"day": row["day"], "total": 0, "by_channel": {}})
        entry["by_channel"][row["channel"]] = row["n"]
        entry["total"] += row["n"]
    rows = list(recent.values_list("created_at", "first_reply_at", "resolved_at", "bot_active", "rating"))
    first = [reply - created for created, reply, _r, _b, _x in rows if reply]
    resolution = [resolved - created for created, _f, resolved, _b, _x in rows if resolved]
    alone = sum(1 for _c, reply, _r, bot, _x in rows if bot and reply is None)
    ratings = [rating for *_rest, rating in rows if rating]
    ordered = [per_day[day] for day in sorted(per_day)]
    from decimal import Decimal

    from django.db.models import Sum

    from .models import ConversationOrder

    ways = ConversationOrder.How
    attributed = attributed_orders(since=since).aggregate(
        n=Count("pk"), revenue=Sum("total"),
        **{way.value: Count("pk", filter=Q(chat_attribution__how=way.value)) for way in ways})
    return Figures(
        attributed_orders=attributed["n"], attributed_revenue=attributed["revenue"] or Decimal("0"),
        attributed_by_how=[(way.label, attributed[way.value]) for way in ways],
        days=ordered, channels=list(Channel.choices), conversations=len(rows),
        first_response_median=_median(first), resolution_median=_median(resolution),
        assistant_only_share=alone / len(rows) if rows else None,
        rating_average=sum(ratings) / len(ratings) if ratings else None, ratings=len(ratings),
        satisfied_share=sum(1 for r in ratings if r >= 4) / len(ratings) if ratings else None,
        busiest=max((d["total"] for d in ordered), default=0),
    )
