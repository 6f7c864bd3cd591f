"""The checkout's forms: contact, addresses with country-appropriate rules, and the delivery choice.

No form here has a price or a quantity field: the server works those out (services).
"""
from __future__ import annotations

import re

from django import forms
from django.utils.choices import BaseChoiceIterator
from django.utils.translation import gettext_lazy as _

from . import selectors
from .services import DELIVERY, DIGITAL, ShippingOption

# Countries whose addresses have no postal code (or an optional one, like Ireland's Eircode).
NO_POSTAL_CODE = frozenset(
    "AE AG AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM DJ DM ER FJ GA GD GH GM GQ GY HK IE JM KI KM KN KP LY "
    "ML MO MR MW NR NU QA RW SB SC SL SR SS ST SY TD TF TG TK TL TO TV UG VU YE ZW".split()
)
POSTAL_CODE_FORMATS = {
    "US": (re.compile(r"^\d{5}(-\d{4})?$"), _("Enter a ZIP code like 12345 or 12345-6789.")),
    "CA": (re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$"), _("Enter a postal code like K1A 0B1.")),
}
REGIONS = {
    "US": {
        "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
        "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
        "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
        "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
        "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
        "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
        "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
        "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
        "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
        "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico", "GU": "Guam",
        "VI": "U.S. Virgin Islands", "AS": "American Samoa", "MP": "Northern Mariana Islands",
        "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
    },
    "CA": {
        "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
        "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
        "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
    },
}


def _input(autocomplete: str, **attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "input", "autocomplete": autocomplete, **attrs})


class _CountryChoices(BaseChoiceIterator):
    """`selectors.country_choices()` (cached per language) as the field's choices: read in the
    language active when iterated, and, being a choice iterator, not normalized again into a new
    list of ~250 pairs each time a form is made (two or three forms a checkout request)."""

    def __iter__(self):
        return iter(selectors.country_choices())


COUNTRY_CHOICES = _CountryChoices()


class AddressForm(forms.Form):
    """A postal address. Postal code required where the country has one; a state or province for
    the US and Canada (code or name, stored as the code).

    `street_required=False` (click and collect) asks only for the name and country.
    """

    name = forms.CharField(label=_("Full name"), max_length=120, widget=_input("name"))
    company = forms.CharField(label=_("Company (optional)"), max_length=120, required=False, widget=_input("organization"))
    line1 = forms.CharField(label=_("Address"), max_length=200, required=False, widget=_input("address-line1"))
    line2 = forms.CharField(label=_("Apartment, suite, etc. (optional)"), max_length=200, required=False,
                            widget=_input("address-line2"))
    city = forms.CharField(label=_("City"), max_length=100, required=False, widget=_input("address-level2"))
    region = forms.CharField(label=_("State / province"), max_length=100, required=False,
                             help_text=_("Required for the United States and Canada."), widget=_input("address-level1"))
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False, widget=_input("postal-code"))
    country = forms.ChoiceField(label=_("Country"), choices=(), widget=forms.Select(attrs={"class": "input",
                                                                                          "autocomplete": "country"}))

    def __init__(self, *args, street_required: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.street_required = street_required
        self.fields["country"].choices = COUNTRY_CHOICES

    def clean(self):
        data = super().clean()
        country = data.get("country")
        if not country or not self.street_required:
            return data
        for field in ("line1", "city"):
            if not data.get(field):
                self.add_error(field, _("This field is required."))
        postal_code = (data.get("postal_code") or "").strip().upper()
        if country not in NO_POSTAL_CODE:
            pattern, message = POSTAL_CODE_FORMATS.get(country, (None, None))
            if not postal_code:
                self.add_error("postal_code", _("A postal code is required for this country."))
            elif pattern is not None and not pattern.match(postal_code):
                self.add_error("postal_code", message)
            else:
                data["postal_code"] = postal_code
        if country in REGIONS:
            region = (data.get("region") or "").strip()
            names = {name.lower(): code for code, name in REGIONS[country].items()}
            code = region.upper() if region.upper() in REGIONS[country] else names.get(region.lower())
            if code is None:
                self.add_error("region", _("Enter a state or province of this country (e.g. NY or New York)."))
            else:
                data["region"] = code
        return data

    def address(self) -> dict:
        """The cleaned address as orders store it (Order.shipping_address)."""
        return {key: (self.cleaned_data.get(key) or "").strip() for key in self.fields}


class CheckoutForm(forms.Form):
    """Contact, billing choice and the delivery option, chosen among `options` (server-priced)."""

    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"class": "input", "autocomplete": "email"}))
    phone = forms.CharField(label=_("Phone (optional)"), max_length=40, required=False,
                            widget=forms.TextInput(attrs={"class": "input", "autocomplete": "tel", "type": "tel"}))
    delivery = forms.ChoiceField(label=_("Delivery"), choices=(), widget=forms.RadioSelect,
                                 error_messages={"required": _("Choose how you want to receive your order."),
                                                 "invalid_choice": _("Choose one of the delivery options shown.")})
    billing_same = forms.BooleanField(label=_("Billing address is the same as the shipping address"),
                                      required=False, initial=True)

    def __init__(self, *args, options: list[ShippingOption], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = options
        self.fields["delivery"].choices = [(option.key, option.name) for option in options]
        self.digital = [option.kind for option in options] == [DIGITAL]
        if self.digital:
            # Nothing to ship (gift cards only): no choice to make, and none is shown or posted.
            self.fields["delivery"].required = False

    def clean_delivery(self) -> str:
        return DIGITAL if self.digital else self.cleaned_data["delivery"]

    def chosen(self) -> ShippingOption | None:
        key = self.cleaned_data.get("delivery") if hasattr(self, "cleaned_data") else None
        return next((option for option in self.options if option.key == key), None)

    def is_delivery(self) -> bool:
        """Whether the posted choice ships to an address (an unknown or missing choice counts as yes)."""
        key = self.data.get(self.add_prefix("delivery"), "") if self.is_bound else self.initial.get("delivery", "")
        option = next((option for option in self.options if option.key == key), None)
        return option is None or option.kind == DELIVERY


class PlaceOrderForm(forms.Form):
    """The review's "Place order" button: the idempotency key the review page generated, and the
    discount it showed (never trusted as money: placing refuses an order whose promotions would
    now give less than the shopper saw, see promotions.services.discounter_for)."""

    idempotency_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{20,64}$", widget=forms.HiddenInput)
    discount = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, widget=forms.HiddenInput)
