"""The resource every catalog resource extends."""
from __future__ import annotations

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
