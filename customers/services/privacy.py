"""The customer's own data rights: be forgotten, and unsubscribe from marketing with one click
(downloading everything we hold about them is `data_export`).

`erase_customer` is the one way personal data is erased, whether the customer deletes their
account (customers.views.privacy) or staff erase a customer from the back office: both call it.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ..models import Activity, Address, AuditLog, ConsentRecord, Customer, Note, WishlistItem
from . import record_activity, record_audit
from .consent import set_marketing_consent

logger = logging.getLogger(__name__)

ERASED_TEXT = "[erased]"


class ErasureRefused(Exception):
    """An erasure the service will not carry out; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def erased_email(customer: Customer) -> str:
    """The address an erased customer (and their kept orders) carry: unique, never deliverable
    (`.invalid` is reserved by RFC 2606)."""
    return f"erased-{customer.pk}@invalid"


def orders_of(customer: Customer) -> Q:
    """The customer's orders: linked to the customer, or to their account (orders placed before
    the CRM linked them)."""
    owner = Q(customer=customer)
    if customer.user_id:
        owner |= Q(user_id=customer.user_id)
    return owner


# --- Delete my account / erase a customer -------------------------------------------------------

# Keys in a payment provider's records that hold the payer's own details (Stripe's Checkout
# Session, PaymentIntent and Charge use these); their values are dropped on erasure.
_PERSONAL_PROVIDER_KEYS = frozenset({
    "customer_details", "customer_email", "billing_details", "shipping_details", "shipping", "receipt_email",
    "email", "name", "phone", "address",
})


def _scrub_text(text: str, needles: list[str]) -> str:
    lowered = text.lower()
    for needle in needles:
        start = lowered.find(needle)
        while start != -1:
            text = text[:start] + ERASED_TEXT + text[start + len(needle):]
            lowered = text.lower()
            start = lowered.find(needle, start + len(ERASED_TEXT))
    return text


def _scrub_json(value: Any, needles: list[str]) -> Any:
    """A provider record with the payer's details removed: known personal keys emptied, and any
    other text that mentions their email, name or phone scrubbed."""
    if isinstance(value, dict):
        return {key: (None if key in _PERSONAL_PROVIDER_KEYS else _scrub_json(item, needles))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_json(item, needles) for item in value]
    if isinstance(value, str):
        return _scrub_text(value, needles)
    return value


# The parts of an address-book entry that point at a person or a door (city, region and country
# alone do not, and scrubbing "London" from every text would mangle it).
_ADDRESS_NEEDLE_FIELDS = ("name", "company", "line1", "line2", "postal_code")


def _needles(customer: Customer, user, extra_emails: list[str]) -> list[str]:
    """The strings that identify the person, lower-cased, longest first (a full name before its
    parts). Names shorter than three letters are left alone: scrubbing "Al" would mangle text."""
    candidates = {customer.email, customer.full_name, customer.first_name, customer.last_name, customer.phone,
                  *extra_emails}
    for values in Address.objects.filter(customer=customer).values_list(*_ADDRESS_NEEDLE_FIELDS):
        candidates |= set(values)
    if user is not None:
        candidates |= {user.email, getattr(user, "first_name", ""), getattr(user, "last_name", "")}
    return sorted({c.strip().lower() for c in candidates if c and len(c.strip()) >= 3}, key=len, reverse=True)


def _only_country(address: dict) -> dict:
    # The country stays for tax reporting (sales are declared per destination country).
    return {"country": address["country"]} if isinstance(address, dict) and address.get("country") else {}


