"""Forms of the shopper's account: sign-up (allauth's, plus the marketing opt-in), profile,
address book and communication preferences. They validate; the services write."""
from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from checkout.forms import AddressForm

from .models import Address


def _input(autocomplete: str, **attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "input", "autocomplete": autocomplete, **attrs})


class SignupForm(AllauthSignupForm):
    """allauth's sign-up with an optional, unticked "Email me offers and news" box.

    The choice is only kept with the new account here; it becomes consent (source "signup") when
    the address is verified, since until then nobody has shown it is theirs.
    """

    field_order = ["email", "password1", "password2", "accepts_marketing"]

    accepts_marketing = forms.BooleanField(
        label=_("Email me offers and news"), required=False, initial=False,
        help_text=_("Optional. You can unsubscribe at any time from your account or any of our emails."),
        widget=forms.CheckboxInput(attrs={"class": "checkbox"}),
    )

    def custom_signup(self, request, user) -> None:
        from .services.accounts import record_signup

        super().custom_signup(request, user)
        record_signup(user=user, accepts_marketing=self.cleaned_data.get("accepts_marketing", False))


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False, widget=_input("given-name"))
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False, widget=_input("family-name"))
    phone = forms.CharField(label=_("Phone (optional)"), max_length=40, required=False,
                            widget=forms.TextInput(attrs={"class": "input", "autocomplete": "tel", "type": "tel"}))
    language = forms.ChoiceField(label=_("Preferred language"), required=False,
                                 choices=[("", _("Same as the website"))] + list(settings.LANGUAGES),
                                 widget=forms.Select(attrs={"class": "input"}))


class AddressBookForm(AddressForm):
    """Checkout's AddressForm (the same country rules: postal code formats, US/Canadian states)
    with the address book's own extras: a phone and the two default choices."""

    phone = forms.CharField(label=_("Phone (optional)"), max_length=40, required=False,
                            widget=forms.TextInput(attrs={"class": "input", "autocomplete": "tel", "type": "tel"}))
    default_shipping = forms.BooleanField(label=_("Use as my default shipping address"), required=False,
                                          widget=forms.CheckboxInput(attrs={"class": "checkbox"}))
    default_billing = forms.BooleanField(label=_("Use as my default billing address"), required=False,
                                         widget=forms.CheckboxInput(attrs={"class": "checkbox"}))

    @classmethod
    def initial_for(cls, address: Address) -> dict:
        return {**address.as_order_address(), "phone": address.phone,
                "default_shipping": address.is_default_shipping, "default_billing": address.is_default_billing}

    def address(self) -> dict:
        """The cleaned address fields and phone, as services.addresses stores them."""
        return {key: (self.cleaned_data.get(key) or "").strip() for key in (*Address.ORDER_FIELDS, "phone")}


class PreferencesForm(forms.Form):
    accepts_marketing = forms.BooleanField(
        label=_("Email me offers and news"), required=False,
        help_text=_("Marketing email. Order and account emails are always sent."),
        widget=forms.CheckboxInput(attrs={"class": "checkbox"}),
    )
    wants_wishlist_alerts = forms.BooleanField(
        label=_("Tell me when an item on my wishlist is back in stock or cheaper"), required=False,
        widget=forms.CheckboxInput(attrs={"class": "checkbox"}),
    )
