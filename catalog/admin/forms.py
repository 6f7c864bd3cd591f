"""Forms of the product admin's actions and of its import and export pages."""
from __future__ import annotations

from decimal import Decimal
from pathlib import PurePosixPath

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..importing import FileFormat, ImportKind, category_paths
from ..models import Category


class MoveToCategoryForm(forms.Form):
    category = forms.TypedChoiceField(label=gettext_lazy("Category"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        paths = category_paths()
        self.fields["category"].choices = [("", "---------")] + sorted(
            ((pk, path) for pk, path in paths.items()), key=lambda choice: choice[1]
        )

    def clean_category(self) -> Category:
        return Category.objects.get(pk=self.cleaned_data["category"])


class ChangePricesForm(forms.Form):
    percentage = forms.DecimalField(
        label=gettext_lazy("Change by (%)"),
        max_digits=7,
        decimal_places=2,
        help_text=gettext_lazy("For example -10 lowers every price by 10%; 5.5 raises it by 5.5%."),
    )

    def clean_percentage(self) -> Decimal:
        percentage = self.cleaned_data["percentage"]
        if percentage == 0:
            raise ValidationError(_("Enter a change other than zero."))
        return percentage


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("A .csv (UTF-8) or .xlsx file whose first line names the columns."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        extension = PurePosixPath(upload.name).suffix.lower().lstrip(".")
        if extension not in FileFormat.values:
            raise ValidationError(_("Upload a .csv or .xlsx file."))
        self.cleaned_data["file_format"] = extension
        return upload


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What to export"), choices=ImportKind.choices)
    file_format = forms.ChoiceField(label=gettext_lazy("Format"), choices=FileFormat.choices)