def _anonymise_orders(*, customer: Customer, user, old_email: str, needles: list[str]) -> int:
    """Blank the buyer's details on their orders and everything hanging off them, keeping every
    amount, line, tax figure and payment: the books must still add up. Returns how many orders."""
    from notifications import delivery
    from notifications.models import OutboundEmail
    from orders.models import Order, OrderEvent
    from payments.models import Payment, Refund, WebhookEvent

    # By email only the orders nobody's customer holds (placed before the CRM linked orders): an
    # order with this address on another customer's record is theirs (they had it first).
    owner = orders_of(customer) | Q(customer__isnull=True, email__iexact=old_email)
    if user is not None:
        owner |= Q(user=user)
    orders = list(Order.objects.select_for_update().filter(owner).order_by("pk"))
    new_email = erased_email(customer)
    for order in orders:
        order.email = new_email
        order.customer_name = ""
        order.phone = ""
        order.shipping_address = _only_country(order.shipping_address)
        order.billing_address = _only_country(order.billing_address)
        order.user = None
        order.customer = customer  # the erased customer row keeps the CRM's figures whole
    Order.objects.bulk_update(
        orders, ["email", "customer_name", "phone", "shipping_address", "billing_address", "user", "customer"]
    )
    order_ids = [order.pk for order in orders]
    if not order_ids:
        return 0

    mentions = Q()
    for needle in needles:
        mentions |= Q(message__icontains=needle)
    events = list(OrderEvent.objects.filter(mentions, order_id__in=order_ids)) if needles else []
    for event in events:
        event.message = _scrub_text(event.message, needles)
    OrderEvent.objects.bulk_update(events, ["message"])

    # Unsent emails to the person are dropped; sent ones keep their record without the address.
    OutboundEmail.objects.filter(order_id__in=order_ids, status__in=delivery.UNSENT).update(
        status=OutboundEmail.Status.SKIPPED, last_error="Customer data erased", sent_at=None
    )
    OutboundEmail.objects.filter(order_id__in=order_ids).update(recipients=[new_email])

    payments = list(Payment.objects.filter(order_id__in=order_ids))
    for payment in payments:
        payment.raw = _scrub_json(payment.raw, needles)
        payment.failure_message = _scrub_text(payment.failure_message, needles)
    Payment.objects.bulk_update(payments, ["raw", "failure_message"])
    refunds = list(Refund.objects.filter(payment__order_id__in=order_ids))
    for refund in refunds:
        refund.reason = _scrub_text(refund.reason, needles)
    Refund.objects.bulk_update(refunds, ["reason"])
    # The provider's events about these payments carry the same payer details: the session's and
    # the intent's own events, and those about their charges and refunds (which name the intent),
    # or anything carrying our order id in its metadata.
    provider_ids = [pid for p in payments for pid in (p.provider_session_id, p.provider_payment_id) if pid]
    about = Q(payload__data__object__metadata__order_id__in=[str(pk) for pk in order_ids])
    if provider_ids:
        about |= Q(payload__data__object__id__in=provider_ids)
        about |= Q(payload__data__object__payment_intent__in=provider_ids)
    if payments:
        webhook_events = list(WebhookEvent.objects.filter(about))
        for event in webhook_events:
            event.payload = _scrub_json(event.payload, needles)
        WebhookEvent.objects.bulk_update(webhook_events, ["payload"])
    return len(orders)


def _scrub_campaign_messages(*, customer: Customer, needles: list[str]) -> None:
    """The campaign emails sent to the person keep their count and status, not the address."""
    from marketing.models import CampaignMessage

    messages = list(CampaignMessage.objects.filter(customer=customer))
    for message in messages:
        message.email = erased_email(customer)
        message.error = _scrub_text(message.error, needles)
    CampaignMessage.objects.bulk_update(messages, ["email", "error"])


def _scrub_admin_history(*, customer: Customer, needles: list[str]) -> None:
    """The back office's change history of the customer's record names them (its title is the
    customer's name or email; an inline's change message quotes the address it added)."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    entries = list(LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Customer),
                                           object_id=str(customer.pk)))
    for entry in entries:
        entry.object_repr = ERASED_TEXT
        entry.change_message = _scrub_text(entry.change_message, needles)
    LogEntry.objects.bulk_update(entries, ["object_repr", "change_message"])


def visitors_of(customer: Customer, *, also: Collection[str] = ()) -> set[str]:
    """The visitor ids (browsers) ever linked to the customer's events, and those in `also`."""
    from analytics.models import Event

    linked = Event.objects.filter(customer=customer).exclude(visitor_id="").values_list("visitor_id", flat=True)
    return set(linked.distinct()) | {value for value in also if value}


def events_of(customer: Customer, *, visitors: Collection[str] | None = None) -> Q:
    """The customer's storefront events (analytics.Event): linked to them, or made by one of
    their browsers (`visitors`, by default `visitors_of`) and linked to nobody else. Another
    customer's events are never included, even from a browser two people shared.

    The visitor ids are read first (one query), so the condition is a list the visitor index
    answers: as a subquery, PostgreSQL scanned every event (630 ms at 2 million events, against
    about 1 ms).
    """
    if visitors is None:
        visitors = visitors_of(customer)
    return Q(customer=customer) | Q(customer__isnull=True, visitor_id__in=sorted(visitors))


