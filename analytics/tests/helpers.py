"""Hand-built sales for the analytics tests: orders paid at a given instant, refunds at another."""
from __future__ import annotations

import datetime
from decimal import Decimal

from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment, Refund


def paid_order(*, at: datetime.datetime, total: str, units: int = 1, customer=None):
    """An order of `units` units for `total`, paid in full at `at` (one succeeded payment)."""
    amount = Decimal(total)
    order = OrderFactory(total=amount, subtotal=amount, paid_at=at, customer=customer)
    OrderLineFactory(order=order, quantity=units, unit_price=amount / units, line_total=amount)
    payment = Payment.objects.create(order=order, provider="demo", amount=amount, currency="USD",
                                     status=Payment.Status.SUCCEEDED, succeeded_at=at)
    return order, payment


def refund(payment: Payment, *, amount: str, at: datetime.datetime, status=Refund.Status.SUCCEEDED) -> Refund:
    made = Refund.objects.create(payment=payment, amount=Decimal(amount), status=status)
    Refund.objects.filter(pk=made.pk).update(created_at=at)  # auto_now_add: set the time afterwards
    return made
