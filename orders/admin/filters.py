"""Order list filters. Each adds one indexed condition or an EXISTS, never a join that multiplies rows."""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from catalog.models import Location
from payments.selectors import holds_unkept_money

from .payment_state import PaymentState, payment_state_condition

DELIVERY = "delivery"


class PaymentStateFilter(admin.SimpleListFilter):
    title = _("payment")
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        return PaymentState.choices

    def queryset(self, request, queryset):
        if self.value() in PaymentState.values:
            return queryset.filter(payment_state_condition(self.value()))
        return queryset


class PickupLocationFilter(admin.SimpleListFilter):
    """Delivered orders, or those collected at one shop (the few locations, listed in one query)."""

    title = _("pick-up location")
    parameter_name = "pickup"

    def lookups(self, request, model_admin):
        locations = Location.objects.filter(pickup_allowed=True).order_by("position", "name")
        return [(DELIVERY, _("Delivered (no pick-up)")), *((str(pk), name) for pk, name in
                                                          locations.values_list("pk", "name"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == DELIVERY:
            return queryset.filter(pickup_location__isnull=True)
        if value and value.isdigit():
            return queryset.filter(pickup_location_id=int(value))
        return queryset


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Orders holding money they did not keep (a payment of a different amount or currency, never
    marked paid): staff refund it or settle it. Expiry leaves these orders alone, and the admin
    index counts them (payments/templatetags/payments_admin.py links here)."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("money", _("Holds money it did not keep"))]

    def queryset(self, request, queryset):
        if self.value() == "money":
            return queryset.filter(holds_unkept_money())
        return queryset
