"""Returns handed in at a shop's counter: cash taken at a counter goes back from the register open
there (`pos.services.record_cash_refund`, so the till's expected cash at close is right), and is
refused while none is open; card and online payments go back through their provider as anywhere."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from payments.models import Provider, Refund
from payments.tests.helpers import in_transaction
from pos import services as pos
from pos.models import CashMovement
from pos.tests.conftest import counter  # noqa: F401  (a shop, its register open with $100, stock)
from returns import services
from returns.exceptions import ReturnError
from returns.models import Reason, ReturnRequest

from .helpers import paid_and_shipped

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
S = ReturnRequest.Status


@pytest.fixture
def manager(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)


def counter_sale(counter, tenders):  # noqa: F811
    return pos.sell(session_id=counter.session.pk, staff=counter.staff, key="pos-1",
                    lines=[pos.SaleLine(counter.shirt.pk, 2)], tenders=tenders).order


def handed_in(order, shop, manager, units=1) -> ReturnRequest:
    """`units` of the order's first line asked back and received at `shop`'s counter, back in stock."""
    line = order.lines.order_by("pk").first()
    request = services.request_return(order=order, quantities={line.pk: units}, reason=Reason.CHANGED_MIND)
    return services.receive_return(request_id=request.pk, location_id=shop.pk,
                                   receipt=services.Receipt(restock={request.lines.get().pk: units}), user=manager)


def test_a_cash_sale_returned_at_the_counter_is_paid_back_from_the_open_register(counter, manager):  # noqa: F811
    order = counter_sale(counter, pos.Tenders(cash_tendered=Decimal("50.00")))  # $39.98 in cash
    request = handed_in(order, counter.shop, manager)

    request = services.refund_return(request_id=request.pk, user=manager)

    assert request.status == S.REFUNDED
    refund = request.refunds.get()
    assert (refund.payment.provider, refund.amount, refund.status) == (Provider.CASH, Decimal("19.99"), "succeeded")
    assert "cash from Soho · Till 1" in refund.reason
    movement = CashMovement.objects.get(kind=CashMovement.Kind.REFUND)
    assert (movement.session, movement.amount, movement.order, movement.created_by) == (
        counter.session, Decimal("-19.99"), order, manager)
    closed = pos.close_register(session_id=counter.session.pk, user=counter.staff, counted_cash="120.00")
    assert closed.expected_cash == Decimal("119.99")  # $100 float + $39.98 sale - $19.99 paid back
    assert closed.difference == Decimal("0.01")


def test_without_an_open_register_the_cash_refund_is_refused_and_nothing_changes(counter, manager):  # noqa: F811
    order = counter_sale(counter, pos.Tenders(cash_tendered=Decimal("39.98")))
    request = handed_in(order, counter.shop, manager)
    pos.close_register(session_id=counter.session.pk, user=counter.staff, counted_cash="139.98")

    with pytest.raises(ReturnError, match="no register is open there: open one at the counter"):
        services.refund_return(request_id=request.pk, user=manager)

    request.refresh_from_db()
    assert request.status == S.RECEIVED and not request.refunds.exists() and not Refund.objects.exists()
    assert not CashMovement.objects.filter(kind=CashMovement.Kind.REFUND).exists()
    # Once a till is open again at the shop, the cash comes from it.
    session = pos.open_register(register=counter.register, user=counter.staff, opening_float="50.00")
    services.refund_return(request_id=request.pk, user=manager)
    assert CashMovement.objects.get(kind=CashMovement.Kind.REFUND).session == session
    assert pos.expected_cash(session) == Decimal("30.01")


def test_card_and_online_payments_returned_at_the_counter_go_back_through_their_provider(
        counter, manager):  # noqa: F811
    terminal = counter_sale(counter, pos.Tenders(card_amount=Decimal("39.98"), card_reference="TID-7"))
    online = paid_and_shipped((counter.mug, 1))  # bought on the web store, paid with the demo card
    refunds = [services.refund_return(request_id=handed_in(order, counter.shop, manager).pk,
                                      user=manager).refunds.get()
               for order in (terminal, online)]

    assert [(r.payment.provider, r.amount, r.status) for r in refunds] == [
        (Provider.CARD_TERMINAL, Decimal("19.99"), "succeeded"), (Provider.DEMO, Decimal("8.00"), "succeeded")]
    assert refunds[1].provider_reference.startswith("demo_re_")
    # Nothing left the drawer: it holds the float, as the count at close says.
    assert pos.expected_cash(counter.session) == Decimal("100.00")
    assert not CashMovement.objects.filter(kind=CashMovement.Kind.REFUND).exists()


@pytest.fixture
def providers_asked(monkeypatch) -> list:
    """Every provider asked for a refund: (the payment's provider, inside a transaction?)."""
    from payments.services import refunds as payment_refunds

    calls, real = [], payment_refunds.get_provider

    class Spy:
        def __init__(self, provider):
            self.provider = provider

        def refund(self, refund):
            calls.append((refund.payment.provider, in_transaction()))
            return self.provider.refund(refund)

    monkeypatch.setattr(payment_refunds, "get_provider", lambda name=None: Spy(real(name)))
    return calls


def test_cash_from_the_drawer_asks_no_provider_and_the_card_part_is_asked_after_commit(
        counter, manager, providers_asked):  # noqa: F811
    # $39.98: $20 on the shop's terminal, $19.98 in cash; both shirts handed back at the counter.
    order = counter_sale(counter, pos.Tenders(card_amount=Decimal("20.00"), card_reference="TID-8",
                                              cash_tendered=Decimal("19.98")))
    request = handed_in(order, counter.shop, manager, units=2)

    request = services.refund_return(request_id=request.pk, user=manager)

    assert request.status == S.REFUNDED
    # The cash went back from the drawer in the refund's own transaction, asking nobody; the
    # terminal's part was asked for only once that transaction had committed.
    assert providers_asked == [(Provider.CARD_TERMINAL, False)]
    cash = Refund.objects.get(payment__provider=Provider.CASH)
    assert (cash.amount, cash.status) == (Decimal("19.98"), Refund.Status.SUCCEEDED)
    assert cash.provider_reference.startswith("cash_re_") and "cash from Soho · Till 1" in cash.reason
    card = Refund.objects.get(payment__provider=Provider.CARD_TERMINAL)
    assert (card.amount, card.status) == (Decimal("20.00"), Refund.Status.SUCCEEDED)
    assert CashMovement.objects.get(kind=CashMovement.Kind.REFUND).amount == Decimal("-19.98")
    order.refresh_from_db()
    assert order.payment_status == order.PaymentStatus.REFUNDED


def test_the_periodic_job_running_while_a_refund_is_asked_asks_nothing_twice(counter, manager,
                                                                            monkeypatch):  # noqa: F811
    from datetime import timedelta

    from payments.providers.demo import DemoProvider

    online = paid_and_shipped((counter.mug, 1))  # paid with the demo card
    request = handed_in(online, counter.shop, manager)
    asked, real = [], DemoProvider.refund

    def refund(self, refund):
        asked.append(refund.pk)
        assert services.finish_refunds(older_than=timedelta(0)) == 1  # the job, in another worker
        return real(self, refund)

    monkeypatch.setattr(DemoProvider, "refund", refund)

    request = services.refund_return(request_id=request.pk, user=manager)

    assert request.status == S.REFUNDED and asked == [request.refunds.get().pk]
    assert request.refunds.get().status == Refund.Status.SUCCEEDED
