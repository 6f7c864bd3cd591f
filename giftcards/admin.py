"""Back office: issue a card (a goodwill gesture, with a reason), deactivate one, read its ledger.

Balances are never edited: issuing writes the first ledger row (`services.issue_gift_card`), and
every later change comes from orders and refunds. A code is shown once, on the page after it was
issued without a recipient; from then on only its last four symbols.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from shop.money import format_money

from . import services
from .forms import GiftCardChangeForm, IssueGiftCardForm
from .models import GiftCard, GiftCardProduct, GiftCardTransaction


class TransactionInline(admin.TabularInline):
    model = GiftCardTransaction
    extra = 0
    fields = ("created_at", "kind", "amount", "balance_after", "order", "payment", "refund", "note", "created_by")
    readonly_fields = fields
    can_delete = False
    ordering = ("created_at", "pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "payment", "refund", "created_by")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GiftCard)
class GiftCardAdmin(admin.ModelAdmin):
    list_per_page = 50
    list_display = ("card", "money", "initial", "source", "is_active", "recipient_email", "expires_at",
                    "delivered_at", "created_at")
    list_filter = ("source", "is_active", "created_at")
    search_fields = ("=last4", "recipient_email", "order__number")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
    inlines = [TransactionInline]
    readonly_fields = ("card", "money", "initial", "source", "is_active", "issued_by", "reason", "order",
                       "recipient_email", "recipient_name", "sender_name", "message", "deliver_at", "delivered_at",
                       "redeemed_by", "deactivated_at", "deactivated_by", "deactivation_reason", "created_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = GiftCardChangeForm if obj is not None else IssueGiftCardForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(IssueGiftCardForm._meta.fields)
        return [*self.readonly_fields, "expires_at", "deactivate", "deactivation_note"] if obj.is_active else [
            *self.readonly_fields, "expires_at"]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            if "expires_at" in form.changed_data:
                obj.save(update_fields=["expires_at", "updated_at"])
            if form.cleaned_data.get("deactivate"):
                services.deactivate_gift_card(card_id=obj.pk, user=request.user,
                                              reason=form.cleaned_data["deactivation_note"])
            return
        data = form.cleaned_data
        card, code = services.issue_gift_card(
            amount=data["amount"], user=request.user, reason=data["reason"], expires_at=data.get("expires_at"),
            recipient_email=data.get("recipient_email", ""), recipient_name=data.get("recipient_name", ""),
            message=data.get("message", ""), deliver_at=data.get("deliver_at"),
        )
        obj.__dict__.update(card.__dict__)  # the saved card, for the admin's "added" message and redirect
        if code:
            messages.warning(request, format_html(
                "{} <strong class=\"gift-card-code\">{}</strong>. {}", _("Gift card code:"), code,
                _("Copy it now: it is not shown again.")))
        else:
            messages.info(request, _("The card is emailed to %(email)s; its code is only in that email.")
                          % {"email": card.recipient_email})

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the ledger must stay

    @admin.display(description=_("card"))
    def card(self, card: GiftCard) -> str:
        return str(card)

    @admin.display(description=_("balance"), ordering="balance")
    def money(self, card: GiftCard) -> str:
        return format_money(card.balance, card.currency)

    @admin.display(description=_("initial value"))
    def initial(self, card: GiftCard) -> str:
        return format_money(card.initial_balance, card.currency)


@admin.register(GiftCardProduct)
class GiftCardProductAdmin(admin.ModelAdmin):
    list_display = ("product", "valid_months")
    autocomplete_fields = ("product",)
    list_select_related = ("product",)
