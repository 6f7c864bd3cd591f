"""The back office: staff issue a goodwill card (its code shown once), deactivate one with a
reason, and read its ledger; nobody edits a balance or deletes a card."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from giftcards import codes, services
from giftcards.models import GiftCard

pytestmark = pytest.mark.django_db
# The read-only ledger inline's management form, as the change page renders it (one row: the issue).
LEDGER_FORMSET = {"transactions-TOTAL_FORMS": "1", "transactions-INITIAL_FORMS": "1",
                  "transactions-MIN_NUM_FORMS": "0", "transactions-MAX_NUM_FORMS": "1000"}


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_issue_a_goodwill_card_and_see_its_code_once(admin_client, staff):
    response = admin_client.post(reverse("admin:giftcards_giftcard_add"), {
        "amount": "25.00", "reason": "Goodwill: parcel arrived late", "expires_at_0": "", "expires_at_1": "",
        "recipient_email": "", "recipient_name": "", "message": "", "deliver_at_0": "", "deliver_at_1": "",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    card = GiftCard.objects.get()
    [shown] = [str(m) for m in get_messages(response.wsgi_request) if "Gift card code" in str(m)]
    code = re.search(r'class="gift-card-code">([^<]+)<', shown)[1]
    assert codes.looks_like_code(code) and services.find_card(code=code) == card
    assert (card.balance, card.source, card.issued_by, card.reason) == (
        Decimal("25.00"), "issued", staff, "Goodwill: parcel arrived late")
    url = reverse("admin:giftcards_giftcard_change", args=[card.pk])
    assert code in admin_client.get(url).content.decode()  # the page after saving shows it
    page = admin_client.get(url).content.decode()
    assert code not in page and card.display_code in page  # masked from then on
    assert "Issued" in page and "$25.00" in page  # the ledger


def test_issuing_needs_a_reason_and_a_positive_value(admin_client):
    response = admin_client.post(reverse("admin:giftcards_giftcard_add"), {"amount": "0", "reason": ""})

    assert response.status_code == 200 and not GiftCard.objects.exists()
    errors = response.context["adminform"].form.errors
    assert "reason" in errors and "amount" in errors


def test_staff_deactivate_a_card_with_a_reason(admin_client, issue, staff):
    card, _code = issue("25.00")
    url = reverse("admin:giftcards_giftcard_change", args=[card.pk])

    refused = admin_client.post(url, {"expires_at_0": "", "expires_at_1": "", "deactivate": "on",
                                      "deactivation_note": "", **LEDGER_FORMSET})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"deactivation_note": ["Say why the card is deactivated."]}
    card.refresh_from_db()
    assert card.is_active

    done = admin_client.post(url, {"expires_at_0": "", "expires_at_1": "", "deactivate": "on",
                                   "deactivation_note": "Reported stolen", **LEDGER_FORMSET})
    assert done.status_code == 302
    card.refresh_from_db()
    assert (card.is_active, card.deactivation_reason, card.deactivated_by, card.balance) == (
        False, "Reported stolen", staff, Decimal("25.00"))


def test_the_card_list_costs_the_same_queries_for_many_cards(admin_client, issue, django_assert_max_num_queries):
    issue("5.00")
    url = reverse("admin:giftcards_giftcard_changelist")
    admin_client.get(url)
    with django_assert_max_num_queries(12):
        admin_client.get(url)
    for n in range(6):
        issue("5.00")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200 and response.content.decode().count("$5.00") >= 7


def test_nobody_deletes_a_card(admin_client, issue):
    card, _code = issue("5.00")
    response = admin_client.post(reverse("admin:giftcards_giftcard_delete", args=[card.pk]), {"post": "yes"})
    assert response.status_code == 403 and GiftCard.objects.filter(pk=card.pk).exists()
