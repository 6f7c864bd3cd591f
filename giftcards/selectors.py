"""Reads for gift cards: what a checkout's cards would pay, how an order was paid, a shopper's
cards, and the ledger check."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import (
    BooleanField, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value,
)
from django.db.models.functions import Coalesce

from shop.money import currency_code

from .exceptions import GiftCardError
from .models import GiftCard, GiftCardProduct, GiftCardTransaction

SESSION_KEY = "gift_cards"  # the ids of the cards the shopper entered at checkout, in order
RECIPIENT_SESSION_KEY = "gift_card_recipient"
MAX_CARDS = 5
PRODUCT_IDS_CACHE_KEY = "giftcards:product_ids"


@dataclass(frozen=True)
class AppliedCard:
    card: GiftCard
    amount: Decimal  # what it would pay of this checkout
    problem: str = ""  # why it pays nothing now (spent meanwhile, expired), for the shopper


@dataclass(frozen=True)
class CheckoutCards:
    cards: list[AppliedCard]
    covered: Decimal
    due: Decimal  # what is left for the card payment


def checkout_cards(*, session, total: Decimal) -> CheckoutCards:
    """The cards in the checkout session and what each would pay of `total`, in the order entered,
    each at most its balance (what `payments.services.pay_with_gift_cards` takes at placement). No
    query when no card was entered; one otherwise."""
    from .services import check_usable

    ids = [pk for pk in session.get(SESSION_KEY, []) if isinstance(pk, int)]
    if not ids:
        return CheckoutCards(cards=[], covered=Decimal("0"), due=total)
    by_pk = {card.pk: card for card in GiftCard.objects.filter(pk__in=ids)}
    remaining = total
    applied = []
    for pk in ids:
        card = by_pk.get(pk)
        if card is None:
            continue
        try:
            check_usable(card, currency=currency_code())
        except GiftCardError as error:
            applied.append(AppliedCard(card=card, amount=Decimal("0"), problem=str(error)))
            continue
        take = min(card.balance, remaining)
        remaining -= take
        applied.append(AppliedCard(card=card, amount=take))
    return CheckoutCards(cards=applied, covered=total - remaining, due=remaining)


def gift_card_product_ids() -> frozenset[int]:
    """Products sold as gift cards: a handful, read once and cached (cleared when one changes)."""
    ids = cache.get(PRODUCT_IDS_CACHE_KEY)
    if ids is None:
        ids = frozenset(GiftCardProduct.objects.values_list("product_id", flat=True))
        cache.set(PRODUCT_IDS_CACHE_KEY, ids, 3600)
    return ids


@dataclass(frozen=True)
class Instrument:
    label: str  # "Gift card ••••-••••-••••-K7QX", "Card (Demo (test cards))"
    amount: Decimal
    currency: str
    provider: str


def order_instruments(*, order) -> list[Instrument]:
    """How the order was paid: each succeeded payment (gift cards first), one query."""
    from payments.models import Payment, Provider

    last4 = GiftCardTransaction.objects.filter(
        payment=OuterRef("pk"), kind=GiftCardTransaction.Kind.DEBIT).values("card__last4")[:1]
    payments = Payment.objects.filter(order_id=order.pk, status=Payment.Status.SUCCEEDED).annotate(
        card_last4=Subquery(last4)).order_by("pk")
    instruments = []
    for payment in payments:
        if payment.provider == Provider.GIFT_CARD:
            from .codes import masked

            label = f"{payment.get_provider_display()} {masked(payment.card_last4 or '')}".strip()
        else:
            label = payment.get_provider_display()
        instruments.append(Instrument(label=label, amount=payment.amount, currency=payment.currency,
                                      provider=payment.provider))
    instruments.sort(key=lambda i: i.provider != Provider.GIFT_CARD)
    return instruments


def cards_for_user(*, user) -> QuerySet[GiftCard]:
    """The signed-in shopper's cards: sent to their email, bought by them (paid, delivered or still
    waiting for its day: they may have it sent again, `resend.py`), or first used by them. Each
    card's `bought_by_them` says whether they bought it (no query)."""
    email = (user.email or "").strip()
    sent_or_used = Q(redeemed_by=user)
    if email:
        sent_or_used |= Q(recipient_email__iexact=email)
    bought = Q(order__user=user)
    return (GiftCard.objects.filter((sent_or_used | bought) & (Q(code_hash__isnull=False) | Q(is_active=True)))
            .annotate(bought_by_them=ExpressionWrapper(bought, output_field=BooleanField()))
            .order_by("-created_at", "-pk"))


