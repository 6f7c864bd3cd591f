"""The resource every catalog resource extends."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import resources

from .widgets import LookupWidget


class CatalogResource(resources.ModelResource):
    """Shared behaviour: strict cleaning, skip unchanged rows, key columns required."""

    def lookup_widgets(self) -> list[tuple[str, LookupWidget]]:
        return [
            (field.column_name, field.widget)
            for field in self.fields.values()
            if isinstance(field.widget, LookupWidget)
        ]

    def before_import(self, dataset, **kwargs):
        for column, widget in self.lookup_widgets():
            if column in dataset.headers:
                widget.prime(dataset[column])

    def columns(self) -> list[str]:
        return [field.column_name for field in self.get_export_fields()]

    def key_columns(self) -> list[str]:
        return [self.fields[name].column_name for name in self.get_import_id_fields()]

    def column_of(self, attribute: str) -> str:
        for field in self.fields.values():
            if field.attribute == attribute or field.column_name == attribute:
                return field.column_name
        return attribute


class PairsColumnResource(CatalogResource):
    """A resource with one column of `Name=Value; Name=Value` pairs kept in a many-to-many relation
    (a product's attributes, a variant's options). Subclasses set `pairs_column`,
    `pairs_relation` and `self.pairs` (a PairsParser)."""

    pairs_column: str
    pairs_relation: str

    def import_instance(self, instance, row, **kwargs):
        errors: dict = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        instance._import_pairs = None
        if self.pairs_column in row:
            try:
                instance._import_pairs = self.pairs.parse(row[self.pairs_column])
            except ValueError as error:
                errors[self.pairs_column] = [ValidationError(str(error))]
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not super().skip_row(instance, original, row, import_validation_errors):
            return False
        if instance.pk is None or instance._import_pairs is None:
            return instance.pk is not None
        return self.pairs.unchanged(instance._import_pairs, list(getattr(instance, self.pairs_relation).all()))

    def save_m2m(self, instance, row, **kwargs):
        if instance._import_pairs is not None:
            getattr(instance, self.pairs_relation).set(self.pairs.resolve(instance._import_pairs))
