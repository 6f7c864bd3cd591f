"""Where the order back office meets the payments app: payment state, the payments inline, refunds.

Payment state is about money, not fulfilment: an order can be shipped and partially refunded,
or cancelled and still holding a payment that must go back. It is read from the payments ledger
(succeeded payments and refunds, via EXISTS and per-order sums, in the list's one query), plus
the order's own `paid_at` for orders staff marked paid before manual payments had a Payment row.
"""
from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db import models
from django.db.models import (
    Case, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value, When,
)
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from payments.models import Payment, Refund
from shop.money import format_money

from ..forms import RefundablePayment
from ..models import Order
from .inlines import ReadOnlyInline

# SQLite adds decimals up as floating point numbers: compare sums with half a cent of slack.
HALF_CENT = Value(Decimal("0.005"), output_field=DecimalField(max_digits=12, decimal_places=3))


class PaymentState(models.TextChoices):
    UNPAID = "unpaid", _("Not paid")
    PROCESSING = "processing", _("Payment processing")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


def _conditions() -> dict[str, Q]:
    """One condition per state, mutually exclusive, on the outer Order row."""
    money = DecimalField(max_digits=12, decimal_places=2)
    zero = Value(Decimal("0"), output_field=money)
    succeeded = Payment.objects.filter(order=OuterRef("pk"), status=Payment.Status.SUCCEEDED)
    # Money actually given back: a pending refund is still on its way (it moves the order only
    # once it succeeds, in payments.services), and a failed one gave nothing back.
    refunds = Refund.objects.filter(payment__order=OuterRef("pk"), status=Refund.Status.SUCCEEDED)
    taken = Coalesce(Subquery(succeeded.order_by().values("order").annotate(s=Sum("amount")).values("s")), zero)
    given_back = Coalesce(
        Subquery(refunds.order_by().values("payment__order").annotate(s=Sum("amount")).values("s")), zero
    )
    # Money taken beyond the total (a second payment for the same order) and returned is not a
    # refund of the order: payments.services leaves it out of the order's status the same way.
    refunded = ExpressionWrapper(given_back - Greatest(taken - F("total"), zero), output_field=money)
    has_payment = Q(Exists(succeeded)) | Q(paid_at__isnull=False)
    has_refund = Q(Exists(refunds))
    fully = has_refund & Q(GreaterThanOrEqual(refunded, F("total") - HALF_CENT))
    partly = has_refund & Q(GreaterThan(refunded, HALF_CENT)) & ~fully
    processing = Q(Exists(Payment.objects.filter(order=OuterRef("pk"), status=Payment.Status.PROCESSING)))
    return {
        PaymentState.REFUNDED: fully,
        PaymentState.PARTIALLY_REFUNDED: partly,
        PaymentState.PAID: has_payment & ~fully & ~partly,
        PaymentState.PROCESSING: ~has_payment & processing,
        PaymentState.UNPAID: ~has_payment & ~processing,
    }


def payment_state_condition(state: str) -> Q:
    return _conditions()[state]


def annotate(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Orders with `admin_payment_state` (one of PaymentState.values), computed in the same query."""
    return queryset.annotate(
        admin_payment_state=Case(
            *(When(condition, then=Value(state)) for state, condition in _conditions().items()),
            default=Value(PaymentState.UNPAID),
        )
    )


def label(order: Order) -> str:
    state = getattr(order, "admin_payment_state", None)
    return PaymentState(state).label if state in PaymentState.values else "—"


# --- Inlines ---

class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = readonly_fields = (
        "created_at", "provider", "status", "amount_display", "provider_payment_id", "succeeded_at",
        "failure_message", "refunds",
    )
    verbose_name_plural = _("payments and refunds")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("refunds", queryset=Refund.objects.select_related("created_by"))
        )

    @admin.display(description=_("amount"))
    def amount_display(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)

    @admin.display(description=_("refunds"))
    def refunds(self, payment: Payment) -> str:
        rows = [
            (
                format_money(refund.amount, payment.currency), refund.get_status_display(),
                date_format(refund.created_at, "SHORT_DATETIME_FORMAT"),
                refund.created_by.get_username() if refund.created_by else "—",
                refund.reason or "—", refund.provider_reference or "—",
            )
            for refund in payment.refunds.all()
        ]
        if not rows:
            return "—"
        return format_html_join("", '<div class="refund">{} · {} · {} · {} · {} <small>({})</small></div>', rows)


def refundable_payments(order: Order) -> list[RefundablePayment]:
    """The order's succeeded payments with money left to give back, oldest first (one query).

    A pending refund counts as given back: the provider may still be processing it.
    """
    money = DecimalField(max_digits=12, decimal_places=2)
    given_back = (
        Refund.objects.filter(payment=OuterRef("pk")).exclude(status=Refund.Status.FAILED)
        .order_by().values("payment").annotate(total=Sum("amount")).values("total")
    )
    payments = (
        Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED)
        .annotate(given_back=Coalesce(Subquery(given_back), Value(Decimal("0")), output_field=money))
        .order_by("created_at", "pk")
    )
    return [
        RefundablePayment(
            pk=payment.pk,
            label=f"{payment.get_provider_display()} {payment.provider_payment_id or f'#{payment.pk}'}, "
                  f"{date_format(payment.succeeded_at or payment.created_at, 'SHORT_DATE_FORMAT')}",
            refundable=payment.amount - payment.given_back,
        )
        for payment in payments
        if payment.amount > payment.given_back
    ]
