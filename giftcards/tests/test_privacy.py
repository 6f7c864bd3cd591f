"""Gift cards in the customer's data download and erasure: the cards sent to them, bought or used
by them (never the full code), and on erasure the person's details gone from the cards while
every balance and ledger row stays (money records)."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from customers.services.data_export import export_customer_data
from customers.services.privacy import erase_customer
from customers.tests.privacy_data import full_customer
from giftcards import codes, selectors
from giftcards.models import GiftCard, GiftCardTransaction
from giftcards.services import _move, debit, issue_gift_card

pytestmark = pytest.mark.django_db


def _sold(order, *, to: str, sender: str, message: str, delivered: bool) -> GiftCard:
    card = GiftCard.objects.create(
        source=GiftCard.Source.SOLD, initial_balance=Decimal("25.00"), balance=Decimal("0"), currency="USD",
        order=order, recipient_email=to, recipient_name="Philomena", sender_name=sender, message=message,
        delivered_at=timezone.now() if delivered else None,
        deliver_at=None if delivered else timezone.now() + timedelta(days=30),
        code_hash=f"h{order.pk}{delivered}" if delivered else None, last4="WXYZ" if delivered else "")
    _move(card, kind=GiftCardTransaction.Kind.ISSUE, amount=Decimal("25.00"))
    return card


@pytest.fixture
def cards(db):
    ada = full_customer("zebedee", first="Zebedee", last="Quillfeather", total=Decimal("123.45"))
    bob = full_customer("philomena", first="Philomena", last="Brightwater", total=Decimal("678.90"))
    # A goodwill card sent to Ada (her address typed in capitals), part spent on her order.
    to_ada, code = issue_gift_card(amount=Decimal("30.00"), user=ada.staff,
                                   reason="Goodwill for Zebedee Quillfeather: late parcel")
    GiftCard.objects.filter(pk=to_ada.pk).update(recipient_email=ada.email.upper(),
                                                 recipient_name="Zebedee Quillfeather",
                                                 message="Sorry about the parcel, Zebedee")
    to_ada.refresh_from_db()
    debit(card=to_ada, amount=Decimal("10.00"), order=ada.order, payment=None, user=ada.user)
    # A card Ada bought for Bob, delivered, that Bob spent part of on his own order.
    for_bob = _sold(ada.order, to=bob.email, sender="Zebedee", message="For Philomena, love Zebedee", delivered=True)
    debit(card=for_bob, amount=Decimal("5.00"), order=bob.order, payment=None, user=bob.user)
    # One Ada bought for next month, not delivered yet.
    waiting = _sold(ada.order, to="someone@example.com", sender="Zebedee", message="Happy birthday from Zebedee",
                    delivered=False)
    # One sent to Ada's old address (still on her account).
    old_address, _ = issue_gift_card(amount=Decimal("12.00"), user=ada.staff, reason="Goodwill",
                                     recipient_email="zebedee.old@example.net")
    # Bob's own card: nothing to do with Ada.
    bobs, _ = issue_gift_card(amount=Decimal("15.00"), user=ada.staff, reason="Goodwill for Philomena",
                              recipient_email=bob.email, recipient_name="Philomena", message="For Philomena")
    return SimpleNamespace(ada=ada, bob=bob, old_address=old_address, to_ada=to_ada, code=code, for_bob=for_bob, waiting=waiting, bobs=bobs)


def test_the_download_holds_their_gift_cards_with_balance_and_ledger_never_the_code(cards):
    data = export_customer_data(customer=cards.ada.customer)

    assert len(data["gift_cards"]) == 4  # not Bob's own card
    assert [r["initial_value"] for r in data["gift_cards"] if r["recipient_email"] == "zebedee.old@example.net"] == [
        "12.00"]
    mine = next(r for r in data["gift_cards"] if r["sent_to_you"] and r["used_by_you"])
    assert mine["code"] == cards.to_ada.display_code and mine["balance"] == "20.00"
    assert (mine["used_by_you"], mine["bought_by_you"]) == (True, False)
    assert [(t["kind"], t["amount"], t["balance_after"], t["order"]) for t in mine["ledger"]] == [
        ("issue", "30.00", "30.00", None), ("debit", "-10.00", "20.00", cards.ada.order.number)]
    assert mine["message"] == "Sorry about the parcel, Zebedee"
    # Bought for Bob: what she bought and wrote, not Bob's spending (nor his order).
    gift = next(r for r in data["gift_cards"] if r["bought_by_you"] and r["delivered_at"])
    assert (gift["recipient_email"], gift["message"], gift["initial_value"]) == (
        cards.bob.email, "For Philomena, love Zebedee", "25.00")
    assert "balance" not in gift and "ledger" not in gift and not gift["sent_to_you"]
    text = json.dumps(data)
    assert cards.bob.order.number not in text and "Goodwill for Philomena" not in text
    assert cards.code not in text and codes.normalise(cards.code) not in text


def test_erasure_keeps_the_ledger_and_balances_and_drops_the_person_from_the_cards(cards):
    ledger_before = list(GiftCardTransaction.objects.order_by("pk").values_list("card", "kind", "amount",
                                                                               "balance_after", "order"))
    balances_before = dict(GiftCard.objects.values_list("pk", "balance"))
    bobs_before = GiftCard.objects.filter(pk=cards.bobs.pk).values().get()

    erase_customer(customer=cards.ada.customer, actor=cards.ada.user, reason="asked")

    assert list(GiftCardTransaction.objects.order_by("pk").values_list("card", "kind", "amount", "balance_after",
                                                                       "order")) == ledger_before
    assert dict(GiftCard.objects.values_list("pk", "balance")) == balances_before
    assert not selectors.ledger_mismatches().exists()
    assert GiftCard.objects.get(pk=cards.old_address.pk).recipient_email == ""
    to_ada = GiftCard.objects.get(pk=cards.to_ada.pk)
    assert (to_ada.recipient_email, to_ada.recipient_name, to_ada.message) == ("", "", "")
    assert "Quillfeather" not in to_ada.reason and "late parcel" in to_ada.reason
    for_bob = GiftCard.objects.get(pk=cards.for_bob.pk)
    assert (for_bob.sender_name, for_bob.message, for_bob.recipient_email) == ("", "", "")
    # Someone else's gift still to be delivered keeps where it goes and what it says, not who sent it.
    waiting = GiftCard.objects.get(pk=cards.waiting.pk)
    assert (waiting.recipient_email, waiting.message, waiting.sender_name) == (
        "someone@example.com", "Happy birthday from Zebedee", "")
    assert GiftCard.objects.filter(pk=cards.bobs.pk).values().get() == bobs_before
    rows = "\n".join(str(r) for r in GiftCard.objects.exclude(pk=cards.waiting.pk).values()).lower()
    assert cards.ada.email.lower() not in rows and "quillfeather" not in rows


def test_erasure_drops_the_person_from_the_cards_events_too(cards):
    from giftcards.models import GiftCardEvent

    sent_again = GiftCardEvent.objects.create(
        card=cards.to_ada, kind="resent", by="staff", recipient_email=cards.ada.email,
        previous_email="zebedee.typo@example.com", note="Zebedee Quillfeather called", key="e" * 24)
    corrected = GiftCardEvent.objects.create(
        card=cards.waiting, kind="recipient", by="purchaser", recipient_email="someone@example.com",
        previous_email="someone@exmaple.com", key="f" * 24)

    erase_customer(customer=cards.ada.customer, actor=cards.ada.user, reason="asked")

    sent_again.refresh_from_db()
    corrected.refresh_from_db()
    assert (sent_again.recipient_email, sent_again.previous_email) == ("", "")
    assert "Quillfeather" not in sent_again.note
    # someone else's gift still waiting keeps where it goes
    assert (corrected.recipient_email, corrected.previous_email) == ("someone@example.com", "")
