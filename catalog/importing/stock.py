"""Stock columns: sku and location code (the key together), on_hand; reserved is read-only.

Rows are collected, not saved: `services.set_stock_levels` is the one writer of stock.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from import_export.fields import Field

from ..models import StockLevel
from .base import CatalogResource
from .widgets import IntegerWidget, LocationWidget, VariantWidget


@dataclass(frozen=True)
class PendingStock:
    row_number: int
    variant_id: int
    location_id: int
    on_hand: int


class StockLevelResource(CatalogResource):
    sku = Field(attribute="variant", column_name="sku", widget=VariantWidget())
    location = Field(attribute="location", column_name="location", widget=LocationWidget())
    on_hand = Field(attribute="on_hand", column_name="on_hand", widget=IntegerWidget())
    reserved = Field(attribute="reserved", column_name="reserved", widget=IntegerWidget(), readonly=True)

    class Meta:
        model = StockLevel
        fields = ("sku", "location", "on_hand", "reserved")
        import_id_fields = ("sku", "location")
        clean_model_instances = True
        skip_unchanged = True
        skip_html_diff = True
        chunk_size = 5000

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pending: list[PendingStock] = []

    def get_queryset(self):
        return StockLevel.objects.all()

    def export_queryset(self) -> QuerySet[StockLevel]:
        return StockLevel.objects.select_related("variant", "location").order_by("variant_id", "location_id")

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        on_hand = instance.on_hand
        if "on_hand" not in errors and on_hand is not None and 0 <= on_hand < instance.reserved:
            # Said here in words rather than as the database constraint's name.
            errors["on_hand"] = [
                ValidationError(
                    _("Cannot be %(on_hand)d: %(reserved)d units are reserved for orders.")
                    % {"on_hand": instance.on_hand, "reserved": instance.reserved}
                )
            ]
        super().validate_instance(instance, errors, validate_unique)

    def save_instance(self, instance, is_create, row, **kwargs):
        # Not saved here: stock is written by services.set_stock_levels, which locks the rows.
        self.pending.append(
            PendingStock(
                row_number=kwargs["row_number"], variant_id=instance.variant_id,
                location_id=instance.location_id, on_hand=instance.on_hand,
            )
        )
