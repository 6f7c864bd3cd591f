"""Back office: issue a card (a goodwill gesture, with a reason), deactivate one, read its ledger.

Balances are never edited: issuing writes the first ledger row (`services.issue_gift_card`), and
every later change comes from orders and refunds. A code is shown once, on the page after it was
issued without a recipient; from then on only its last four symbols.
"""
from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from shop.money import format_money

from . import services
from .exceptions import CannotResend
from .forms import GiftCardChangeForm, IssueGiftCardForm, ResendForm
from .models import GiftCard, GiftCardEvent, GiftCardProduct, GiftCardTransaction
from .resend import resend_gift_card


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


class EventInline(admin.TabularInline):
    """What was done to the card without moving money: resends, recipient changes, deactivation."""

    model = GiftCardEvent
    extra = 0
    fields = ("created_at", "kind", "by", "user", "recipient_email", "previous_email", "previous_last4", "last4",
              "note")
    readonly_fields = fields
    can_delete = False
    ordering = ("created_at", "pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

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
    inlines = [TransactionInline, EventInline]
    actions = ["send_again"]
    readonly_fields = ("card", "money", "initial", "source", "is_active", "issued_by", "reason", "order",
                       "recipient_email", "recipient_name", "sender_name", "message", "deliver_at", "delivered_at",
                       "resend_link",
                       "redeemed_by", "deactivated_at", "deactivated_by", "deactivation_reason", "created_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = GiftCardChangeForm if obj is not None else IssueGiftCardForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(IssueGiftCardForm._meta.fields)
        shown = [name for name in self.readonly_fields
                 if name != "resend_link" or self.has_change_permission(request, obj)]  # only who may resend
        return [*shown, "expires_at", "deactivate", "deactivation_note"] if obj.is_active else [*shown, "expires_at"]

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

    # --- Send again --------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("<int:card_id>/resend/", self.admin_site.admin_view(self.resend_view),
                 name="giftcards_giftcard_resend"),
            *super().get_urls(),
        ]

    @admin.display(description=_("email"))
    def resend_link(self, card: GiftCard) -> str:
        if not card.is_active:
            return "-"
        return format_html('<a href="{}" class="button" id="resend-gift-card">{}</a>',
                           reverse("admin:giftcards_giftcard_resend", args=[card.pk]), _("Send again…"))

    @admin.action(description=_("Send the selected card's email again (new code)…"))
    def send_again(self, request, queryset):
        """One card at a time: each resend makes a new code, and its page says so."""
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, _("Choose one card to send again."), messages.WARNING)
            return None
        return redirect("admin:giftcards_giftcard_resend", card_id=ids[0])

    def resend_view(self, request, card_id: int):
        """GET: the form, with a fresh key; POST: `resend.resend_gift_card` (staff), then the card's
        page. Needs `change_giftcard` (Order managers); never shows the code."""
        card = get_object_or_404(GiftCard.objects.select_related("order"), pk=card_id)
        if not self.has_change_permission(request, card):
            raise PermissionDenied
        form = ResendForm(request.POST or None, initial={"recipient_email": card.recipient_email,
                                                         "key": secrets.token_urlsafe(24)})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                done = resend_gift_card(card_id=card.pk, user=request.user, by=GiftCardEvent.By.STAFF, key=data["key"],
                                        recipient_email=data["recipient_email"], note=data["note"])
            except CannotResend as error:
                form.add_error(None, str(error))
            else:
                event = done.event
                if done.repeated:
                    self.message_user(request, _("Already done: this form was sent once."), messages.INFO)
                elif done.sent:
                    self.message_user(request, _("Sent again to %(email)s with a new code ending %(last4)s; the old "
                                                 "code no longer works.") % {"email": event.recipient_email,
                                                                            "last4": event.last4}, messages.SUCCESS)
                else:
                    self.message_user(request, _("It will be emailed to %(email)s on its delivery day.")
                                      % {"email": event.recipient_email}, messages.SUCCESS)
                return redirect("admin:giftcards_giftcard_change", card.pk)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "card": card, "form": form,
            "title": _("Send gift card %(card)s again") % {"card": card}, "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/giftcards/giftcard/resend.html", context)

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
