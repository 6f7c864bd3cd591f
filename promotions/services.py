"""Writes: the shopper's code, redeeming promotions with an order, giving them back, batches of codes.

Limits are enforced where money is committed: `redeem` runs inside the order's placement
transaction (`orders.services.place_order` calls it through `Discounts.record`) and moves every
counter with a conditional UPDATE (`... SET uses = uses + 1 WHERE uses < usage_limit`), checking
the row count, in primary-key order (promotions, then the code, then the customer's row for
per-customer limits), so 50 concurrent checkouts for a code limited to 10 give exactly 10 orders
and none deadlocks. `release_for_order` gives the uses and money back when an unpaid order
expires or is cancelled; it runs under the order's row lock, in the same transaction.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Variant
from orders.services import Discounts, LineDiscount
from shop.spreadsheets import safe_text

from . import labels, offers
from .exceptions import CodeNotFound, PromotionUnavailable
from .models import Code, CodeBatch, Promotion, Redemption, normalize_code, random_code
from .selectors import SESSION_KEY, Pricing, Shopper, price_lines


# --- The shopper's code -------------------------------------------------------------------------


def enter_code(*, session: SessionBase, text: str) -> str:
    """Keep the code the shopper typed (normalised) for their cart; CodeNotFound if no such code.

    A code that exists but does not apply yet (a minimum not reached, say) is kept: the cart says
    what it needs and the discount appears once it does. One query.
    """
    code = normalize_code(text)
    if not code:
        raise CodeNotFound(_("Enter a code."))
    if not Code.objects.filter(code=code).exists():
        raise CodeNotFound(_("There is no code %(code)s. Check the spelling: letters and digits only.") % {"code": code})
    session[SESSION_KEY] = code
    return code


def remove_code(*, session: SessionBase) -> None:
    session.pop(SESSION_KEY, None)


# --- Placing an order ---------------------------------------------------------------------------


def discounter_for(*, shopper: Shopper, code: str, shipping: Decimal, shown_discount: Decimal | None = None
                   ) -> Callable[[dict[int, int], Mapping[int, Variant]], Discounts]:
    """What `place_order(discounter=...)` calls in its transaction: the order's promotions, priced
    from the variants it is about to write, and a `record` that redeems them (see `redeem`).

    PromotionUnavailable when they now give less than `shown_discount` (the review's figure):
    a code used up or a promotion ended since, and the shopper would pay more than they saw.
    """

    def discounter(quantities: dict[int, int], variants: Mapping[int, Variant]) -> Discounts:
        pricing = price_lines(items=[(variants[pk], q) for pk, q in quantities.items()], shopper=shopper, code=code,
                              shipping=shipping)
        if shown_discount is not None and pricing.result.discount_total < shown_discount:
            problem = pricing.code.problem if pricing.code and pricing.code.problem else _(
                "A promotion in your order has ended.")
            raise PromotionUnavailable(pricing.code.code if pricing.code else "", problem)
        if not pricing.applied:
            return Discounts()
        lines: dict[int, list[LineDiscount]] = {}
        for applied in pricing.applied:
            for key, amount in applied.lines.items():
                lines.setdefault(key, []).append(LineDiscount(promotion_id=applied.offer_id, name=applied.name,
                                                              amount=amount))
        return Discounts(lines=lines, shipping=pricing.result.shipping_discount,
                         record=lambda order: redeem(order=order, pricing=pricing, shopper=shopper))

    return discounter


def redeem(*, order, pricing: Pricing, shopper: Shopper) -> list[Redemption]:
    """Count the promotions `order` got; PromotionUnavailable if any limit was reached meanwhile.

    Precondition: inside the order's placement transaction (a raise rolls the order back).
    Unlimited promotions move no counter (no hot row shared by every checkout): their uses are
    the Redemption rows. Limited ones (as the offers were read; staff changing a limit forgets
    the cached offers): one conditional UPDATE each, in pk order; a single-use
    code: one more; per-customer limits: the customer's row is locked and their redemptions
    counted again. Then one INSERT for every redemption.
    """
    applied = sorted(pricing.applied, key=lambda a: a.offer_id)
    email = (order.email or "").lower()
    redemptions = []
    counted_limits = False
    used_up: list[int] = []  # public offers this order may have used up: their sale labels go
    for a in applied:
        offer = pricing.offers[a.offer_id]
        counted_use = offer.remaining_uses is not None
        counted_spend = offer.remaining_budget is not None
        if labels.is_public(offer) and ((counted_use and offer.remaining_uses <= 1)
                                        or (counted_spend and offer.remaining_budget <= a.amount)):
            used_up.append(offer.id)
        if counted_use or counted_spend:
            room = Q()
            if counted_use:
                room &= Q(usage_limit__isnull=False, uses__lt=F("usage_limit"))
            if counted_spend:
                room &= Q(budget__isnull=False, spent__lte=F("budget") - a.amount)
            changes = {"uses": F("uses") + 1} if counted_use else {}
            if counted_spend:
                changes["spent"] = F("spent") + a.amount
            if not Promotion.objects.filter(room, pk=a.offer_id, is_active=True).update(**changes):
                raise PromotionUnavailable(a.name, _("%(name)s has just been used up.") % {"name": a.name})
            counted_limits = True
        redemptions.append(Redemption(
            promotion_id=a.offer_id, order=order, customer_id=order.customer_id, user=order.user, email=email,
            amount=a.amount, counted_use=counted_use, counted_spend=counted_spend,
            code_id=pricing.code.code_id if pricing.code and pricing.code.promotion_id == a.offer_id else None,
        ))
    code_row = pricing.code_row
    if code_row is not None and any(r.code_id == code_row.pk for r in redemptions) and code_row.max_uses is not None:
        if not Code.objects.filter(pk=code_row.pk, uses__lt=F("max_uses")).update(uses=F("uses") + 1):
            raise PromotionUnavailable(code_row.code, _("The code %(code)s has already been used.") % {"code": code_row.code})
    limited = {a.offer_id: pricing.per_customer_limit[a.offer_id] for a in applied
               if a.offer_id in pricing.per_customer_limit}
    names = {a.offer_id: a.name for a in applied}
    if limited and order.customer_id:
        from customers.models import Customer

        Customer.objects.select_for_update().filter(pk=order.customer_id).values_list("pk").first()
        who = Q(email=email) | (Q(user=order.user) if order.user_id else Q(pk__in=[]))
        counts = dict(Redemption.objects.filter(who, promotion_id__in=limited, released_at__isnull=True)
                      .values_list("promotion_id").annotate(n=Count("pk")).values_list("promotion_id", "n"))
        for pk, limit in limited.items():
            if counts.get(pk, 0) >= limit:
                raise PromotionUnavailable(names[pk], _("You have already used %(name)s.") % {"name": names[pk]})
    created = Redemption.objects.bulk_create(redemptions)
    if counted_limits or code_row is not None:
        transaction.on_commit(offers.forget)
    if used_up:
        transaction.on_commit(lambda: labels.bump_products_of(Promotion.objects.filter(pk__in=used_up)))
    return created


def release_for_order(*, order) -> int:
    """Give back the uses and money `order` took from its promotions and code; return how many.

    For an order that expired unpaid or was cancelled before payment. Precondition: inside a
    transaction holding the order's row lock (so it runs once per order: released rows are
    marked). Promotions are updated in pk order, as `redeem` does.
    """
    taken = list(Redemption.objects.filter(order=order, released_at__isnull=True).select_related("code")
                 .order_by("promotion_id"))
    for redemption in taken:
        changes = {}
        if redemption.counted_use:
            changes["uses"] = F("uses") - 1
        if redemption.counted_spend:
            changes["spent"] = F("spent") - redemption.amount
        if changes:
            Promotion.objects.filter(pk=redemption.promotion_id).update(**changes)
        if redemption.code is not None and redemption.code.max_uses is not None:
            Code.objects.filter(pk=redemption.code_id, uses__gt=0).update(uses=F("uses") - 1)
    if taken:
        Redemption.objects.filter(pk__in=[r.pk for r in taken]).update(released_at=timezone.now())
        transaction.on_commit(offers.forget)
        # A limited promotion given a use or money back may be on sale labels again.
        limited = [r.promotion_id for r in taken if r.counted_use or r.counted_spend]
        if limited:
            transaction.on_commit(lambda: labels.bump_products_of(Promotion.objects.filter(pk__in=limited)))
    return len(taken)


def reclaim_for_order(*, order) -> int:
    """Count again what `release_for_order` gave back, for an expired order paid late and honoured.

    The shopper paid the discounted total, so the uses and money count again, even past a limit
    (the constraint allows it only up to the limit: a use that no longer fits is recorded, not
    counted). Precondition: the order's row lock.
    """
    released = list(Redemption.objects.filter(order=order, released_at__isnull=False).select_related("code")
                    .order_by("promotion_id"))
    for redemption in released:
        if redemption.counted_use:
            redemption.counted_use = bool(Promotion.objects.filter(pk=redemption.promotion_id, uses__lt=F("usage_limit"))
                                          .update(uses=F("uses") + 1))
        if redemption.counted_spend:
            redemption.counted_spend = bool(Promotion.objects.filter(
                pk=redemption.promotion_id, spent__lte=F("budget") - redemption.amount
            ).update(spent=F("spent") + redemption.amount))
        if redemption.code is not None and redemption.code.max_uses is not None:
            Code.objects.filter(pk=redemption.code_id, uses__lt=F("max_uses")).update(uses=F("uses") + 1)
        redemption.released_at = None
        redemption.save(update_fields=["counted_use", "counted_spend", "released_at"])
    if released:
        transaction.on_commit(offers.forget)
    return len(released)


# --- Back office ----------------------------------------------------------------------------------


def recount(*, promotion: Promotion) -> None:
    """Set a promotion's counters from its redemptions (after staff set or change a limit)."""
    with transaction.atomic():
        Promotion.objects.select_for_update().filter(pk=promotion.pk).first()
        live = promotion.redemptions.filter(released_at__isnull=True)
        figures = live.aggregate(n=Count("pk"), spent=Sum("amount"))
        Promotion.objects.filter(pk=promotion.pk).update(uses=figures["n"] or 0, spent=figures["spent"] or Decimal(0))
        live.update(counted_use=promotion.usage_limit is not None, counted_spend=promotion.budget is not None)