def ledger_mismatches() -> QuerySet[GiftCard]:
    """Cards whose balance is not the sum of their ledger: must always be empty."""
    money = DecimalField(max_digits=12, decimal_places=2)
    ledger = GiftCardTransaction.objects.filter(card=OuterRef("pk")).order_by().values("card").annotate(
        s=Sum("amount")).values("s")
    # Half a cent apart or more: SQLite adds decimals as floating point (0.03 - 0.01 is not 0.02 there).
    half_cent = Value(Decimal("0.005"), output_field=money)
    return GiftCard.objects.alias(
        ledger=Coalesce(Subquery(ledger), Value(Decimal("0"), output_field=money))
    ).filter(Q(balance__gt=F("ledger") + half_cent) | Q(balance__lt=F("ledger") - half_cent))


# --- The customer's data download and erasure (customers/services/data_export.py, privacy.py) ---

def _their_orders(customer, prefix: str) -> Q:
    """`customers.services.privacy.orders_of`, through `prefix` (a path to an order)."""
    theirs = Q(**{f"{prefix}__customer": customer})
    if customer.user_id:
        theirs |= Q(**{f"{prefix}__user_id": customer.user_id})
    return theirs


def cards_of_customer(customer, *, emails=()) -> QuerySet[GiftCard]:
    """The cards tied to `customer`: sent to their email (or any of `emails`), bought with one of
    their orders, or used by them (first used by their account, or paying for one of their
    orders). Nobody else's card. Annotated with `sent_to_them`, `bought_by_them`, `used_by_them`."""
    addresses = sorted({e.strip().lower() for e in (customer.email, *emails) if e and e.strip()})
    sent = Q()
    for address in addresses:
        sent |= Q(recipient_email__iexact=address)
    if not addresses:  # (every customer has an email; an erased one has its `.invalid` address)
        sent = Q(recipient_email="@")  # matches no card
    bought = _their_orders(customer, "order")
    paid_their_order = GiftCardTransaction.objects.filter(
        _their_orders(customer, "order"), card=OuterRef("pk"), kind=GiftCardTransaction.Kind.DEBIT)
    used = Exists(paid_their_order)
    if customer.user_id:
        used = used | Q(redeemed_by_id=customer.user_id)
    def flag(condition):
        return ExpressionWrapper(condition, output_field=BooleanField())

    return (GiftCard.objects.filter(sent | bought | used)
            .annotate(sent_to_them=flag(sent), bought_by_them=flag(bought), used_by_them=flag(used))
            .order_by("created_at", "pk"))


def export_for_customer(customer, *, emails=()) -> list[dict]:
    """The customer's gift cards for their data download (docs/privacy.md), two queries.

    Never the code (only its masked last four). A card sent to them or used by them comes with its
    balance and ledger; a card they bought for someone else with what they bought and wrote, but
    not the recipient's spending (art. 15(4): another person's data). A ledger row names the order
    only when the order is theirs.
    """
    cards = cards_of_customer(customer, emails=emails).prefetch_related(
        Prefetch("transactions", queryset=GiftCardTransaction.objects.select_related("order").order_by(
            "created_at", "pk")))
    user_id = customer.user_id

    def theirs(order) -> bool:
        return order is not None and (order.customer_id == customer.pk or (user_id and order.user_id == user_id))

    rows = []
    for card in cards:
        row = {
            "code": card.display_code or None, "source": card.source, "currency": card.currency,
            "initial_value": card.initial_balance, "created_at": card.created_at, "expires_at": card.expires_at,
            "active": card.is_active, "sent_to_you": bool(card.sent_to_them),
            "bought_by_you": bool(card.bought_by_them),
            "used_by_you": bool(card.used_by_them), "recipient_email": card.recipient_email,
            "recipient_name": card.recipient_name, "from": card.sender_name, "message": card.message,
            "deliver_at": card.deliver_at, "delivered_at": card.delivered_at,
        }
        if card.sent_to_them or card.used_by_them:
            row["reason"] = card.reason  # staff's reason for issuing it (as staff notes are included)
            row["balance"] = card.balance
            row["ledger"] = [
                {"kind": t.kind, "amount": t.amount, "balance_after": t.balance_after,
                 "order": t.order.number if theirs(t.order) else None, "at": t.created_at}
                for t in card.transactions.all()
            ]
        rows.append(row)
    return rows