def _flush_buffered_events() -> None:
    """Write the events waiting in the analytics buffer first, so the person's are in the
    database (and their visitor ids linked to them) when the erasure deletes them. Never fails
    the erasure: the marks `_erase_events` leaves catch what this could not write."""
    from analytics import services as analytics

    try:
        analytics.flush_events()
    except Exception:  # the cache or the flush is down; the marks still stop the events
        logger.warning("Analytics buffer not flushed before an erasure", exc_info=True)


def _erase_events(*, customer: Customer, user, visitor_ids: Collection[str] = ()) -> int:
    """Delete the person's storefront events, and stop the ones still buffered from being written.

    Deleted rather than unlinked: an event's visitor id, times, products, searches and order
    numbers single the person out even without the customer link (docs/privacy.md). Daily
    figures already rolled up (DailyMetric) name nobody and stay.
    """
    from analytics import recorder
    from analytics.models import Event

    visitors = visitors_of(customer, also=visitor_ids)
    recorder.forget(customer_id=customer.pk, user_ids={user.pk} if user is not None else set(),
                    visitor_ids=visitors)
    theirs = events_of(customer, visitors=visitors)
    deleted, _ = Event.objects.filter(theirs).delete()

    def again() -> None:
        # A flush that read the buffer before the marks were set may have written after the
        # delete above: delete what arrived for these ids meanwhile.
        Event.objects.filter(theirs).delete()

    transaction.on_commit(again, robust=True)
    return deleted


_DATABASE_SESSION_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


def _end_sessions(*, user_id: int) -> int:
    """Delete every stored session signed in as `user_id` (other devices: they hold the account id
    and what checkout kept, email and addresses). Returns how many.

    Sessions are not indexed by account, so each one that has not expired is decoded: a scan,
    acceptable for a request this rare. Only database-backed session engines can be scanned; with
    a cache-only engine the sessions stop being signed in (the account is gone) and expire.
    """
    from django.conf import settings
    from django.contrib.sessions.models import Session

    engine = settings.SESSION_ENGINE
    if engine not in _DATABASE_SESSION_ENGINES:
        return 0
    store_class = import_string(f"{engine}.SessionStore")
    decoder = store_class()
    wanted = str(user_id)
    keys = [
        key for key, data in Session.objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data").iterator(chunk_size=2000)
        if str(decoder.decode(data).get("_auth_user_id")) == wanted
    ]
    for key in keys:
        store_class(session_key=key).delete()  # the cached_db store drops its cache entry too
    return len(keys)


