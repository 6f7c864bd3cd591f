"""Download my data (GDPR art. 15, the right of access): everything the store records about one
customer, as one JSON-ready dict.

What goes in and what is left out, and why, is in docs/privacy.md; keep the two in step. People
other than the customer appear by role only ("you", "staff", "payment provider", "system"):
the staff member who wrote a note or changed the record is named in the back office, not in the
customer's file (art. 15(4): the copy must not adversely affect the rights of others, and the
role is what tells the customer who acted).
"""
from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Activity, Address, AuditLog, ConsentRecord, Customer, Note, PendingSignup, WishlistItem
from ..selectors.crm import segments_of_customer
from . import record_activity, record_audit
from .privacy import events_of, orders_of

EXPORT_FORMAT = "northwind-customer-data/2"

# Roles instead of people: see the module docstring.
YOU, STAFF, SYSTEM = "you", "staff", "system"


def _json(value: Any) -> Any:
    """Decimals as exact strings, times as ISO 8601: the export is read by people and programs."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    return value


def _role(user_id: int | None, customer: Customer) -> str:
    """Who acted, as the customer may read it: themselves, or staff (any other account: only
    staff act on someone else's record), or the store itself when no account did."""
    if user_id is None:
        return SYSTEM
    return YOU if user_id == customer.user_id else STAFF


def _export_orders(customer: Customer) -> list[dict]:
    from notifications.models import OutboundEmail
    from orders.models import Order, OrderEvent, Shipment, ShipmentLine
    from payments.models import Payment

    orders = (
        Order.objects.filter(orders_of(customer))
        .select_related("pickup_location")
        .prefetch_related(
            "lines",
            Prefetch("payments", queryset=Payment.objects.prefetch_related("refunds").order_by("created_at", "pk")),
            Prefetch("shipments", queryset=Shipment.objects.prefetch_related(
                Prefetch("lines", queryset=ShipmentLine.objects.select_related("line"))
            )),
            Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
            Prefetch("emails", queryset=OutboundEmail.objects.order_by("created_at", "pk")),
        )
        .order_by("created_at", "pk")
    )
    return [
        {
            "number": order.number,
            "payment_status": order.payment_status,
            "fulfilment_status": order.fulfilment_status,
            "placed_at": order.created_at,
            "paid_at": order.paid_at,
            "email": order.email,
            "name": order.customer_name,
            "phone": order.phone,
            "shipping_address": order.shipping_address,
            "billing_address": order.billing_address,
            "currency": order.currency,
            "prices_include_tax": order.prices_include_tax,
            "subtotal": order.subtotal,
            "shipping": order.shipping_total,
            "tax": order.tax_total,
            "total": order.total,
            "shipping_method": order.shipping_method_name,
            "pickup_location": order.pickup_location.name if order.pickup_location else None,
            "lines": [
                {"product": line.product_title, "sku": line.sku, "options": line.options, "quantity": line.quantity,
                 "unit_price": line.unit_price, "tax_rate": line.tax_rate, "unit_tax": line.unit_tax,
                 "line_total": line.line_total, "quantity_shipped": line.quantity_fulfilled,
                 "quantity_returned": line.quantity_returned}
                for line in order.lines.all()
            ],
            "payments": [
                {"provider": payment.provider, "status": payment.status, "amount": payment.amount,
                 "currency": payment.currency, "created_at": payment.created_at,
                 "succeeded_at": payment.succeeded_at, "failure_message": payment.failure_message,
                 "refunds": [
                     {"amount": refund.amount, "status": refund.status, "reason": refund.reason,
                      "created_at": refund.created_at}
                     for refund in payment.refunds.all()
                 ]}
                for payment in order.payments.all()
            ],
            "shipments": [
                {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
                 "tracking_url": shipment.tracking_url, "shipped_at": shipment.created_at,
                 "lines": [{"sku": sl.line.sku, "quantity": sl.quantity} for sl in shipment.lines.all()]}
                for shipment in order.shipments.all()
            ],
            # The order's history, staff's notes on it included; who acted by role (OrderEvent.actor).
            "history": [
                {"kind": event.kind, "state": event.state, "from_status": event.from_status,
                 "to_status": event.to_status,
                 "message": event.message, "by": YOU if event.actor == OrderEvent.Actor.CUSTOMER else event.actor,
                 "at": event.created_at}
                for event in order.events.all()
            ],
            "emails": [
                {"kind": email.kind, "subject": email.subject, "to": email.recipients, "status": email.status,
                 "sent_at": email.sent_at, "created_at": email.created_at}
                for email in order.emails.all()
            ],
        }
        for order in orders
    ]


def _export_carts(customer: Customer) -> list[dict]:
    from carts.models import Cart, CartLine

    if not customer.user_id:
        return []
    carts = Cart.objects.filter(user_id=customer.user_id).prefetch_related(
        Prefetch("lines", queryset=CartLine.objects.select_related("variant__product"))
    )
    return [
        {"created_at": cart.created_at, "updated_at": cart.updated_at, "lines": [
            {"product": line.variant.product.title, "sku": line.variant.sku, "quantity": line.quantity,
             "unit_price_when_added": line.unit_price, "added_at": line.created_at}
            for line in cart.lines.all()
        ]}
        for cart in carts
    ]


def _export_account(customer: Customer) -> dict | None:
    from allauth.account.models import EmailAddress

    user = customer.user
    if user is None:
        return None
    pending = PendingSignup.objects.filter(user=user).first()
    return {
        "email": user.email, "date_joined": user.date_joined, "last_login": user.last_login,
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("-primary", "email")
        ],
        # Only while the sign-up's email is unverified: what the form asked for, applied once it is.
        "pending_signup": {"asked_for_marketing": pending.accepts_marketing, "at": pending.created_at} if pending else None,
    }


