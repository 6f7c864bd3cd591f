"""The buyer of a gift card has it sent again from their account (as a browser submits the page:
WebTest), to the same recipient or a corrected address; the rules of `giftcards.resend`: a new
code each time, once per click, never the code shown, only the buyer, a spent card's address
changed only by staff, a daily limit, a card waiting for its day only changes recipient, and a
failed send changes nothing."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from smtplib import SMTPException

import pytest
from django.core import mail
from django.utils import timezone

from giftcards import codes, services
from giftcards.exceptions import CannotResend, CardNotFound
from giftcards.models import GiftCard, GiftCardEvent
from giftcards.resend import PURCHASER_DAILY_RESENDS, resend_gift_card
from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
By = GiftCardEvent.By


def code_in(email) -> str:
    return next(word for word in email.body.split() if codes.looks_like_code(word))


@pytest.fixture
def buyer(db):
    from customers.tests.helpers import verified_account

    user, _customer = verified_account("buyer@example.com")
    return user


@pytest.fixture
def bought_card(buyer, django_capture_on_commit_callbacks):
    """A $50 card the buyer paid for, emailed to a mistyped address."""
    order = OrderFactory(user=buyer, email="buyer@example.com")
    card = GiftCard.objects.create(source=GiftCard.Source.SOLD, initial_balance=Decimal("50.00"),
                                   balance=Decimal("0"), currency="USD", is_active=True, order=order,
                                   recipient_email="grace@exmaple.com", recipient_name="Grace", sender_name="Bo")
    with django_capture_on_commit_callbacks(execute=True):
        [locked] = services.lock_cards([card.pk])
        services._move(locked, kind="issue", amount=Decimal("50.00"), order=order, note="Bought")
        assert services.deliver_gift_card(card_id=card.pk)
    card.refresh_from_db()
    mail.outbox.clear()
    return card


def test_the_buyer_has_the_card_sent_again_to_a_corrected_address_from_their_account(django_app, buyer,
                                                                                      bought_card):
    django_app.set_user(buyer)
    page = django_app.get("/gift-cards/account/")
    assert "Sent to grace@exmaple.com" in page.text
    form = next(f for f in page.forms.values() if f.action.endswith(f"/{bought_card.pk}/resend/"))
    form[f"card{bought_card.pk}-recipient_email"] = "grace@example.com"

    done = form.submit().follow()

    [email] = mail.outbox
    assert email.to == ["grace@example.com"] and "no longer works" in email.body
    assert code_in(email) not in done.text  # the buyer never sees the code
    assert "emailed again to grace@example.com" in done.text
    bought_card.refresh_from_db()
    assert services.find_card(code=code_in(email)) == bought_card
    event = GiftCardEvent.objects.get(card=bought_card)
    assert (event.by, event.user, event.previous_email, event.recipient_email) == (
        "purchaser", buyer, "grace@exmaple.com", "grace@example.com")

    form.submit().follow()  # the same click again
    assert len(mail.outbox) == 1 and GiftCardEvent.objects.count() == 1


def test_nobody_else_can_send_the_card_again(client, bought_card):
    from customers.tests.helpers import verified_account

    other, _customer = verified_account("other@example.com")
    client.force_login(other)
    assert f"/{bought_card.pk}/resend/" not in client.get("/gift-cards/account/").content.decode()

    response = client.post(f"/gift-cards/account/{bought_card.pk}/resend/", {
        f"card{bought_card.pk}-recipient_email": "thief@example.com", f"card{bought_card.pk}-key": "k" * 24})

    assert response.status_code == 404
    with pytest.raises(CannotResend, match="Only the person who bought"):
        resend_gift_card(card_id=bought_card.pk, user=other, by=By.PURCHASER, key="x" * 24,
                         recipient_email="thief@example.com")
    assert not mail.outbox and not GiftCardEvent.objects.exists()


def test_the_account_page_stays_within_its_query_budget_with_cards_to_send_again(client, buyer, bought_card,
                                                                                 django_assert_max_num_queries):
    client.force_login(buyer)
    client.get("/gift-cards/account/")
    with django_assert_max_num_queries(12):
        response = client.get("/gift-cards/account/")
    assert "Not received? Send it again" in response.content.decode()


def test_a_spent_card_goes_to_another_address_only_through_the_store(buyer, bought_card, staff):
    from giftcards.services import debit, lock_cards

    [locked] = lock_cards([bought_card.pk])
    debit(card=locked, amount=Decimal("10.00"), order=OrderFactory(), payment=None, user=None)

    with pytest.raises(CannotResend, match="already been used"):
        resend_gift_card(card_id=bought_card.pk, user=buyer, by=By.PURCHASER, key="a" * 24,
                         recipient_email="me@example.com")
    # to the same recipient it may go again; staff may correct it
    assert resend_gift_card(card_id=bought_card.pk, user=buyer, by=By.PURCHASER, key="b" * 24).sent
    assert resend_gift_card(card_id=bought_card.pk, user=staff, by=By.STAFF, key="c" * 24,
                            recipient_email="grace@example.com").sent
    assert [m.to for m in mail.outbox] == [["grace@exmaple.com"], ["grace@example.com"]]
    assert "$40.00" in mail.outbox[-1].body  # the balance left


def test_a_buyer_resends_a_few_times_a_day_at_most(buyer, bought_card):
    for n in range(PURCHASER_DAILY_RESENDS):
        resend_gift_card(card_id=bought_card.pk, user=buyer, by=By.PURCHASER, key=f"{n}" * 24)
    with pytest.raises(CannotResend, match="too often"):
        resend_gift_card(card_id=bought_card.pk, user=buyer, by=By.PURCHASER, key="z" * 24)
    assert len(mail.outbox) == PURCHASER_DAILY_RESENDS


def test_a_card_waiting_for_its_day_only_changes_recipient(buyer, django_capture_on_commit_callbacks):
    order = OrderFactory(user=buyer)
    day = timezone.now() + timedelta(days=5)
    card = GiftCard.objects.create(source=GiftCard.Source.SOLD, initial_balance=Decimal("20.00"),
                                   balance=Decimal("20.00"), currency="USD", is_active=True, order=order,
                                   recipient_email="grace@exmaple.com", deliver_at=day)

    with pytest.raises(CannotResend, match="delivery day"):
        resend_gift_card(card_id=card.pk, user=buyer, by=By.PURCHASER, key="a" * 24)
    done = resend_gift_card(card_id=card.pk, user=buyer, by=By.PURCHASER, key="b" * 24,
                            recipient_email="grace@example.com")

    assert (done.sent, done.event.kind) == (False, "recipient") and not mail.outbox
    card.refresh_from_db()
    assert card.recipient_email == "grace@example.com" and card.code_hash is None
    assert services.deliver_due_gift_cards(now=day + timedelta(minutes=1)) == 1
    assert mail.outbox[0].to == ["grace@example.com"]


def test_a_deactivated_or_unpaid_card_is_not_sent(buyer, bought_card, staff):
    services.deactivate_gift_card(card_id=bought_card.pk, user=staff, reason="Lost")
    with pytest.raises(CannotResend, match="deactivated"):
        resend_gift_card(card_id=bought_card.pk, user=staff, by=By.STAFF, key="a" * 24)
    unpaid = GiftCard.objects.create(source=GiftCard.Source.SOLD, initial_balance=Decimal("5.00"),
                                     balance=Decimal("0"), currency="USD", is_active=False,
                                     order=OrderFactory(user=buyer), recipient_email="grace@example.com")
    with pytest.raises(CannotResend, match="not paid yet"):
        resend_gift_card(card_id=unpaid.pk, user=buyer, by=By.PURCHASER, key="b" * 24)
    assert not mail.outbox


def test_a_failed_send_changes_nothing_and_the_old_code_still_works(buyer, bought_card, monkeypatch):
    first = bought_card.code_hash

    def refuse(self, fail_silently=False):
        raise SMTPException("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    with pytest.raises(SMTPException):
        resend_gift_card(card_id=bought_card.pk, user=buyer, by=By.PURCHASER, key="a" * 24,
                         recipient_email="grace@example.com")

    bought_card.refresh_from_db()
    assert (bought_card.code_hash, bought_card.recipient_email) == (first, "grace@exmaple.com")
    assert not GiftCardEvent.objects.exists()
    with pytest.raises(CardNotFound):
        services.find_card(code="AAAA-BBBB-CCCC-DDDD")
