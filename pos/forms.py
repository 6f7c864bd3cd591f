from django import forms
from django.utils.translation import gettext_lazy as _



class MoneyInput(forms.TextInput):
    input_type = "text"

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})


class OpenRegisterForm(forms.Form):
    opening_float = forms.DecimalField(label=_("Float in the drawer"), min_value=0, max_digits=12, decimal_places=2,
                                       widget=MoneyInput())


class CloseRegisterForm(forms.Form):
    counted_cash = forms.DecimalField(label=_("Cash counted in the drawer"), min_value=0, max_digits=12,
                                      decimal_places=2, widget=MoneyInput())
    note = forms.CharField(label=_("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class PayForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    cash_tendered = forms.DecimalField(label=_("Cash tendered"), required=False, min_value=0, max_digits=12,
                                       decimal_places=2, widget=MoneyInput())
    card_amount = forms.DecimalField(label=_("Card on the terminal"), required=False, min_value=0, max_digits=12,
                                     decimal_places=2, widget=MoneyInput())
    card_reference = forms.CharField(label=_("Terminal reference"), required=False, max_length=80)
    gift_card_code = forms.CharField(label=_("Gift card code"), required=False, max_length=40)
    email = forms.EmailField(label=_("Customer email"), required=False)
    name = forms.CharField(label=_("Customer name"), required=False, max_length=200)
    line1 = forms.CharField(label=_("Address"), required=False, max_length=200)
    line2 = forms.CharField(label=_("Address line 2"), required=False, max_length=200)
    postal_code = forms.CharField(label=_("Postal code"), required=False, max_length=20)
    city = forms.CharField(label=_("City"), required=False, max_length=100)
    country = forms.CharField(label=_("Country (ISO code)"), required=False, max_length=2)

    def shipping_address(self) -> dict:
        data = self.cleaned_data
        address = {k: data.get(k, "").strip() for k in ("line1", "line2", "postal_code", "city")}
        address["country"] = data.get("country", "").strip().upper()
        address["name"] = data.get("name", "").strip()
        return address if address["line1"] else {}


class ReceiptEmailForm(forms.Form):
    email = forms.EmailField(label=_("Email the receipt to"), required=False)
