"""Back office: payments, refunds and provider events, read-only.

Money is never edited by hand here. Refunds are made from the order's page, which calls
`payments.services.refund_payment` (through the provider, checked against what is left).
"""
from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from shop.admin import ReadOnlyAdmin
from shop.money import format_money

from .models import Payment, Refund, WebhookEvent


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("created_at", "amount", "status", "failure_reason", "provider_reference", "reason", "created_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_per_page = 50
    list_display = ("created_at", "order", "provider", "money", "status", "refunded", "provider_session_id",
                    "provider_payment_id", "updated_at")
    list_filter = ("status", "provider", "created_at")
    search_fields = ("order__number", "order__email", "provider_session_id", "provider_payment_id")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
    fields = ("order", "provider", "status", "amount", "currency", "refunded", "provider_session_id",
              "provider_payment_id", "failure_message", "created_by", "created_at", "updated_at", "succeeded_at",
              "expires_at", "raw_data")
    readonly_fields = fields
    inlines = [RefundInline]

    def get_queryset(self, request):
        # One query for the list, whatever the number of refunds.
        return super().get_queryset(request).annotate(
            refunded_total=Coalesce(
                Sum("refunds__amount", filter=~Q(refunds__status=Refund.Status.FAILED)),
                Value(0), output_field=DecimalField(max_digits=12, decimal_places=2),
            )
        )

    @admin.display(description=_("amount"), ordering="amount")
    def money(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)

    @admin.display(description=_("refunded"))
    def refunded(self, payment: Payment) -> str:
        return format_money(payment.refunded_total, payment.currency) if payment.refunded_total else "—"

    @admin.display(description=_("provider data"))
    def raw_data(self, payment: Payment) -> str:
        return format_html("<pre>{}</pre>", json.dumps(payment.raw, indent=2, sort_keys=True))


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_per_page = 50
    list_display = ("created_at", "order", "money", "status", "provider_reference", "reason", "created_by")
    list_filter = ("status", "payment__provider", "created_at")
    search_fields = ("provider_reference", "payment__order__number", "payment__provider_payment_id")
    list_select_related = ("payment__order", "created_by")
    date_hierarchy = "created_at"
    fields = ("payment", "amount", "status", "failure_reason", "provider_reference", "idempotency_key", "reason",
              "created_by", "created_at")
    readonly_fields = fields

    @admin.display(description=_("order"), ordering="payment__order__number")
    def order(self, refund: Refund) -> str:
        return refund.payment.order.number

    @admin.display(description=_("amount"), ordering="amount")
    def money(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.payment.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_per_page = 50
    list_display = ("received_at", "provider", "type", "event_id", "processed_at", "result")
    list_filter = ("provider", "type", "received_at")
    search_fields = ("event_id", "type", "result")
    date_hierarchy = "received_at"
    fields = ("provider", "event_id", "type", "received_at", "processed_at", "result", "payload_data")
    readonly_fields = fields

    @admin.display(description=_("payload"))
    def payload_data(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))
