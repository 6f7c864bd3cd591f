"""Variant columns: sku (key), product slug, ``Size=M; Colour=Navy`` options, prices, weight,
barcode, position, active."""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader

from ..models import Option, OptionValue, Variant
from .base import PairsColumnResource
from .widgets import BooleanWidget, DecimalWidget, IntegerWidget, PairsParser, ProductWidget, TextWidget


class VariantResource(PairsColumnResource):
    sku = Field(attribute="sku", column_name="sku", widget=TextWidget())
    product = Field(attribute="product", column_name="product", widget=ProductWidget())
    options = Field(column_name="options")
    price = Field(attribute="price", column_name="price", widget=DecimalWidget())
    compare_at_price = Field(attribute="compare_at_price", column_name="compare_at_price", widget=DecimalWidget())
    weight = Field(attribute="weight", column_name="weight", widget=DecimalWidget())
    barcode = Field(attribute="barcode", column_name="barcode", widget=TextWidget())
    position = Field(attribute="position", column_name="position", widget=IntegerWidget(), saves_null_values=False)
    is_active = Field(attribute="is_active", column_name="active", widget=BooleanWidget(), saves_null_values=False)

    pairs_column = "options"
    pairs_relation = "option_values"

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
