"""Account holders and their customer records: sign-up, email verification, email change,
profile, and the security events the CRM timeline shows.

The rule these keep: a customer record (and with it a guest's past orders) joins an account only
once the account has proved it owns the email address. allauth's signals call in here
(customers/signals.py); the account pages call the profile functions.
"""
from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q

from ..models import (
    Activity,
    Address,
    AuditLog,
    ConsentRecord,
    Customer,
    Note,
    PendingSignup,
    WishlistItem,
)
from . import _get_or_create_by_email, normalise_email, record_activity
from .consent import set_marketing_consent

logger = logging.getLogger(__name__)


class AccountConflict(Exception):
    """The email's customer record already belongs to another account."""


def record_signup(*, user: AbstractBaseUser, accepts_marketing: bool) -> PendingSignup:
    """Keep what the sign-up form asked for until the email is verified (attach_customer applies
    it). Nothing is written to any customer record: the address is not proven yet."""
    pending, _created = PendingSignup.objects.update_or_create(
        user=user, defaults={"accepts_marketing": accepts_marketing},
    )
    return pending


def _attach_guest_orders(*, customer: Customer, user: AbstractBaseUser) -> int:
    """Give the account the customer's orders placed as a guest; also those from before the CRM
    existed (no customer, same email). Returns how many."""
    from orders.models import Order

    return Order.objects.filter(
        Q(customer=customer) | Q(customer__isnull=True, email__iexact=customer.email), user__isnull=True,
    ).update(user=user, customer=customer)


@transaction.atomic
def attach_customer(*, user: AbstractBaseUser, email: str) -> Customer:
    """Called once `email` is verified as `user`'s: link the guest customer with that email to
    the account (or create one), apply what the sign-up form asked for, and give the account that
    customer's guest orders (`Order.user` set where it was empty).

    Records EMAIL_VERIFIED; SIGNED_UP and the sign-up's consent when a sign-up was waiting for
    this; GUEST_ORDERS_ATTACHED with the count when there were any. Calling it again attaches
    only orders placed as a guest since. An account whose customer holds another address takes
    this one (merging a guest record that had it: see change_customer_email).
    Raises AccountConflict, writing nothing, if the email's customer belongs to another account.
    """
    email = normalise_email(email)
    customer = Customer.objects.select_for_update().filter(user=user).first()
    if customer is None:
        customer = _get_or_create_by_email(email, {
            "first_name": (user.first_name or "")[:100], "last_name": (user.last_name or "")[:100],
        })
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.user_id is not None and customer.user_id != user.pk:
            raise AccountConflict(f"Customer {customer.pk} ({email}) belongs to account {customer.user_id}.")
        customer.user = user
        customer.save(update_fields=["user", "updated_at"])
    elif customer.email != email:
        customer = _move_to_email(customer=customer, email=email)
    record_activity(customer=customer, kind=Activity.Kind.EMAIL_VERIFIED, message=f"Email {email} verified",
                    email=email)
    pending = PendingSignup.objects.filter(user=user).first()
    if pending is not None:
        record_activity(customer=customer, kind=Activity.Kind.SIGNED_UP, message="Signed up with email and password",
                        signed_up_at=user.date_joined.isoformat() if getattr(user, "date_joined", None) else "")
        if pending.accepts_marketing:
            set_marketing_consent(customer=customer, granted=True, source=ConsentRecord.Source.SIGNUP)
        pending.delete()
    count = _attach_guest_orders(customer=customer, user=user)
    if count:
        record_activity(customer=customer, kind=Activity.Kind.GUEST_ORDERS_ATTACHED,
                        message=f"{count} guest order(s) attached to the account", count=count)
    return customer


def _merge_guest(*, into: Customer, guest: Customer) -> dict:
    """Move everything of `guest` to `into` and delete `guest`. Caller holds both rows' locks.

    The figures are added up (exact: the two records' orders are disjoint); consent
    becomes what the newest record of the merged history says.
    """
    from orders.models import Order

    moved = {
        "orders": Order.objects.filter(customer=guest).update(customer=into),
        "notes": Note.objects.filter(customer=guest).update(customer=into),
        "activities": Activity.objects.filter(customer=guest).update(customer=into),
        "consents": ConsentRecord.objects.filter(customer=guest).update(customer=into),
    }
    AuditLog.objects.filter(customer=guest).update(customer=into)
    # At most one default of each kind per customer (database constraint): the account's stay.
    defaults = {flag: Address.objects.filter(customer=into, **{flag: True}).exists()
                for flag in ("is_default_shipping", "is_default_billing")}
    for flag, taken in defaults.items():
        if taken:
            Address.objects.filter(customer=guest, **{flag: True}).update(**{flag: False})
    moved["addresses"] = Address.objects.filter(customer=guest).update(customer=into)
    # One wishlist row per product (database constraint): the account's own row wins.
    WishlistItem.objects.filter(customer=guest, product_id__in=WishlistItem.objects.filter(customer=into)
                                .values("product_id")).delete()
    moved["wishlist"] = WishlistItem.objects.filter(customer=guest).update(customer=into)
    # Campaign emails the guest record received are history (deleting the guest would cascade
    # to them); one per campaign and customer (database constraint): the account's own stays.
    from marketing.models import CampaignMessage

    CampaignMessage.objects.filter(customer=guest, campaign_id__in=CampaignMessage.objects.filter(customer=into)
                                   .values("campaign_id")).delete()
    moved["campaign_messages"] = CampaignMessage.objects.filter(customer=guest).update(customer=into)
    into.tags.add(*guest.tags.all())
    for segment in guest.manual_segments.all():
        segment.members.add(into)

    into.order_count += guest.order_count
    into.total_spent += guest.total_spent
    firsts = [value for value in (into.first_order_at, guest.first_order_at) if value]
    lasts = [value for value in (into.last_order_at, guest.last_order_at) if value]
    into.first_order_at = min(firsts) if firsts else None
    into.last_order_at = max(lasts) if lasts else None
    for field in ("first_name", "last_name", "phone", "language"):
        if not getattr(into, field):
            setattr(into, field, getattr(guest, field))
    newest = ConsentRecord.objects.filter(customer=into, purpose=ConsentRecord.Purpose.MARKETING_EMAIL).first()
    if newest is not None:
        into.accepts_marketing = newest.granted
        into.marketing_consent_at = newest.created_at if newest.granted else None
    guest.delete()
    return moved