def generate_codes(*, promotion: Promotion, count: int, prefix: str = "", length: int = 10, user=None) -> CodeBatch:
    """A batch of `count` unique single-use codes ("PREFIX" + `length` random characters).

    Inserted in chunks; a code that already exists (a rare collision) is drawn again. One
    transaction: all or nothing.
    """
    if not 1 <= count <= 100_000:
        raise ValueError("Between 1 and 100,000 codes at a time.")
    prefix = normalize_code(prefix)
    with transaction.atomic():
        batch = CodeBatch.objects.create(promotion=promotion, prefix=prefix, size=count, created_by=user)
        made = 0
        while made < count:
            want = min(count - made, 2000)
            candidates = {prefix + random_code(length) for _ in range(want)}
            existing = set(Code.objects.filter(code__in=candidates).values_list("code", flat=True))
            fresh = sorted(candidates - existing)
            try:
                with transaction.atomic():
                    Code.objects.bulk_create(Code(promotion=promotion, batch=batch, code=c, max_uses=1) for c in fresh)
            except IntegrityError:  # a concurrent batch drew one of them: draw again
                continue
            made += len(fresh)
    offers.forget()
    return batch


def export_batch_rows(*, batch: CodeBatch) -> Iterator[list[str]]:
    """The batch as CSV rows: code, promotion, uses allowed, used (formula-safe)."""
    yield ["code", "promotion", "uses_allowed", "used"]
    for code, uses, max_uses in batch.codes.order_by("pk").values_list("code", "uses", "max_uses").iterator(2000):
        yield [safe_text(code), safe_text(batch.promotion.name), str(max_uses or ""), str(uses)]


class Echo:
    def write(self, value):
        return value


def csv_lines(rows) -> Iterator[str]:
    writer = csv.writer(Echo())
    for row in rows:
        yield writer.writerow(row)
