"""Reads for campaigns: each customer's product picks, and what a campaign's messages came to.

Everything here costs a fixed number of queries, however many customers or messages it covers.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from catalog.models import Product, Variant
from customers.models import ConsentRecord
from notifications.links import absolute_url
from orders.models import Order, OrderLine, paid_orders
from shop.money import format_money

from .models import Campaign, CampaignMessage

PICKS_PER_CUSTOMER = 4

# Orders whose goods the customer had: what they bought is not offered again, and its
# categories say what they like. Unpaid, cancelled and expired orders say neither.


# --- Picks ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pick:
    """A product as a campaign shows it: plain values only (templates staff write see nothing else)."""

    product_id: int
    title: str
    url: str
    price: str


class Picks(list):
    """A customer's picks. `{{ picks }}` is one line per product in a text body (this class) and a
    ready list of links in an HTML body (`as_html()`); `{% for pick in picks %}` gives
    `pick.title`, `pick.url` and `pick.price` in both."""

    def __str__(self) -> str:
        return "\n".join(f"- {pick.title} ({pick.price}): {pick.url}" for pick in self)

    def as_html(self) -> HtmlPicks:
        return HtmlPicks(self)


class HtmlPicks(Picks):
    # The template engine str()s a value before escaping it, so __str__ itself must be the safe HTML.
    def __str__(self) -> SafeString:
        if not self:
            return mark_safe("")
        items = format_html_join(
            "", '<li><a href="{}">{}</a> {}</li>', ((pick.url, pick.title, pick.price) for pick in self)
        )
        return format_html("<ul>{}</ul>", items)

    __html__ = __str__


@dataclass(frozen=True)
class _Candidate:
    product_id: int
    category_id: int
    units_sold: int
    pick: Pick

    @property
    def rank(self) -> tuple[int, int]:
        return (-self.units_sold, self.product_id)


def picks_for_customers(*, customer_ids: Iterable[int], limit: int = PICKS_PER_CUSTOMER) -> dict[int, Picks]:
    """Up to `limit` products for each customer, best-sellers first: from the categories they
    bought from, products they have not bought, published and in stock; topped up from the
    store's best-sellers (still never one they bought). Every given id gets an entry.

    Three queries at most (plus the cached category tree), whatever the number of customers:
    what they bought, the best-sellers of those categories, and the store's best-sellers.
    """
    customer_ids = list(dict.fromkeys(customer_ids))
    bought: dict[int, set[int]] = defaultdict(set)
    categories: dict[int, set[int]] = defaultdict(set)
    # How many products one customer bought in one category: each category's candidates must
    # reach past that many to still hold `limit` the customer has not bought.
    per_category: dict[tuple[int, int], int] = defaultdict(int)
    if customer_ids:
        lines = (
            OrderLine.objects.filter(paid_orders("order__"), order__customer_id__in=customer_ids,
                                     variant__isnull=False)
            .values_list("order__customer_id", "variant__product_id", "variant__product__category_id")
            .distinct()
        )
        for customer_id, product_id, category_id in lines:
            bought[customer_id].add(product_id)
            categories[customer_id].add(category_id)
            per_category[customer_id, category_id] += 1

    by_category: dict[int, list[_Candidate]] = defaultdict(list)
    all_categories = set().union(*categories.values()) if categories else set()
    if all_categories:
        depth = limit + max(per_category.values())
        ranked = _on_sale().filter(category_id__in=all_categories).annotate(
            rank=Window(RowNumber(), partition_by=[F("category_id")], order_by=[F("units_sold").desc(), F("pk").asc()])
        ).filter(rank__lte=depth)
        for candidate in _candidates(ranked):
            by_category[candidate.category_id].append(candidate)

    result: dict[int, Picks] = {}
    short: list[int] = []
    for customer_id in customer_ids:
        pool = {c.product_id: c for category in categories[customer_id] for c in by_category[category]
                if c.product_id not in bought[customer_id]}
        result[customer_id] = Picks(c.pick for c in sorted(pool.values(), key=lambda c: c.rank)[:limit])
        if len(result[customer_id]) < limit:
            short.append(customer_id)

    if short:
        depth = limit + max(len(bought[customer_id]) for customer_id in short)
        best_sellers = _candidates(_on_sale().order_by("-units_sold", "pk")[:depth])
        for customer_id in short:
            picks = result[customer_id]
            taken = bought[customer_id] | {pick.product_id for pick in picks}
            picks.extend(c.pick for c in best_sellers if c.product_id not in taken)
            del picks[limit:]
    return result


def _on_sale() -> QuerySet[Product]:
    return Product.objects.published().in_stock()


def _candidates(products: QuerySet[Product]) -> list[_Candidate]:
    cheapest = Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price", "pk")
    rows = products.annotate(price=Subquery(cheapest.values("price")[:1])).only(
        "pk", "title", "slug", "category_id", "units_sold"
    )
    return [
        _Candidate(
            product_id=product.pk, category_id=product.category_id, units_sold=product.units_sold,
            pick=Pick(product_id=product.pk, title=product.title, url=absolute_url(product.get_absolute_url()),
                      price=format_money(product.price)),
        )
        for product in rows
    ]


# --- Counts -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CampaignCounts:
    recipients: int
    pending: int
    sent: int
    failed: int
    skipped: int
    unsubscribed: int


def campaign_counts(*, campaign: Campaign) -> CampaignCounts:
    """What the campaign's messages came to, in two queries.

    `unsubscribed` counts the recipients who withdrew consent through an unsubscribe link after
    this campaign reached them and before any later campaign did: the last campaign someone
    received before unsubscribing is the one that lost them. (A ConsentRecord does not say which
    email's link was used, and counting every withdrawal after the send would credit one
    unsubscribe to every campaign sent before it.)
    """
    S = CampaignMessage.Status
    figures = campaign.messages.aggregate(
        recipients=Count("pk"),
        pending=Count("pk", filter=Q(status=S.PENDING)),
        sent=Count("pk", filter=Q(status=S.SENT)),
        failed=Count("pk", filter=Q(status=S.FAILED)),
        skipped=Count("pk", filter=Q(status=S.SKIPPED)),
    )
    later_campaign = CampaignMessage.objects.filter(
        customer_id=OuterRef(OuterRef("customer_id")), status=S.SENT,
        sent_at__gt=OuterRef(OuterRef("sent_at")), sent_at__lte=OuterRef("created_at"),
    )
    withdrawal = ConsentRecord.objects.filter(
        customer_id=OuterRef("customer_id"), purpose=ConsentRecord.Purpose.MARKETING_EMAIL, granted=False,
        source=ConsentRecord.Source.UNSUBSCRIBE_LINK, created_at__gte=OuterRef("sent_at"),
    ).filter(~Exists(later_campaign))
    unsubscribed = campaign.messages.filter(status=S.SENT).filter(Exists(withdrawal)).count()
    return CampaignCounts(unsubscribed=unsubscribed, **figures)


def with_message_counts(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """`campaigns` with `sent_count`, `failed_count` and `pending_count`: a subquery per figure,
    evaluated only for the rows of the page (a join and GROUP BY would count every campaign's
    messages before LIMIT applies)."""
    def count(status: str) -> Coalesce:
        return Coalesce(Subquery(
            CampaignMessage.objects.filter(campaign=OuterRef("pk"), status=status)
            .order_by().values("campaign").annotate(n=Count("pk")).values("n")
        ), 0)

    S = CampaignMessage.Status
    return campaigns.annotate(
        sent_count=count(S.SENT), failed_count=count(S.FAILED), pending_count=count(S.PENDING)
    )
