"""Refunds awaiting their provider, and the one service that sends them (`send_awaiting_refunds`,
`send_refund`): the provider is asked with no transaction open, each refund is claimed by a
conditional UPDATE first, so a second sender arriving while the first is asking asks nothing.
(The same with two real workers on PostgreSQL: `test_concurrency.py`.)"""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from orders.models import Order, OrderEvent
from payments.exceptions import ProviderUnavailable
from payments.models import Payment, Refund
from payments.providers.base import RefundResult
from payments.providers.demo import DemoProvider
from payments.services import open_refund, refund_by_hand, send_awaiting_refunds, send_refund

from .helpers import in_transaction

pytestmark = pytest.mark.django_db
R = Refund.Status


def opened(payment: Payment, amount: str = "20.00") -> Refund:
    """A refund recorded pending and committed, as the jobs leave it before sending."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        return open_refund(payment=locked, amount=Decimal(amount), user=None, reason="Test")


@pytest.fixture
def asked(monkeypatch) -> list:
    """The demo provider's refund calls: (refund id, idempotency key, inside a transaction?)."""
    calls = []
    real = DemoProvider.refund

    def refund(self, refund):
        calls.append((refund.pk, refund.idempotency_key, in_transaction()))
        return real(self, refund)

    monkeypatch.setattr(DemoProvider, "refund", refund)
    return calls


def test_awaiting_provider_is_the_same_question_as_the_property(demo_paid):
    waiting = opened(demo_paid, "10.00")
    answered = opened(demo_paid, "10.00")
    Refund.objects.filter(pk=answered.pk).update(provider_reference="demo_re_x")
    failed = opened(demo_paid, "10.00")
    Refund.objects.filter(pk=failed.pk).update(status=R.FAILED)
    done = opened(demo_paid, "10.00")
    Refund.objects.filter(pk=done.pk).update(status=R.SUCCEEDED, provider_reference="demo_re_y")

    assert list(Refund.objects.awaiting_provider()) == [waiting]
    assert [r for r in Refund.objects.all() if r.awaiting_provider] == [waiting]
    assert list(demo_paid.refunds.awaiting_provider()) == [waiting]  # on related managers too


def test_the_provider_is_asked_outside_any_transaction_and_the_answer_recorded(demo_paid, asked):
    first, second = opened(demo_paid, "20.00"), opened(demo_paid, "30.00")

    assert send_awaiting_refunds() == 2

    assert asked == [(first.pk, first.idempotency_key, False), (second.pk, second.idempotency_key, False)]
    for refund in (first, second):
        refund.refresh_from_db()
        assert refund.status == R.SUCCEEDED and refund.provider_reference.startswith("demo_re_")
        assert refund.sending_since is None
    order = Order.objects.get(pk=demo_paid.order_id)
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    assert send_awaiting_refunds() == 0 and len(asked) == 2  # idempotent: nothing left to send


def test_a_second_sender_arriving_while_the_provider_is_asked_asks_nothing(demo_paid, monkeypatch):
    """The conditional-UPDATE guard: a second worker runs the job while the first is still waiting
    for the provider (here, from inside the provider call, on the same connection, where no row
    lock could stop it)."""
    refund = opened(demo_paid)
    calls, second_run = [], []
    real = DemoProvider.refund

    def refund_call(self, refund):
        calls.append(refund.pk)
        second_run.append((send_awaiting_refunds(), send_refund(refund_id=refund.pk).status))
        return real(self, refund)

    monkeypatch.setattr(DemoProvider, "refund", refund_call)

    assert send_awaiting_refunds() == 1

    assert calls == [refund.pk]  # asked once
    assert second_run == [(0, R.PENDING)]  # the second sender found it claimed and left it alone
    refund.refresh_from_db()
    assert (refund.status, refund.sending_since) == (R.SUCCEEDED, None)


