"""The demo card form, validated the way a real payment form is (number, expiry, security code)."""
from __future__ import annotations

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .providers.demo import TEST_CARDS


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class DemoCardForm(forms.Form):
    number = forms.CharField(
        label=_("Card number"), max_length=23,
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "cc-number", "inputmode": "numeric",
                                      "placeholder": "4242 4242 4242 4242"}),
    )
    expiry = forms.CharField(
        label=_("Expiry (MM/YY)"), max_length=7,
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "cc-exp", "inputmode": "numeric",
                                      "placeholder": "MM/YY"}),
    )
    cvc = forms.CharField(
        label=_("Security code (CVC)"), max_length=4,
        # Like a real card form, the code is never sent back in the page (after a decline, say).
        widget=forms.PasswordInput(attrs={"class": "input", "autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    name = forms.CharField(
        label=_("Name on card"), max_length=100, required=False,
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "cc-name"}),
    )

    def clean_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
            raise forms.ValidationError(_("Enter a valid card number."))
        if digits not in TEST_CARDS:
            raise forms.ValidationError(
                _("This is a demo store: use 4242 4242 4242 4242 (succeeds) or 4000 0000 0000 0002 (declined).")
            )
        return digits

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError(_("Enter the expiry date as MM/YY."))
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError(_("This card has expired."))
        if year > today.year + 20:
            raise forms.ValidationError(_("Enter a valid expiry date."))
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError(_("Enter the 3 or 4 digit security code."))
        return cvc
