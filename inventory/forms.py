from django import forms
from django.db.models import Case, When
from django.utils.translation import gettext_lazy as _

from catalog.models import Location, Variant

from .models import Reason

MAX_COUNT_FILE_BYTES = 2 * 1024 * 1024


def active_locations():
    return Location.objects.filter(is_active=True).order_by("position", "name")


class AdjustmentForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Location"), queryset=active_locations())
    reason = forms.ChoiceField(label=_("Reason"), choices=[
        (reason.value, reason.label) for reason in (Reason.DAMAGE, Reason.THEFT, Reason.FOUND)
    ])
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AdjustmentLineForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=64, required=False)
    quantity = forms.IntegerField(label=_("Units"), required=False,
                                  help_text=_("Below 0 for damage or theft, above 0 for found."))

    def clean(self):
        data = super().clean()
        sku, quantity = (data.get("sku") or "").strip(), data.get("quantity")
        if not sku and quantity in (None, 0):
            return data  # an empty row
        if not sku:
            self.add_error("sku", _("Give the SKU of these units."))
        elif quantity in (None, 0):
            self.add_error("quantity", _("Give a number of units other than 0."))
        else:
            data["variant_id"] = Variant.objects.filter(sku=sku).values_list("pk", flat=True).first()
            if data["variant_id"] is None:
                self.add_error("sku", _("No variant has the SKU “%(sku)s”.") % {"sku": sku})
        return data


AdjustmentLineFormSet = forms.formset_factory(AdjustmentLineForm, extra=6, max_num=200, validate_max=True)


class StockCountForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Location"), queryset=active_locations())
    file = forms.FileField(label=_("Count file (CSV)"),
                           help_text=_("Columns “sku” and “counted”, one row per variant counted."))
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_COUNT_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB: split it."))
        return upload


class TransferForm(forms.ModelForm):
    class Meta:
        from .models import Transfer

        model = Transfer
        fields = ("source", "destination", "note")

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("source") == data.get("destination"):
            self.add_error("destination", _("A transfer goes from one location to another: choose two different ones."))
        return data


class ReceiveForm(forms.Form):
    """One "units arrived" field per line still expected, and "close: the rest is missing"."""

    close = forms.BooleanField(label=_("Close the transfer: whatever has not arrived is missing"), required=False)

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.outstanding]
        for line in self.lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=line.variant.sku, min_value=0, max_value=line.outstanding, required=False,
                help_text=_("%(left)d expected") % {"left": line.outstanding},
            )

    def received(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data.get(f"line_{line.pk}") or 0 for line in self.lines}


class MoveAllocationForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Move to"), queryset=Location.objects.none())

    def __init__(self, *args, choices, **kwargs):
        """`choices`: (location, units available there) for every other active location."""
        super().__init__(*args, **kwargs)
        field = self.fields["location"]
        field.queryset = Location.objects.filter(pk__in=[location.pk for location, _units in choices]).order_by(
            Case(When(kind=Location.Kind.WAREHOUSE, then=0), default=1), "position", "name")
        labels = {location.pk: _("%(name)s (%(units)d available)") % {"name": location.name, "units": units}
                  for location, units in choices}
        field.label_from_instance = lambda location: labels[location.pk]


class RoutingPolicyForm(forms.ModelForm):
    class Meta:
        from .models import RoutingPolicy

        model = RoutingPolicy
        fields = ("split",)
        widgets = {"split": forms.RadioSelect}
