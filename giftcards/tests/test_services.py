"""Gift card services: codes, issuing, the ledger, finding a card (rate limited), deactivation,
and delivery."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from giftcards import codes, selectors, services
from giftcards.exceptions import CardNotFound, CardNotUsable, InsufficientBalance, TooManyAttempts
from giftcards.models import GiftCard, GiftCardTransaction

pytestmark = pytest.mark.django_db


def test_codes_use_the_unambiguous_alphabet_and_are_typed_forgivingly():
    code = codes.new_code()

    assert len(code) == 19 and code.count("-") == 3
    assert not set(code.replace("-", "")) & set("01OILUV")
    assert codes.looks_like_code(code.lower().replace("-", " "))
    assert codes.code_hash(code) == codes.code_hash(f"  {code.lower()} ")
    assert not codes.looks_like_code(code[:-1]) and not codes.looks_like_code(code[:-1] + "O")


def test_an_issued_card_has_its_value_in_the_ledger_and_its_code_only_once(issue, staff):
    card, code = issue("50.00")

    card.refresh_from_db()
    assert card.balance == card.initial_balance == Decimal("50.00")
    assert card.issued_by == staff and card.reason == "Goodwill: late parcel"
    assert list(card.transactions.values_list("kind", "amount", "balance_after")) == [
        ("issue", Decimal("50.00"), Decimal("50.00"))]
    # Only a keyed hash and the last four are stored.
    assert code.replace("-", "") not in str(GiftCard.objects.filter(pk=card.pk).values().get())
    assert card.display_code.endswith(code[-4:]) and code not in str(card)
    assert services.find_card(code=code) == card


@pytest.mark.parametrize("amount, reason", [("0", "Goodwill"), ("-5", "Goodwill"), ("10", "  ")])
def test_issuing_refuses_a_bad_amount_or_no_reason(staff, amount, reason):
    with pytest.raises(ValueError):
        services.issue_gift_card(amount=Decimal(amount), user=staff, reason=reason)
    assert not GiftCard.objects.exists()


def test_a_card_for_a_recipient_is_emailed_with_its_code_once(staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        card, code = services.issue_gift_card(amount=Decimal("30"), user=staff, reason="Goodwill",
                                              recipient_email="ada@example.com", message="Sorry about the wait!")
    assert code == ""  # nobody but the recipient sees it
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    sent_code = next(word for word in email.body.split() if codes.looks_like_code(word))
    assert email.to == ["ada@example.com"] and "Sorry about the wait!" in email.body and "$30.00" in email.body
    assert services.find_card(code=sent_code) == card

    # Again (a duplicate task, the beat job): nothing more is sent, the code does not change.
    assert services.deliver_gift_card(card_id=card.pk) is False
    assert services.deliver_due_gift_cards() == 0
    assert len(mail.outbox) == 1 and services.find_card(code=sent_code) == card


def test_a_card_for_later_is_delivered_by_the_beat_job_on_its_day(staff, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        card, _code = services.issue_gift_card(amount=Decimal("30"), user=staff, reason="Birthday",
                                               recipient_email="ada@example.com", deliver_at=later)
    assert mail.outbox == [] and services.deliver_due_gift_cards() == 0

    assert services.deliver_due_gift_cards(now=later + timedelta(minutes=1)) == 1

    card.refresh_from_db()
    assert len(mail.outbox) == 1 and card.delivered_at is not None


def test_a_failed_send_leaves_the_card_undelivered_for_the_next_run(staff, monkeypatch):
    card, _code = services.issue_gift_card(amount=Decimal("30"), user=staff, reason="Goodwill",
                                           recipient_email="ada@example.com")

    def down(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", down)
    assert services.deliver_due_gift_cards() == 0
    card.refresh_from_db()
    assert card.delivered_at is None and card.code_hash is None
    monkeypatch.undo()
    assert services.deliver_due_gift_cards() == 1


def test_wrong_codes_are_rate_limited_per_address_and_session(issue):
    cache.clear()
    card, code = issue()
    for _ in range(services.CODE_ATTEMPTS):
        with pytest.raises(CardNotFound):
            services.find_card(code=codes.new_code(), address="203.0.113.9", session_key="s1")

    # Even the right code is refused now, from that address or that session.
    with pytest.raises(TooManyAttempts):
        services.find_card(code=code, address="203.0.113.9", session_key="s2")
    with pytest.raises(TooManyAttempts):
        services.find_card(code=code, address="198.51.100.7", session_key="s1")
    assert services.find_card(code=code, address="198.51.100.7", session_key="s3") == card


def test_unusable_cards_say_why(issue, staff):
    expired, expired_code = issue(expires_at=timezone.now() + timedelta(days=1))
    GiftCard.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    stopped, stopped_code = issue()
    services.deactivate_gift_card(card_id=stopped.pk, user=staff, reason="Reported stolen")

    with pytest.raises(CardNotUsable, match="expired"):
        services.find_card(code=expired_code)
    with pytest.raises(CardNotUsable) as error:
        services.find_card(code=stopped_code)
    assert "deactivated" in str(error.value)
    stopped.refresh_from_db()
    assert (stopped.is_active, stopped.deactivated_by, stopped.deactivation_reason, stopped.balance) == (
        False, staff, "Reported stolen", Decimal("50.00"))


def test_the_database_refuses_a_negative_balance(issue):
    card, _code = issue("10")
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(balance=Decimal("-0.01"))


# --- The ledger's rules, over random sequences of moves -----------------------------------------

moves = st.lists(
    st.tuples(st.sampled_from(["debit", "credit"]), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("80"),
                                                              places=2)),
    min_size=1, max_size=12,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200"), places=2), steps=moves)
def test_the_balance_is_always_the_ledger_sum_and_never_negative(staff, start, steps):
    with transaction.atomic():
        card, _code = services.issue_gift_card(amount=start, user=staff, reason="Property test")
        expected = start
        for kind, amount in steps:
            (locked,) = services.lock_cards([card.pk])
            if kind == "debit":
                if amount > expected:
                    with pytest.raises(InsufficientBalance):
                        services._move(locked, kind=GiftCardTransaction.Kind.DEBIT, amount=-amount)
                    continue
                services._move(locked, kind=GiftCardTransaction.Kind.DEBIT, amount=-amount)
                expected -= amount
            else:
                services._move(locked, kind=GiftCardTransaction.Kind.REFUND, amount=amount)
                expected += amount
        card.refresh_from_db()
        rows = list(card.transactions.order_by("pk").values_list("amount", "balance_after"))
        assert card.balance == expected == sum(a for a, _ in rows) >= 0
        running = Decimal("0")
        for amount, after in rows:  # every row's balance_after is the running sum
            running += amount
            assert after == running >= 0
        assert not selectors.ledger_mismatches().exists()
        transaction.set_rollback(True)


def test_the_ledger_check_finds_a_balance_changed_behind_its_back(issue):
    card, _code = issue("20")
    assert not selectors.ledger_mismatches().exists()

    GiftCard.objects.filter(pk=card.pk).update(balance=Decimal("25"))

    assert list(selectors.ledger_mismatches()) == [card]


def test_the_embedded_default_delivers_a_card_on_its_day_from_the_background_schedule(staff, settings):
    """Without a broker the web process's thread runs the beat schedule (shop/background.py): a card
    due today is emailed by its tick, as a worker's beat would."""
    from shop.background import Runner

    later = timezone.now() + timedelta(days=2)
    services.issue_gift_card(amount=Decimal("30"), user=staff, reason="Birthday", recipient_email="ada@example.com",
                             deliver_at=later)
    start = timezone.now()
    runner = Runner(beat_schedule=settings.CELERY_BEAT_SCHEDULE, clock=lambda: start)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later + timedelta(minutes=1))
        ran = runner.tick(now=start + timedelta(minutes=2))

    assert "deliver-due-gift-cards" in ran
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
