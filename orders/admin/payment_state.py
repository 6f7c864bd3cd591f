"""Where the order back office meets the payments app: the payments inline and what can be refunded.

The order's payment state itself is stored on the order (`Order.payment_status`, moved by
`orders.status.transition` when a payment or refund succeeds): the list shows and filters it
with no subquery. It is no longer derived from the ledger here (docs/architecture.md says why);
the property test in orders/tests/test_states.py holds the two together.
"""
from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import Case, DecimalField, OuterRef, Prefetch, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from orders.refund_shares import returned_worth
from payments.models import Payment, Provider, Refund
from shop.money import format_money, quantize

from ..forms import RefundablePayment
from ..models import Order
from .inlines import ReadOnlyInline


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
    """The order's succeeded payments with money left to give back, oldest first, gift cards last
    (one query).

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
        # Card payments first, gift cards after: the refund form's first choice is the card.
        .order_by(Case(When(provider=Provider.GIFT_CARD, then=1), default=0), "created_at", "pk")
    )
    return [
        RefundablePayment(
            pk=payment.pk,
            label=f"{payment.get_provider_display()} {payment.provider_payment_id or f'#{payment.pk}'}, "
                  f"{date_format(payment.succeeded_at or payment.created_at, 'SHORT_DATE_FORMAT')}",
            # Rounded here: the sum comes back from SQLite as a float-born Decimal (0.100000000000000).
            refundable=quantize(payment.amount - payment.given_back, payment.currency),
        )
        for payment in payments
        if payment.amount > payment.given_back
    ]


def returned_not_refunded(order: Order) -> Decimal | None:
    """What the units returned so far are worth after their discounts and what the kept items no
    longer earn (`orders.refund_shares.returned_worth`), less what has already been refunded on
    the order (pending refunds count): the refund form's proposal once goods came back. None when
    nothing came back or what came back was all refunded (the form then proposes the rest of the
    payment, as before any return); zero when what came back is worth nothing (a returned free
    gift, a "3 for 2" the kept items no longer earn). Two queries (four more when a promotion of the order
    depends on the rest of the cart: `promotions.repricing.replayer`).

    Money refunded for another reason (a goodwill refund) also counts as given back here: the
    proposal is a starting point staff can change, never more than is due for the returns.
    """
    lines = list(order.lines.all())
    if not any(line.quantity_returned for line in lines):
        return None
    worth = returned_worth(order, lines)
    if not worth:
        return Decimal("0")
    given_back = (Refund.objects.filter(payment__order=order).exclude(status=Refund.Status.FAILED)
                  .aggregate(total=Sum("amount"))["total"] or Decimal("0"))
    due = quantize(worth - given_back, order.currency)
    return due if due > 0 else None
