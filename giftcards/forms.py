"""Forms: staff issuing or deactivating a card, a shopper entering a code or choosing who gets
the cards they buy."""
from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.money import MoneyField

from .models import GiftCard


class IssueGiftCardForm(forms.ModelForm):
    """The admin's "Add gift card": a value and a reason; the rest optional."""

    amount = MoneyField(label=_("value"), min_value=0.01, max_digits=12, decimal_places=2)

    class Meta:
        model = GiftCard
        fields = ("amount", "reason", "expires_at", "recipient_email", "recipient_name", "message", "deliver_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = True
        self.fields["reason"].help_text = _("Why the card is issued, e.g. \"Goodwill: parcel arrived late\".")
        self.fields["recipient_email"].help_text = _(
            "Leave empty to see the code once, after saving, and hand it over yourself. With an email the "
            "code is emailed (at the delivery time, or now) and nobody else ever sees it.")

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return value


class GiftCardChangeForm(forms.ModelForm):
    """An existing card: only its expiry may change, and it may be deactivated (with a reason)."""

    deactivate = forms.BooleanField(label=_("Deactivate this card"), required=False)
    deactivation_note = forms.CharField(label=_("Why"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = GiftCard
        fields = ("expires_at",)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("deactivate") and not (cleaned.get("deactivation_note") or "").strip():
            self.add_error("deactivation_note", _("Say why the card is deactivated."))
        return cleaned


class ApplyCodeForm(forms.Form):
    code = forms.CharField(label=_("Gift card code"), max_length=40, strip=True)


class RecipientForm(forms.Form):
    """Who gets the gift cards of this order, and when (checkout's review page)."""

    email = forms.EmailField(label=_("Recipient's email"))
    name = forms.CharField(label=_("Recipient's name"), max_length=120, required=False)
    sender = forms.CharField(label=_("From"), max_length=120, required=False)
    message = forms.CharField(label=_("Message"), max_length=1000, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
    deliver_on = forms.DateField(label=_("Deliver on"), required=False, help_text=_("Empty: right after payment."),
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def clean_deliver_on(self):
        value = self.cleaned_data.get("deliver_on")
        if value is not None and value < timezone.localdate():
            raise forms.ValidationError(_("Choose today or a later day."))
        if value is not None and (value - timezone.localdate()).days > 366:
            raise forms.ValidationError(_("Choose a day within the next year."))
        return value


class ResendForm(forms.Form):
    """Send a card's email again (new code): to its recipient, or to a corrected address.

    `key` is made when the form is rendered: the same click posted twice sends once."""

    recipient_email = forms.EmailField(
        label=_("Send to"), required=False,
        help_text=_("Leave as it is to send to the same recipient; a corrected address replaces it."))
    note = forms.CharField(label=_("Why"), max_length=255, required=False)
    key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{20,64}$", widget=forms.HiddenInput)
