"""The shopper's return form and the back office's forms: each checks what was typed; one
service acts on it and checks again under its locks."""
from __future__ import annotations

import uuid

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from catalog.validators import IMAGE_FORMATS, inspect_image_upload

from .models import Reason
from .selectors import Eligibility


class ReturnRequestForm(forms.Form):
    """A `line_<pk>` quantity per order line that may come back (0 to what is available), the
    reason, a comment and an optional photo. Lines that cannot come back get no field; the
    template shows why (`eligibility.lines[i].blocked`)."""

    reason = forms.ChoiceField(label=_("Why are you returning these items?"), choices=Reason.choices,
                               widget=forms.RadioSelect,
                               error_messages={"required": _("Choose why you are returning the items.")})
    comment = forms.CharField(label=_("Anything we should know? (optional)"), max_length=1000, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
    photo = forms.FileField(
        label=_("A photo (optional)"), required=False,
        help_text=_("For example of a damage. JPEG, PNG, WebP or GIF. Only you and our staff can see it."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )

    def __init__(self, *args, eligibility: Eligibility, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eligibility = eligibility
        self.open_lines = [item for item in eligibility.lines if item.available]
        for item in self.open_lines:
            self.fields[f"line_{item.line.pk}"] = forms.IntegerField(
                label=_("How many to return"), min_value=0, max_value=item.available, initial=0,
                help_text=_("Up to %(count)d") % {"count": item.available},
            )
        self.order_fields([f"line_{item.line.pk}" for item in self.open_lines])

    def rows(self):
        """Each order line with its field (None when it cannot come back) and the reason why not."""
        for item in self.eligibility.lines:
            yield item, (self[f"line_{item.line.pk}"] if item.available else None)

    def quantities(self) -> dict[int, int]:
        return {item.line.pk: self.cleaned_data[f"line_{item.line.pk}"] for item in self.open_lines
                if self.cleaned_data.get(f"line_{item.line.pk}")}

    def clean_photo(self) -> UploadedFile | None:
        photo = self.cleaned_data.get("photo")
        if not photo:
            return None
        image_format = inspect_image_upload(photo)
        # Stored under a name of ours: the shopper's file name never reaches the disk.
        photo.name = f"{uuid.uuid4().hex}.{IMAGE_FORMATS[image_format][0]}"
        return photo

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.open_lines:
            raise forms.ValidationError(self.eligibility.closed or _("Nothing in this order can be returned now."))
        if not self.errors and not self.quantities():
            raise forms.ValidationError(_("Enter how many of at least one item you want to return."))
        return cleaned


class DecisionForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the shopper"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent in the email. Required when refusing."),
    )


class ReceiveForm(forms.Form):
    """Where the parcel arrived and, per return line, how many go back in stock (the rest are
    written off, with a reason)."""

    location = forms.TypedChoiceField(label=_("Received at"), coerce=int)
    write_off_reason = forms.CharField(label=_("Why are the others written off?"), max_length=200, required=False,
                                       help_text=_("Required when not every unit goes back in stock, e.g. damaged."))

    def __init__(self, *args, lines, locations, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        self.fields["location"].choices = [(loc.pk, f"{loc.name} ({loc.get_kind_display()})") for loc in locations]
        for line in self.lines:
            self.fields[f"restock_{line.pk}"] = forms.IntegerField(
                label=f"{line.order_line.product_title} ({line.order_line.sku}): {_('back in stock')}",
                min_value=0, max_value=line.quantity, initial=line.quantity,
                help_text=_("of %(count)d returned") % {"count": line.quantity})

    def restock(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"restock_{line.pk}"] for line in self.lines}

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors and any(self.restock()[line.pk] < line.quantity for line in self.lines) \
                and not cleaned.get("write_off_reason", "").strip():
            self.add_error("write_off_reason", _("Say why the units not put back in stock are written off."))
        return cleaned


class ExchangeForm(forms.Form):
    """Per return line, the other size or colour to send (or none)."""

    collect_at = forms.TypedChoiceField(
        label=_("The shopper collects it at"), coerce=int, required=False, empty_value=None,
        help_text=_("Reserved at that shop (it must hold the units); otherwise it is sent by parcel."))

    def __init__(self, *args, lines, choices, shops=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["collect_at"].choices = [("", _("Nobody: send it by parcel"))] + [
            (shop.pk, shop.name) for shop in shops]
        self.lines = list(lines)
        for line in self.lines:
            options = choices.get(line.pk, [])
            self.fields[f"variant_{line.pk}"] = forms.TypedChoiceField(
                label=f"{line.quantity} × {line.order_line.product_title} ({line.order_line.options or line.order_line.sku})",
                coerce=int, required=False, empty_value=None,
                choices=[("", _("No exchange"))] + [(v.pk, v.sku) for v in options])

    def variants(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"variant_{line.pk}"] for line in self.lines
                if self.cleaned_data.get(f"variant_{line.pk}")}

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors and not self.variants():
            raise forms.ValidationError(_("Choose the size or colour to send for at least one item."))
        return cleaned


class ExchangeShipmentForm(forms.Form):
    """How the exchange leaves: the parcel's carrier and tracking (as an order's shipment form), or
    handed over at the shop where it was reserved for the shopper to collect."""

    carrier = forms.CharField(label=_("Carrier"), max_length=80, required=False)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=80, required=False)
    tracking_url = forms.URLField(label=_("Tracking link"), max_length=200, required=False, assume_scheme="https")

    def __init__(self, *args, shop=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop
        if shop is not None:
            self.fields["collected"] = forms.BooleanField(
                label=_("Collected at %(shop)s by the shopper") % {"shop": shop.name}, required=False,
                help_text=_("Tick instead of typing a carrier when the shopper took it at the counter."))

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors and not cleaned.get("collected") and not (
                cleaned.get("carrier", "").strip() and cleaned.get("tracking_number", "").strip()):
            raise forms.ValidationError(_("Type the carrier and the tracking number of the exchange's parcel."))
        return cleaned

    def shipment(self) -> dict:
        if self.cleaned_data.get("collected"):
            return {"collected_at": self.shop.pk}
        return {key: self.cleaned_data[key] for key in ("carrier", "tracking_number", "tracking_url")}
