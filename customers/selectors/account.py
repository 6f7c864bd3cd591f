"""Reads for the shopper's own account pages and for checkout's address picker."""
from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from ..models import Address, Customer


def customer_addresses(*, customer: Customer) -> QuerySet[Address]:
    """The address book, defaults first (the model's ordering). One query."""
    return Address.objects.filter(customer=customer)


def account_addresses(*, user: AbstractBaseUser | None) -> list[Address]:
    """A signed-in shopper's address book without loading their customer row (checkout). One
    query; no query and [] for a guest."""
    if user is None or not user.is_authenticated:
        return []
    return list(Address.objects.filter(customer__user=user))