def test_a_claim_left_by_a_worker_that_died_is_taken_again_after_the_lease(demo_paid, asked, time_machine):
    refund = opened(demo_paid)
    time_machine.move_to(timezone.now(), tick=False)
    Refund.objects.filter(pk=refund.pk).update(sending_since=timezone.now())  # a sender died mid-call

    assert send_awaiting_refunds() == 0 and asked == []
    time_machine.shift(Refund.SEND_LEASE - timedelta(seconds=1))
    assert send_awaiting_refunds() == 0 and asked == []

    time_machine.shift(timedelta(seconds=2))
    assert send_awaiting_refunds() == 1

    assert asked == [(refund.pk, refund.idempotency_key, False)]  # the same key: made at most once
    refund.refresh_from_db()
    assert (refund.status, refund.sending_since) == (R.SUCCEEDED, None)


def test_no_answer_releases_the_claim_and_the_next_run_asks_again_with_the_same_key(demo_paid, monkeypatch):
    refund = opened(demo_paid)
    keys = []
    real = DemoProvider.refund

    def flaky(self, refund):
        keys.append(refund.idempotency_key)
        if len(keys) == 1:
            raise ProviderUnavailable(detail="timed out")
        return real(self, refund)

    monkeypatch.setattr(DemoProvider, "refund", flaky)

    assert send_awaiting_refunds() == 1
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference, refund.sending_since) == (R.PENDING, "", None)
    assert refund.failure_reason == "No answer from the provider: timed out"
    assert OrderEvent.objects.filter(order_id=demo_paid.order_id, message__contains="did not answer").exists()

    assert send_awaiting_refunds() == 1
    refund.refresh_from_db()
    assert refund.status == R.SUCCEEDED and keys == [refund.idempotency_key] * 2


def test_a_refusal_fails_the_refund_and_frees_its_amount(demo_paid, monkeypatch):
    refund = opened(demo_paid, "84.95")

    def refuse(self, refund):
        raise ProviderUnavailable(detail="Charge has been disputed.", answered=True)

    monkeypatch.setattr(DemoProvider, "refund", refuse)

    send_refund(refund_id=refund.pk)

    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason, refund.sending_since) == (R.FAILED, "Charge has been disputed.",
                                                                            None)
    assert send_awaiting_refunds() == 0  # a refused refund is left to staff
    assert opened(demo_paid, "84.95").amount == Decimal("84.95")  # nothing went back: refundable again


def test_an_answer_recorded_by_the_webhook_while_asking_is_kept(demo_paid, monkeypatch):
    refund = opened(demo_paid)

    def webhook_first(self, refund):
        # The provider's event for this refund is processed before its HTTP answer arrives.
        Refund.objects.filter(pk=refund.pk).update(status=R.SUCCEEDED, provider_reference="demo_re_hook")
        return RefundResult(reference="demo_re_hook", succeeded=True)

    monkeypatch.setattr(DemoProvider, "refund", webhook_first)

    send_refund(refund_id=refund.pk)

    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference, refund.sending_since) == (R.SUCCEEDED, "demo_re_hook", None)
    assert refund.reason == "Test"  # recorded once, by the webhook: our answer changed nothing


def test_sending_inside_a_transaction_is_refused_before_any_provider_is_asked(demo_paid, asked):
    refund = opened(demo_paid)

    with pytest.raises(TransactionManagementError, match="call it outside any transaction"):
        with transaction.atomic():
            send_refund(refund_id=refund.pk)
    with pytest.raises(TransactionManagementError, match="send_awaiting_refunds"):
        with transaction.atomic():
            send_awaiting_refunds()

    assert asked == []
    refund.refresh_from_db()
    assert (refund.status, refund.sending_since) == (R.PENDING, None)


def test_only_money_no_provider_holds_is_refunded_by_hand(demo_paid, asked):
    refund = opened(demo_paid)

    with pytest.raises(ValueError, match="goes back through its provider"):
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=demo_paid.pk)
            refund_by_hand(payment=payment, refund=refund, user=None)

    refund.refresh_from_db()
    assert refund.awaiting_provider and asked == []
