"""Draft orders in "Download my data" and in erasure (called by customers/services)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Q

from .models import DraftOrder

PERSONAL = ("email", "customer_name", "phone", "company", "purchase_order", "address_line1", "address_line2",
            "postal_code", "city", "region")


def _theirs(customer, emails: Iterable[str]):
    wanted = {email.strip().lower() for email in emails if email}
    return DraftOrder.objects.filter(Q(customer=customer) | Q(email__in=wanted) | Q(order__customer=customer))


def export_for_customer(customer, *, emails: Iterable[str]) -> list[dict]:
    """Each draft staff typed for them (by record, by email, or that became one of their orders)."""
    return [
        {"created_at": draft.created_at, "status": draft.status, "order": draft.order.number if draft.order_id else "",
         "email": draft.email, "name": draft.customer_name, "phone": draft.phone, "company": draft.company,
         "purchase_order": draft.purchase_order, "address": draft.shipping_address, "payment": draft.payment,
         "discount": str(draft.discount_amount), "discount_reason": draft.discount_reason}
        for draft in _theirs(customer, emails).select_related("order").order_by("created_at", "pk")
    ]


def erase_for_customer(customer, *, emails: Iterable[str], scrub: Callable[[str], str]) -> int:
    """Blank the personal fields of their drafts (the country stays, as on orders) and scrub the
    note and the discount's reason; lines and amounts stay. Returns how many drafts."""
    drafts = list(_theirs(customer, emails))
    for draft in drafts:
        for name in PERSONAL:
            setattr(draft, name, "")
        draft.note = scrub(draft.note)
        draft.discount_reason = scrub(draft.discount_reason) if draft.discount_amount else ""
        draft.customer = None
    DraftOrder.objects.bulk_update(drafts, [*PERSONAL, "note", "discount_reason", "customer"])
    return len(drafts)
