"""Product columns: slug (key), title, category path, brand, status, featured, description, SEO
fields and ``Material=Cotton; Fit=Slim`` attributes."""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader

from ..models import Attribute, AttributeValue, Product
from .base import PairsColumnResource
from .widgets import (
    BooleanWidget,
    BrandWidget,
    CategoryPathWidget,
    ChoiceWidget,
    HtmlWidget,
    PairsParser,
    TextWidget,
)


class ProductResource(PairsColumnResource):
    slug = Field(attribute="slug", column_name="slug", widget=TextWidget())
    title = Field(attribute="title", column_name="title", widget=TextWidget())
    category = Field(attribute="category", column_name="category", widget=CategoryPathWidget())
    brand = Field(attribute="brand", column_name="brand", widget=BrandWidget())
    status = Field(attribute="status", column_name="status", widget=ChoiceWidget(), saves_null_values=False)
    is_featured = Field(
        attribute="is_featured", column_name="featured", widget=BooleanWidget(), saves_null_values=False
    )
    description = Field(attribute="description", column_name="description", widget=HtmlWidget())
    seo_title = Field(attribute="seo_title", column_name="seo_title", widget=TextWidget())
    seo_description = Field(attribute="seo_description", column_name="seo_description", widget=TextWidget())
    attributes = Field(column_name="attributes")

    pairs_column = "attributes"
    pairs_relation = "attribute_values"

    class Meta:
        model = Product
        fields = (
            "slug", "title", "category", "brand", "status", "is_featured", "description", "seo_title",
            "seo_description", "attributes",
        )
        import_id_fields = ("slug",)
        instance_loader_class = CachedInstanceLoader
        clean_model_instances = True
        skip_unchanged = True
        skip_html_diff = True
        chunk_size = 2000

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pairs = PairsParser(Attribute, AttributeValue, "attribute")

    def get_queryset(self):
        return Product.objects.all()

    def export_queryset(self) -> QuerySet[Product]:
        values = AttributeValue.objects.select_related("attribute").order_by("attribute__position", "position")
        return (
            Product.objects.select_related("category", "brand")
            .prefetch_related(Prefetch("attribute_values", queryset=values))
            .order_by("pk")
        )

    def dehydrate_attributes(self, product: Product) -> str:
        return self.pairs.render(product.attribute_values.all())