def _export_campaign_emails(customer: Customer) -> list[dict]:
    from marketing.models import CampaignMessage

    return [
        # The subject as staff wrote it (the one sent, with your name filled in, is in "activities").
        {"subject": message.campaign.subject, "to": message.email, "status": message.status,
         "sent_at": message.sent_at, "created_at": message.created_at}
        for message in CampaignMessage.objects.filter(customer=customer).select_related("campaign").order_by("pk")
    ]


def _export_events(customer: Customer) -> list[dict]:
    """Their storefront events (analytics.Event, see `privacy.events_of`): what they viewed,
    searched, put in the cart and ordered, with the visitor id and the campaign link that brought
    them. `signed_in` says whether the event was linked to them or only to a browser they used.
    Events still in the analytics buffer (written within a minute) are not in yet."""
    from analytics.models import Event

    return [
        {"event": event.name, "at": event.occurred_at, "visitor_id": event.visitor_id,
         "signed_in": event.customer_id == customer.pk, "channel": event.channel, "device": event.device,
         "utm_source": event.utm_source, "utm_medium": event.utm_medium, "utm_campaign": event.utm_campaign,
         "campaign_link_signed_by_the_store": event.utm_verified, "details": event.properties}
        for event in Event.objects.filter(events_of(customer)).order_by("occurred_at", "pk")
    ]


def _export_record_changes(customer: Customer) -> list[dict]:
    """The back office's change history of the customer's record (Django admin's LogEntry)."""
    from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
    from django.contrib.contenttypes.models import ContentType

    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk)
    ).order_by("action_time", "pk")
    return [
        {"action": {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}.get(
            entry.action_flag, str(entry.action_flag)),
         "what": entry.get_change_message(), "by": _role(entry.user_id, customer), "at": entry.action_time}
        for entry in entries
    ]


