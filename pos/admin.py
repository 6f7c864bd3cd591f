"""The back office of the counter: registers are set up here; sessions, cash movements and sales
are records the sell screen's services write, read here and never edited."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from shop.admin import ReadOnlyAdmin

from .models import CashMovement, Register, RegisterSession, Sale


@admin.register(Register)
class RegisterAdmin(admin.ModelAdmin):
    list_display = ("name", "location", "is_active", "sell_link")
    list_filter = ("location", "is_active")
    list_select_related = ("location",)

    @admin.display(description=_("sell screen"))
    def sell_link(self, obj: Register) -> str:
        return format_html('<a href="{}">{}</a>', reverse("pos:registers"), _("Open the sell screen"))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a register with sessions keeps its history; deactivate it instead


class CashMovementInline(admin.TabularInline):
    model = CashMovement
    fields = ("created_at", "kind", "amount", "order", "created_by", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RegisterSession)
class RegisterSessionAdmin(ReadOnlyAdmin):
    list_display = ("register", "opened_at", "opened_by", "opening_float", "closed_at", "closed_by",
                    "expected_cash", "counted_cash", "difference")
    list_filter = ("register__location", "register")
    list_select_related = ("register__location", "opened_by", "closed_by")
    inlines = [CashMovementInline]
    list_per_page = 50


@admin.register(Sale)
class SaleAdmin(ReadOnlyAdmin):
    list_display = ("order", "created_at", "session", "sold_by", "cash_taken", "change_given", "card_amount",
                    "card_reference", "gift_card_amount")
    list_select_related = ("order", "session__register__location", "sold_by")
    search_fields = ("order__number", "card_reference")
    list_filter = ("session__register__location",)
    list_per_page = 50
