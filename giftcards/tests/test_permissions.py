"""Who may do what with gift cards in the back office (giftcards/migrations/0002_staff_permissions):
Support reads cards and their ledgers; issuing and deactivating take an order manager."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from giftcards.models import GiftCard, GiftCardEvent, GiftCardTransaction

pytestmark = pytest.mark.django_db

ISSUE_POST = {"amount": "25.00", "reason": "Goodwill: parcel arrived late", "expires_at_0": "", "expires_at_1": "",
              "recipient_email": "", "recipient_name": "", "message": "", "deliver_at_0": "", "deliver_at_1": ""}
LEDGER_FORMSET = {"transactions-TOTAL_FORMS": "2", "transactions-INITIAL_FORMS": "2",
                  "transactions-MIN_NUM_FORMS": "0", "transactions-MAX_NUM_FORMS": "1000"}
DEACTIVATE_POST = {"expires_at_0": "", "expires_at_1": "", "deactivate": "on", "deactivation_note": "Reported stolen",
                   **LEDGER_FORMSET}


def member_of(client, group: str, username: str):
    user = get_user_model().objects.create_user(username=username, email=f"{username}@store.example",
                                                password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))  # the group as the migration seeded it
    client.force_login(user)
    return user


@pytest.fixture
def spent_card(issue):
    """A $40 card with a debit in its ledger (as after paying part of an order)."""
    from orders.tests.factories import OrderFactory

    from giftcards.services import debit, lock_cards

    card, _code = issue("40.00", reason="Goodwill: broken lamp")
    order = OrderFactory(total=Decimal("15.00"))
    [locked] = lock_cards([card.pk])
    debit(card=locked, amount=Decimal("15.00"), order=order, payment=None, user=None)
    card.refresh_from_db()
    return card, order


def test_support_staff_can_read_cards_and_ledgers_but_not_issue_or_deactivate(client, spent_card):
    card, order = spent_card
    member_of(client, "Support", "sue")

    listing = client.get(reverse("admin:giftcards_giftcard_changelist"))
    assert listing.status_code == 200 and card.display_code in listing.content.decode()
    url = reverse("admin:giftcards_giftcard_change", args=[card.pk])
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "$25.00" in text and "Goodwill: broken lamp" in text  # the balance and why it was issued
    assert order.number in text and "Paid for an order" in text and "-15.00" in text  # the ledger's debit
    assert 'name="deactivate"' not in text and 'name="_save"' not in text  # read only
    assert 'href="/admin/giftcards/giftcard/add/"' not in listing.content.decode()

    assert client.get(reverse("admin:giftcards_giftcard_add")).status_code == 403
    assert client.post(reverse("admin:giftcards_giftcard_add"), ISSUE_POST).status_code == 403
    assert GiftCard.objects.count() == 1
    refused = client.post(url, DEACTIVATE_POST)
    assert refused.status_code == 403
    card.refresh_from_db()
    assert card.is_active and card.balance == Decimal("25.00") and GiftCardTransaction.objects.count() == 2


def test_an_order_manager_issues_deactivates_and_sends_cards_again(django_app, client, spent_card):
    """As a browser submits the pages (WebTest), signed in as a member of the seeded group."""
    card, _order = spent_card
    manager = member_of(client, "Order managers", "olga")
    django_app.set_user(manager)

    form = django_app.get(reverse("admin:giftcards_giftcard_add")).forms["giftcard_form"]
    form["amount"], form["reason"] = "25.00", "Goodwill: parcel arrived late"
    form.submit("_save").follow()
    new = GiftCard.objects.exclude(pk=card.pk).get()
    assert (new.balance, new.issued_by) == (Decimal("25.00"), manager)

    resend = django_app.get(reverse("admin:giftcards_giftcard_change", args=[card.pk])).click(linkid="resend-gift-card")
    form = resend.forms["resend-form"]
    form["recipient_email"] = "ada@example.com"
    form.submit().follow()
    assert GiftCardEvent.objects.get(card=card, kind="resent").user == manager

    form = django_app.get(reverse("admin:giftcards_giftcard_change", args=[card.pk])).forms["giftcard_form"]
    form["deactivate"].checked = True
    form["deactivation_note"] = "Reported stolen"
    form.submit("_save").follow()
    card.refresh_from_db()
    assert (card.is_active, card.deactivated_by, card.balance) == (False, manager, Decimal("25.00"))


def test_support_staff_cannot_send_a_card_again(client, spent_card):
    card, _order = spent_card
    member_of(client, "Support", "sue")
    url = reverse("admin:giftcards_giftcard_resend", args=[card.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"recipient_email": "thief@example.com", "key": "k" * 24}).status_code == 403
    assert 'id="resend-gift-card"' not in client.get(
        reverse("admin:giftcards_giftcard_change", args=[card.pk])).content.decode()
    assert not GiftCardEvent.objects.exists()
    card.refresh_from_db()
    assert card.recipient_email == ""


def test_other_staff_without_a_gift_card_permission_see_nothing(client, spent_card):
    card, _order = spent_card
    user = get_user_model().objects.create_user(username="nobody", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(reverse("admin:giftcards_giftcard_changelist")).status_code == 403
    assert client.get(reverse("admin:giftcards_giftcard_change", args=[card.pk])).status_code == 403