def export_customer_data(*, customer: Customer, actor: AbstractBaseUser | None = None) -> dict:
    """Everything the store records about `customer`, JSON-ready (docs/privacy.md lists it).

    Staff notes and interactions are included, internal ones too; staff appear as "staff", never
    by name. Nothing of any other customer is read. The download is recorded (Activity
    DATA_EXPORTED, AuditLog DATA_EXPORT) in the same transaction, with `actor` as who asked: the
    customer's own account unless staff pass theirs. A fixed number of queries whatever the amount
    of data.
    """
    data = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "profile": {
            "email": customer.email, "first_name": customer.first_name, "last_name": customer.last_name,
            "phone": customer.phone, "language": customer.language,
            "verified_phone": customer.verified_phone, "phone_verified_at": customer.phone_verified_at,
            "accepts_marketing": customer.accepts_marketing, "marketing_consent_at": customer.marketing_consent_at,
            "wants_wishlist_alerts": customer.wants_wishlist_alerts, "customer_since": customer.created_at,
            "order_count": customer.order_count, "total_spent": customer.total_spent,
            "first_order_at": customer.first_order_at, "last_order_at": customer.last_order_at,
        },
        "account": _export_account(customer),
        # How the store profiles them (GDPR art. 15: the existence of profiling and its result).
        "profiling": {
            "rfm_scores": {"recency": customer.recency_score, "frequency": customer.frequency_score,
                           "monetary": customer.monetary_score, "segment": customer.rfm_segment,
                           "scored_at": customer.rfm_scored_at},
            "segments": [segment.name for segment in segments_of_customer(customer)],
            "tags": [tag.name for tag in customer.tags.all()],
        },
        "addresses": [
            {field: getattr(address, field) for field in (
                "name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone",
                "is_default_shipping", "is_default_billing", "created_at", "updated_at",
            )}
            for address in Address.objects.filter(customer=customer)
        ],
        "orders": _export_orders(customer),
        "consents": [
            {"purpose": record.purpose, "granted": record.granted, "source": record.source, "at": record.created_at}
            for record in ConsentRecord.objects.filter(customer=customer).order_by("created_at", "pk")
        ],
        # Staff's notes and records of calls, emails, visits and chats about them: all of them.
        "notes": [
            {"kind": note.kind, "note": note.body, "by": STAFF, "shared_with_you": note.visible_to_customer,
             "at": note.created_at}
            for note in Note.objects.filter(customer=customer).order_by("created_at", "pk")
        ],
        "wishlist": [
            {"product": item.product.title, "url": item.product.get_absolute_url(),
             "price_when_added": item.price_when_added, "in_stock_when_added": item.was_in_stock,
             "added_at": item.created_at}
            for item in WishlistItem.objects.filter(customer=customer).select_related("product")
        ],
        "activities": [
            {"kind": activity.kind, "what": activity.message, "data": activity.data, "at": activity.created_at}
            for activity in Activity.objects.filter(customer=customer).order_by("created_at", "pk")
        ],
        "marketing_emails": _export_campaign_emails(customer),
        "carts": _export_carts(customer),
        # Who looked at, downloaded or erased their data (the audit log's entries about them).
        "audit_log": [
            {"action": entry.action, "by": _role(entry.actor_id, customer), "at": entry.created_at}
            for entry in AuditLog.objects.filter(customer=customer).order_by("created_at", "pk")
        ],
        "record_changes": _export_record_changes(customer),
        # What they did on the storefront (analytics): their events and their browsers' events.
        "storefront_events": _export_events(customer),
        # Their conversations with the store (chat, contact form), every message.
        "chat_history": _export_chat(customer),
        # Gift cards sent to them, bought or used by them: never the code (docs/privacy.md).
        "gift_cards": None,  # below: it reads the account's addresses
    }
    account = data["account"] or {}
    from stafforders.privacy import export_for_customer as export_drafts

    data["draft_orders"] = export_drafts(customer, emails=[customer.email, account.get("email") or ""])
    data["gift_cards"] = _export_gift_cards(customer, emails=[
        account.get("email") or "", *(a["email"] for a in account.get("email_addresses", []))])
    actor = actor if actor is not None else customer.user
    with transaction.atomic():
        record_activity(customer=customer, kind=Activity.Kind.DATA_EXPORTED, message=_("Downloaded their data"))
        record_audit(action=AuditLog.Action.DATA_EXPORT, actor=actor, customer=customer,
                     detail=f"customer #{customer.pk}")
    return _json(data)


def _export_chat(customer: Customer) -> list[dict]:
    from chat.selectors import export_for_customer

    return export_for_customer(customer)


def _export_gift_cards(customer: Customer, *, emails: list[str]) -> list[dict]:
    """Cards sent to any of their addresses (the account's, old ones too), bought or used by them."""
    from giftcards.selectors import export_for_customer

    return export_for_customer(customer, emails=emails)
