"""Writes about customers: finding or creating the customer of an order or an account, and the
records the CRM keeps (activity, audit log).

The account flows (sign-up, verification, consent, erasure), segments and stats have their own
modules beside this one as they grow; this module is what other apps call.
"""
from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser

from ..models import Activity, AuditLog, Customer

logger = logging.getLogger(__name__)


def normalise_email(email: str) -> str:
    """The form every Customer.email is stored in: trimmed and lower-cased."""
    return (email or "").strip().lower()


def _get_or_create_by_email(email: str, defaults: dict) -> Customer:
    """Two queries whether or not the customer exists (so checkout's cost does not depend on it),
    and safe when two requests create the same email at once: INSERT ... ON CONFLICT DO NOTHING,
    then read whichever row won."""
    email = normalise_email(email)
    Customer.objects.bulk_create([Customer(email=email, **defaults)], ignore_conflicts=True)
    return Customer.objects.get(email=email)


def customer_for_order(*, email: str, user: AbstractBaseUser | None = None, name: str = "",
                       phone: str = "") -> Customer:
    """The customer an order being placed belongs to: the signed-in account's (customer_for_user:
    never the record of whatever email was typed, which may be someone else's), else the one with
    this email (a guest who bought before), else a new guest customer.

    Costs one query when the customer exists. Safe under concurrent checkouts with the same email.
    """
    if user is not None and getattr(user, "is_authenticated", False):
        return customer_for_user(user=user)
    first, _sep, last = (name or "").strip().partition(" ")
    return _get_or_create_by_email(email, {"first_name": first[:100], "last_name": last[:100], "phone": phone[:40]})


def customer_for_user(*, user: AbstractBaseUser) -> Customer:
    """The account holder's customer record, created on first need (also for accounts made
    before the CRM existed, e.g. staff).

    An existing record with the account's email (a guest's, with orders and addresses) joins
    the account only if the account has verified that address (an allauth EmailAddress): staff
    accounts made with createsuperuser or in the admin sign in without proving theirs.
    Never another account's: when the record with the account's email already belongs to
    another account (a verification that met AccountConflict), or its address is not proved,
    the account gets a record of its own under a placeholder address, and a warning is logged
    for staff to reconcile the two.
    """
    customer = Customer.objects.filter(user=user).first()
    if customer is not None:
        return customer
    names = {"first_name": getattr(user, "first_name", "")[:100], "last_name": getattr(user, "last_name", "")[:100]}
    email = normalise_email(user.email)
    existing = Customer.objects.filter(email=email).first() if email else None
    if existing is None:
        customer = _get_or_create_by_email(email or _placeholder_email(user), names)
    elif existing.user_id is None and _has_verified(user=user, email=email):
        customer = existing
    else:
        logger.warning("Customer %s (%s) is not account %s's to take: %s", existing.pk, email, user.pk,
                       f"it is account {existing.user_id}'s" if existing.user_id else "address not verified")
        customer = _get_or_create_by_email(_placeholder_email(user), names)
    if customer.user_id not in (None, user.pk):
        # Another account linked the record between the two reads above.
        customer = _get_or_create_by_email(_placeholder_email(user), names)
    if customer.user_id is None:
        customer.user = user
        customer.save(update_fields=["user", "updated_at"])
    return customer


def _has_verified(*, user: AbstractBaseUser, email: str) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def _placeholder_email(user: AbstractBaseUser) -> str:
    # `.invalid` is reserved (RFC 2606): never delivered, never anyone's real address.
    return f"user-{user.pk}@invalid"


def is_placeholder_email(email: str) -> bool:
    """Whether `email` is the stand-in customer_for_user gives an account without a usable one."""
    return email.startswith("user-") and email.endswith("@invalid")


def record_activity(*, customer: Customer, kind: str, message: str = "", **data) -> Activity:
    return Activity.objects.create(customer=customer, kind=kind, message=message[:255], data=data)


def record_audit(*, action: str, actor: AbstractBaseUser | None, customer: Customer | None = None,
                 detail: str = "", **data) -> AuditLog:
    actor_repr = ""
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_repr = f"{actor.get_username()} (#{actor.pk})"
    return AuditLog.objects.create(
        action=action, actor=actor if actor_repr else None, actor_repr=actor_repr, customer=customer,
        detail=detail[:500], data=data,
    )
