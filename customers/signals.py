"""allauth's and Django's account signals, handed to the account services.

The handlers only translate a signal into one service call; the rules live in
services/accounts.py. Connected in CustomersConfig.ready().
"""
from __future__ import annotations

import logging

from allauth.account import signals as allauth_signals
from allauth.account.models import EmailAddress
from django.contrib.auth.signals import user_logged_in

from .models import Customer
from .services import accounts, is_placeholder_email

logger = logging.getLogger(__name__)


def on_email_confirmed(sender, request, email_address: EmailAddress, **kwargs) -> None:
    """A sign-up's address verified: link or create the customer, attach guest orders.

    An account changing its address also confirms the new one first; email_changed (sent right
    after) handles that case, so it is left alone here. An account on a placeholder record (its
    address was not proved when it first needed one) takes the verified address now.
    """
    user = email_address.user
    customer = Customer.objects.filter(user=user).only("email").first()
    if (customer is not None and customer.email != email_address.email.lower()
            and not is_placeholder_email(customer.email)):
        return
    try:
        accounts.attach_customer(user=user, email=email_address.email)
    except accounts.AccountConflict:
        # Verification itself stands; staff reconcile the two records in the CRM.
        logger.exception("Verified email %s is another account's customer", email_address.email)


def on_email_changed(sender, request, user, from_email_address, to_email_address, **kwargs) -> None:
    try:
        accounts.change_customer_email(user=user, new_email=to_email_address.email)
    except accounts.AccountConflict:
        logger.exception("New email %s is another account's customer", to_email_address.email)


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    accounts.record_sign_in(user=user)


def on_password_changed(sender, request, user, **kwargs) -> None:
    accounts.record_password_changed(user=user, via="change")


def on_password_reset(sender, request, user, **kwargs) -> None:
    accounts.record_password_changed(user=user, via="reset")


def connect() -> None:
    allauth_signals.email_confirmed.connect(on_email_confirmed, dispatch_uid="customers.email_confirmed")
    allauth_signals.email_changed.connect(on_email_changed, dispatch_uid="customers.email_changed")
    allauth_signals.password_changed.connect(on_password_changed, dispatch_uid="customers.password_changed")
    allauth_signals.password_reset.connect(on_password_reset, dispatch_uid="customers.password_reset")
    user_logged_in.connect(on_user_logged_in, dispatch_uid="customers.user_logged_in")
