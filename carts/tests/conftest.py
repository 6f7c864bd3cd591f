"""Fixtures for cart tests: shoppers (a guest session, a customer) over the storefront catalog.

The catalog is the root conftest's `storefront_catalog`: Camp Lamp LAMP-1 $35.00 with 8 in the
warehouse; Storm Shell SHELL-RED-S $120.00 (10), SHELL-BLUE-S $130.00 (3 downtown), SHELL-RED-M
(no stock); Harbour Parka PARKA-BLUE-L $200.00 (2); Trail Tee TEE-RED-M $20.00 (0); a draft
product (PROTO-1) and one in a hidden category (ATTIC-1).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore


@pytest.fixture
def guest():
    """A guest as the services see one: anonymous, with a session of their own (not yet saved)."""
    return SimpleNamespace(user=AnonymousUser(), session=SessionStore())


@pytest.fixture
def customer(db):
    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", password="correct horse 42")
    return SimpleNamespace(user=user, session=SessionStore(), password="correct horse 42")


@pytest.fixture
def cart_settings(settings):
    settings.CART_MAX_LINE_QUANTITY = 20
    return settings
