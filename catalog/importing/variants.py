"""Variant columns: sku (key), product slug, ``Size=M; Colour=Navy`` options, prices, weight,
barcode, position, active."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader

from ..models import Option, OptionValue, Variant
from .base import CatalogResource
from .widgets import BooleanWidget, DecimalWidget, IntegerWidget, PairsParser, ProductWidget, TextWidget


class VariantResource(CatalogResource):
    sku = Field(attribute="sku", column_name="sku", widget=TextWidget())
    product = Field(attribute="product", column_name="product", widget=ProductWidget())
    options = Field(column_name="options")
    price = Field(attribute="price", column_name="price", widget=DecimalWidget())
    compare_at_price = Field(attribute="compare_at_price", column_name="compare_at_price", widget=DecimalWidget())
    weight = Field(attribute="weight", column_name="weight", widget=DecimalWidget())
    barcode = Field(attribute="barcode", column_name="barcode", widget=TextWidget())
    position = Field(attribute="position", column_name="position", widget=IntegerWidget(), saves_null_values=False)
    is_active = Field(attribute="is_active", column_name="active", widget=BooleanWidget(), saves_null_values=False)

    class Meta:
        model = Variant
        fields = (
            "sku", "product", "options", "price", "compare_at_price", "weight", "barcode", "position", "is_active",
        )
        import_id_fields = ("sku",)
        instance_loader_class = CachedInstanceLoader
        clean_model_instances = True
        skip_unchanged = True
        skip_html_diff = True
        chunk_size = 2000

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pairs = PairsParser(Option, OptionValue, "option")

    def get_queryset(self):
        return Variant.objects.all()

    def export_queryset(self) -> QuerySet[Variant]:
        values = OptionValue.objects.select_related("option").order_by("option__position", "position")
        return (
            Variant.objects.select_related("product")
            .prefetch_related(Prefetch("option_values", queryset=values))
            .order_by("product_id", "position", "pk")
        )

    def dehydrate_options(self, variant: Variant) -> str:
        return self.pairs.render(variant.option_values.all())

    def import_instance(self, instance, row, **kwargs):
        errors: dict = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        instance._import_pairs = None
        if "options" in row:
            try:
                instance._import_pairs = self.pairs.parse(row["options"])
            except ValueError as error:
                errors["options"] = [ValidationError(str(error))]
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not super().skip_row(instance, original, row, import_validation_errors):
            return False
        if instance.pk is None or instance._import_pairs is None:
            return instance.pk is not None
        return self.pairs.unchanged(instance._import_pairs, list(instance.option_values.all()))

    def save_m2m(self, instance, row, **kwargs):
        if instance._import_pairs is not None:
            instance.option_values.set(self.pairs.resolve(instance._import_pairs))