def erase_customer(*, customer: Customer, actor: AbstractBaseUser | None, reason: str = "",
                   visitor_ids: Collection[str] = ()) -> Customer:
    """Forget the person behind `customer`, keeping what the accounts must keep.

    In one transaction, holding the customer's row lock:
    - the customer's name, phone and email go (email becomes `erased-<pk>@invalid`), with their
      language, tags, manual segment memberships and marketing consent;
    - addresses, wishlist, carts and chat conversations (with their messages) are deleted; the
      consent history becomes one final withdrawal
      (source "erasure"), so the record shows marketing may never resume for this row;
    - note bodies and activity details are erased (the rows stay, so the timeline's shape and
      counts stay true);
    - their orders keep number, status, lines, totals, tax and payments, but lose the email (the
      erased address instead), name, phone, the account link and every address field except the
      country (tax reporting); order history texts, outbox recipients, payment provider records
      and webhook payloads lose the person's details too;
    - draft orders staff typed for them (`stafforders.privacy`) lose every personal field but the
      country, and their note and discount reason are scrubbed;
    - their gift cards (sent to them, bought or used by them) keep their balance and ledger (money
      records) but lose recipient and sender details and messages (`giftcards.services.erase_for_customer`);
    - their storefront events (analytics.Event, `events_of`) are deleted, after a flush of the
      analytics buffer; the account, customer row and visitor ids are marked so an event of theirs
      still buffered is dropped when it is flushed (analytics.recorder.forget); `visitor_ids`
      adds browsers known to be theirs (the one they delete their account from), linked or not;
    - the account's stored sessions on every device are deleted (they hold its id and what
      checkout kept);
    - the sign-in account is deleted (its allauth email addresses go with it). Deleting, not just
      deactivating: an inactive account would still hold the email and password hash, and
      nothing else needs the row (orders, notes and audit entries let go of it or keep text).
    - `Customer.erased_at` is set; Activity ERASED and an AuditLog entry are written:
      ACCOUNT_DELETED when the customer did it (the actor recorded as "the customer (user #id)",
      not by name), CUSTOMER_ERASED when staff did.

    Erasing an already erased customer does nothing. Raises ErasureRefused for a staff account:
    someone must take its staff rights away first, on purpose.
    """
    _flush_buffered_events()  # before the transaction: a rollback must not lose the buffer
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.erased_at is not None:
            return customer
        user = customer.user
        if user is not None and (user.is_staff or user.is_superuser):
            raise ErasureRefused(_("This is a staff account. Remove its staff rights before erasing it."))
        by_customer = actor is not None and user is not None and actor.pk == user.pk
        old_email = customer.email
        extra_emails = []
        if user is not None:
            from allauth.account.models import EmailAddress

            extra_emails = list(EmailAddress.objects.filter(user=user).values_list("email", flat=True))
        needles = _needles(customer, user, extra_emails)

        # Before the orders and the account let go of them: the cards are found through both.
        from giftcards.services import erase_for_customer as erase_gift_cards

        erase_gift_cards(customer=customer, emails=[old_email, *extra_emails, *([user.email] if user else [])],
                         scrub=lambda text: _scrub_text(text, needles))
        from stafforders.privacy import erase_for_customer as erase_drafts  # before the orders let go of them

        erase_drafts(customer=customer, emails=[old_email, *extra_emails], scrub=lambda text: _scrub_text(text, needles))
        orders_kept = _anonymise_orders(customer=customer, user=user, old_email=old_email, needles=needles)
        _scrub_campaign_messages(customer=customer, needles=needles)
        _scrub_admin_history(customer=customer, needles=needles)
        _erase_events(customer=customer, user=user, visitor_ids=visitor_ids)

        Address.objects.filter(customer=customer).delete()
        WishlistItem.objects.filter(customer=customer).delete()
        ConsentRecord.objects.filter(customer=customer).delete()
        ConsentRecord.objects.create(customer=customer, granted=False, source=ConsentRecord.Source.ERASURE)
        Note.objects.filter(customer=customer).update(body=ERASED_TEXT)
        Activity.objects.filter(customer=customer).update(message="", data={})
        from chat.services import erase_for_customer

        erase_for_customer(customer=customer)
        customer.tags.clear()
        customer.manual_segments.clear()

        customer.email = erased_email(customer)
        customer.first_name = customer.last_name = customer.phone = customer.language = ""
        customer.verified_phone = ""
        customer.phone_verified_at = None
        customer.accepts_marketing = False
        customer.marketing_consent_at = None
        customer.wants_wishlist_alerts = False
        customer.user = None
        customer.erased_at = timezone.now()
        customer.save()

        if user is not None:
            from carts.cache import forget_cart_counts
            from carts.models import Cart

            Cart.objects.filter(user=user).delete()
            forget_cart_counts(user_ids=[user.pk])
            _end_sessions(user_id=user.pk)
            self_repr = f"the customer (user #{user.pk})"
            # Earlier audit entries name the account by its username: keep the fact, not the name.
            AuditLog.objects.filter(actor=user).update(actor_repr=self_repr)
            get_user_model().objects.filter(pk=user.pk).delete()

        by = "customer" if by_customer else "staff"
        record_activity(customer=customer, kind=Activity.Kind.ERASED, message=_("Personal data erased"), by=by,
                        orders_kept=orders_kept)
        if by_customer:
            AuditLog.objects.create(
                action=AuditLog.Action.ACCOUNT_DELETED, actor=None, actor_repr=self_repr, customer=customer,
                detail=(reason or "")[:500], data={"orders_kept": orders_kept},
            )
        else:
            record_audit(action=AuditLog.Action.CUSTOMER_ERASED, actor=actor, customer=customer,
                         detail=reason or "", orders_kept=orders_kept)
    return customer


# --- One-click unsubscribe ----------------------------------------------------------------------


def unsubscribe(*, customer: Customer) -> bool:
    """Stop marketing email to `customer` (the one-click link in every campaign email).

    Returns True when they were subscribed. Pressing it again changes nothing and records
    nothing new: mail clients that "pre-click" links, and people who click twice, leave one
    withdrawal in the history. An erased customer is left as it is (already withdrawn).
    """
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.erased_at is not None:
            return False
        return set_marketing_consent(
            customer=customer, granted=False, source=ConsentRecord.Source.UNSUBSCRIBE_LINK
        ) is not None
