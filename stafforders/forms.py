from django import forms
from django.utils.translation import gettext_lazy as _

from .models import DraftOrder


class PlaceDraftForm(forms.Form):
    payment = forms.ChoiceField(label=_("How the customer pays"), choices=DraftOrder.Payment.choices,
                                widget=forms.RadioSelect)
