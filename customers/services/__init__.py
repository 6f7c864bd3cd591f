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


def normalise_phone(phone: str, *, country: str | None = None) -> str:
    """A phone number as compared for identity: E.164 ("+447700900123"), the form WhatsApp's sender
    ids take (without the "+"). A number written without its country code ("07700 900123",
    "(201) 555-0100") is read as one of `country`, by default the store's own
    (`checkout.selectors.default_country`, from STORE_LOCALE); a "+" or that country's
    international prefix ("0044 ...") says otherwise. Read with Google's libphonenumber
    (`phonenumbers`), which knows each country's trunk prefix and lengths. Empty when it has no
    digits or cannot be a whole number (too short or long, a local number without its area code).
    """
    import phonenumbers

    raw = (phone or "").strip()
    if not any(ch.isdigit() for ch in raw):
        return ""
    if country is None:
        from checkout.selectors import default_country

        country = default_country()
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return ""
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def customer_for_order(*, email: str, user: AbstractBaseUser | None = None, name: str = "",
                       phone: str = "", phone_verified: bool = False) -> Customer:
    """The customer an order being placed belongs to, whatever the channel (web, phone, counter):
    the signed-in account's (customer_for_user: never the record of whatever email was typed,
    which may be someone else's), else the one with this email (a guest who bought before), else,
    when the caller verified `phone` (`phone_verified`: staff at the counter), the customer whose
    verified number it is, else a new guest customer.

    An email always wins over a phone: a number is only followed when no customer has the email.
    Costs one query when the customer exists (two with a verified phone). Safe under concurrent
    checkouts with the same email.
    """
    if user is not None and getattr(user, "is_authenticated", False):
        return customer_for_user(user=user)
    number = normalise_phone(phone) if phone_verified else ""
    if number:
        email_taken = Customer.objects.filter(email=normalise_email(email)).exists() if email else False
        by_phone = None if email_taken else Customer.objects.filter(verified_phone=number).first()
        if by_phone is not None:
            return by_phone
    first, _sep, last = (name or "").strip().partition(" ")
    return _get_or_create_by_email(email, {"first_name": first[:100], "last_name": last[:100], "phone": phone[:40]})


def verify_phone(*, customer_id: int, phone: str, user: AbstractBaseUser | None = None,
                 note: str = "") -> Customer:
    """Record that `phone` is proved to be this customer's; orders giving it then attach here.
    `note` says how staff checked it (ID seen at the counter, a call back), kept on the timeline.

    The number is stored in E.164 (`normalise_phone`), so it matches a WhatsApp sender however
    staff typed it. Raises ValueError, changing nothing, for a number without digits, one that
    cannot be a whole number, or one another customer has verified (the unique constraint stands
    behind the check). Writes an Activity.
    """
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    if not any(ch.isdigit() for ch in phone or ""):
        raise ValueError("A phone number needs digits.")
    number = normalise_phone(phone)
    if not number:
        raise ValueError(f"{phone.strip()} is not a whole phone number: give it with its area code, and with "
                         f"+ and the country code if it is not from this store's country.")
    try:
        with transaction.atomic():
            customer = Customer.objects.select_for_update().get(pk=customer_id)
            if Customer.objects.filter(verified_phone=number).exclude(pk=customer.pk).exists():
                raise ValueError(f"{number} is already verified for another customer.")
            customer.verified_phone = number
            customer.phone = customer.phone or phone.strip()[:40]
            customer.phone_verified_at = timezone.now()
            customer.save(update_fields=["verified_phone", "phone", "phone_verified_at", "updated_at"])
            Activity.objects.create(customer=customer, kind=Activity.Kind.PHONE_VERIFIED, message=number,
                                    data={"by": getattr(user, "pk", None), "note": note.strip()[:255]})
    except IntegrityError as error:
        raise ValueError(f"{number} is already verified for another customer.") from error
    return customer


def unverify_phone(*, customer_id: int, user: AbstractBaseUser | None, reason: str) -> Customer:
    """The customer's number is no longer proved theirs (a number given up, a mistake): orders and
    messages giving it stop attaching here. Raises ValueError, changing nothing, when no number is
    verified or no reason is given. Writes an Activity with the number and the reason."""
    from django.db import transaction

    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Say why the verification is removed.")
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        if not customer.verified_phone:
            raise ValueError("This customer has no verified phone number.")
        number = customer.verified_phone
        customer.verified_phone = ""
        customer.phone_verified_at = None
        customer.save(update_fields=["verified_phone", "phone_verified_at", "updated_at"])
        Activity.objects.create(customer=customer, kind=Activity.Kind.PHONE_UNVERIFIED, message=number,
                                data={"by": getattr(user, "pk", None), "reason": reason[:255]})
    return customer

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