def _move_to_email(*, customer: Customer, email: str) -> Customer:
    """Give `customer` (locked by the caller) the address `email`, merging the guest record that
    had it. Returns the customer, saved."""
    merged: dict = {}
    other = Customer.objects.select_for_update().filter(email=email).exclude(pk=customer.pk).first()
    if other is not None:
        if other.user_id is not None:
            raise AccountConflict(f"Customer {other.pk} ({email}) belongs to account {other.user_id}.")
        merged = _merge_guest(into=customer, guest=other)
        merged["customer_id"] = other.pk
    old = customer.email
    customer.email = email
    customer.save()
    record_activity(customer=customer, kind=Activity.Kind.EMAIL_CHANGED, message=f"Email changed from {old} to {email}",
                    old_email=old, new_email=email, merged=merged)
    return customer


@transaction.atomic
def change_customer_email(*, user: AbstractBaseUser, new_email: str) -> Customer:
    """The account's new address is verified: the customer record takes it. A guest record that
    had the address (orders placed as a guest with it) is merged in: its orders, notes,
    activities, consents, addresses, wishlist and campaign emails move over and it is deleted;
    its guest orders then join the account. Records EMAIL_CHANGED (and GUEST_ORDERS_ATTACHED when any).

    Raises AccountConflict, writing nothing, if another account's customer has the address.
    """
    new_email = normalise_email(new_email)
    customer = Customer.objects.select_for_update().filter(user=user).first()
    if customer is None:
        return attach_customer(user=user, email=new_email)
    if customer.email != new_email:
        customer = _move_to_email(customer=customer, email=new_email)
    count = _attach_guest_orders(customer=customer, user=user)
    if count:
        record_activity(customer=customer, kind=Activity.Kind.GUEST_ORDERS_ATTACHED,
                        message=f"{count} guest order(s) attached to the account", count=count)
    return customer


def _account_customer(user: AbstractBaseUser) -> Customer | None:
    return Customer.objects.filter(user=user).first()


def record_sign_in(*, user: AbstractBaseUser) -> Activity | None:
    """SIGNED_IN on the account's customer timeline (accounts without one, e.g. staff: nothing)."""
    customer = _account_customer(user)
    if customer is None:
        return None
    return record_activity(customer=customer, kind=Activity.Kind.SIGNED_IN, message="Signed in")


def record_sign_in_failed(*, email: str, ip: str = "") -> Activity | None:
    """SIGN_IN_FAILED when `email` belongs to an account; an unknown address records nothing."""
    customer = Customer.objects.filter(email=normalise_email(email), user__isnull=False).first()
    if customer is None:
        return None
    return record_activity(customer=customer, kind=Activity.Kind.SIGN_IN_FAILED,
                           message="Failed sign-in (wrong password)", ip=ip)


def record_password_changed(*, user: AbstractBaseUser, via: str) -> Activity | None:
    """PASSWORD_CHANGED; `via` is "change" (signed in) or "reset" (emailed link)."""
    customer = _account_customer(user)
    if customer is None:
        return None
    message = "Password reset by email link" if via == "reset" else "Password changed"
    return record_activity(customer=customer, kind=Activity.Kind.PASSWORD_CHANGED, message=message, via=via)


@transaction.atomic
def update_profile(*, customer: Customer, first_name: str, last_name: str, phone: str, language: str) -> Customer:
    """The customer's own name, phone and language; the account's names follow."""
    customer.first_name, customer.last_name = first_name.strip()[:100], last_name.strip()[:100]
    customer.phone, customer.language = phone.strip()[:40], language
    customer.save(update_fields=["first_name", "last_name", "phone", "language", "updated_at"])
    user = customer.user
    if user is not None:
        user.first_name, user.last_name = customer.first_name[:150], customer.last_name[:150]
        user.save(update_fields=["first_name", "last_name"])
    return customer


def set_wishlist_alerts(*, customer: Customer, enabled: bool) -> Customer:
    """Back-in-stock and price-drop emails about the wishlist on or off (service email, not
    marketing, so no consent record)."""
    if customer.wants_wishlist_alerts != enabled:
        customer.wants_wishlist_alerts = enabled
        customer.save(update_fields=["wants_wishlist_alerts", "updated_at"])
    return customer
