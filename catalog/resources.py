"""CSV and Excel columns for products, variants and stock (django-import-export resources).

The resources map a file's columns to model fields and back. They never decide on their own
whether anything is written: `catalog.services.import_catalog_file` runs them inside one
transaction and rolls everything back if a single row is wrong. Stock rows are not saved here at
all; they are collected and handed to `services.set_stock_levels`, the one writer of stock.

Columns:
- products: slug (key), title, category (slug path such as ``clothing/jackets``), brand (name),
  status (``active``/``draft``), featured, description, seo_title, seo_description, attributes
  (``Material=Cotton; Fit=Slim``).
- variants: sku (key), product (slug), options (``Size=M; Colour=Navy``), price,
  compare_at_price, weight, barcode, position, active.
- stock: sku and location (code) together are the key, on_hand; reserved is exported for
  information and ignored on import (orders own it).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import tablib
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Max, Prefetch, QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import resources
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.instance_loaders import CachedInstanceLoader
from import_export.widgets import CharWidget, Widget

from shop.html import sanitize_html

from .models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    Location,
    Option,
    OptionValue,
    Product,
    StockLevel,
    Variant,
)


class ImportKind(models.TextChoices):
    PRODUCTS = "products", gettext_lazy("Products")
    VARIANTS = "variants", gettext_lazy("Variants")
    STOCK = "stock", gettext_lazy("Stock levels")


class FileFormat(models.TextChoices):
    CSV = "csv", gettext_lazy("CSV (UTF-8)")
    XLSX = "xlsx", gettext_lazy("Excel workbook (.xlsx)")


CONTENT_TYPES = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def category_paths() -> dict[int, str]:
    """Slug path of every category, active or not, by id (one query)."""
    rows = {row["id"]: row for row in Category.objects.values("id", "parent_id", "slug").order_by()}
    paths: dict[int, str] = {}

    def path_of(category_id: int, seen: tuple[int, ...] = ()) -> str:
        if category_id not in paths:
            row = rows[category_id]
            parent = row["parent_id"]
            if parent is None or parent in seen:  # `seen` guards against a corrupt cycle
                paths[category_id] = row["slug"]
            else:
                paths[category_id] = f"{path_of(parent, (*seen, category_id))}/{row['slug']}"
        return paths[category_id]

    for category_id in rows:
        path_of(category_id)
    return paths


# --- Reading files ------------------------------------------------------------------------------


class UnreadableFile(ValueError):
    """The upload is not a CSV or workbook we can read; the message says what to do."""


@dataclass
class ParsedFile:
    dataset: tablib.Dataset
    # lines[i] is the line (CSV) or sheet row (Excel) where data row i starts, for error reports.
    lines: list[int]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Spreadsheets store 25 as 25.0 and 19.99 as a binary float; write what the cell shows.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def read_file(*, content: bytes, file_format: str) -> ParsedFile:
    """Read an upload into a dataset of text cells with lowercase headers, dropping blank rows."""
    if file_format == FileFormat.CSV:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UnreadableFile(_("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."))
        first_line = text.split("\n", 1)[0]
        # Spreadsheets in many locales save CSV with semicolons or tabs between the columns.
        delimiter = max([",", ";", "\t"], key=first_line.count)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows, lines, next_line = [], [], 1
        try:
            for record in reader:
                rows.append(record)
                lines.append(next_line)
                next_line = reader.line_num + 1
        except csv.Error as error:
            raise UnreadableFile(_("Line %(line)d could not be read: %(error)s") % {"line": next_line, "error": error})
    elif file_format == FileFormat.XLSX:
        try:
            sheet = base_formats.XLSX().create_dataset(content)
        except Exception:  # openpyxl raises many kinds of errors on a file that is not a workbook
            raise UnreadableFile(_("The file is not an Excel workbook (.xlsx)."))
        rows = [list(sheet.headers or [])] + [list(row) for row in sheet]
        lines = list(range(1, len(rows) + 1))
    else:
        raise UnreadableFile(_("Unknown file format “%(format)s”.") % {"format": file_format})

    if not rows or not any(_cell_text(cell) for cell in rows[0]):
        raise UnreadableFile(_("The file is empty: the first line should name the columns."))
    headers = [_cell_text(cell).lower() for cell in rows[0]]
    dataset = tablib.Dataset(headers=headers)
    data_lines = []
    for row, line in zip(rows[1:], lines[1:]):
        cells = [_cell_text(cell) for cell in row][: len(headers)]
        cells += [""] * (len(headers) - len(cells))
        if any(cells):
            dataset.append(cells)
            data_lines.append(line)
    return ParsedFile(dataset=dataset, lines=data_lines)


# --- Widgets: strict conversions with messages staff can act on ----------------------------------


class TextWidget(CharWidget):
    def clean(self, value, row=None, **kwargs):
        return _cell_text(value)


class HtmlWidget(TextWidget):
    """Rich text, sanitised as the model's save() would, so an unchanged row compares equal."""

    def clean(self, value, row=None, **kwargs):
        return sanitize_html(super().clean(value, row, **kwargs))


class OptionalTextWidget(Widget):
    """Blank means "leave as it is" (None with saves_null_values=False)."""

    def clean(self, value, row=None, **kwargs):
        return _cell_text(value) or None


class DecimalWidget(Widget):
    def clean(self, value, row=None, **kwargs):
        text = _cell_text(value)
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": text})
        if not number.is_finite():
            raise ValueError(_("“%(value)s” is not a number.") % {"value": text})
        return number

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class IntegerWidget(DecimalWidget):
    def clean(self, value, row=None, **kwargs):
        try:
            number = super().clean(value, row, **kwargs)
        except ValueError:
            number = Decimal("NaN")
        if number is None:
            return None
        if not number.is_finite() or number != number.to_integral_value() or abs(number) > 2**31:
            raise ValueError(_("“%(value)s” is not a whole number.") % {"value": _cell_text(value)})
        return int(number)


class BooleanWidget(Widget):
    TRUE = {"1", "true", "yes", "y"}
    FALSE = {"0", "false", "no", "n"}

    def clean(self, value, row=None, **kwargs):
        text = _cell_text(value).lower()
        if not text:
            return None
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValueError(_("“%(value)s” is not yes or no (use true or false).") % {"value": _cell_text(value)})

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else ("true" if value else "false")


class LookupWidget(Widget):
    """A foreign key given by a natural key (slug, SKU, code, name), looked up once per value."""

    model: type[models.Model]
    key: str
    not_found: str

    def __init__(self) -> None:
        super().__init__()
        self.cache: dict[str, models.Model | None] = {}

    def normalise(self, text: str) -> str:
        return text

    def prime(self, values: list[str]) -> None:
        """Load every object the file names in one query."""
        wanted = {self.normalise(v) for v in values if v} - set(self.cache)
        if not wanted:
            return
        matches = self.queryset().filter(**{f"{self.key}__in": wanted})
        found = {self.normalise(str(getattr(obj, self.key))): obj for obj in matches}
        for value in wanted:
            self.cache[value] = found.get(value)

    def queryset(self) -> QuerySet:
        return self.model.objects.all()

    def clean(self, value, row=None, **kwargs):
        text = self.normalise(_cell_text(value))
        if not text:
            return None
        if text not in self.cache:
            self.cache[text] = self.queryset().filter(**{self.key: text}).first()
        obj = self.cache[text]
        if obj is None:
            raise ValueError(self.not_found % {"value": text})
        return obj

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(getattr(value, self.key))


class ProductWidget(LookupWidget):
    model, key = Product, "slug"
    not_found = gettext_lazy("There is no product with the slug “%(value)s”.")


class VariantWidget(LookupWidget):
    model, key = Variant, "sku"
    not_found = gettext_lazy("There is no variant with the SKU “%(value)s”.")


class LocationWidget(LookupWidget):
    model, key = Location, "code"
    not_found = gettext_lazy("There is no location with the code “%(value)s”.")


class BrandWidget(LookupWidget):
    """A brand by name, in any letter case (brands are few: all are loaded once)."""

    model, key = Brand, "name"
    not_found = gettext_lazy("There is no brand called “%(value)s”.")

    def normalise(self, text: str) -> str:
        return text.lower()

    def prime(self, values: list[str]) -> None:
        if not self.cache:
            self.cache = {brand.name.lower(): brand for brand in Brand.objects.all()}

    def clean(self, value, row=None, **kwargs):
        self.prime([])
        text = _cell_text(value)
        if not text:
            return None
        brand = self.cache.get(self.normalise(text))
        if brand is None:
            raise ValueError(self.not_found % {"value": text})
        return brand


class CategoryPathWidget(Widget):
    """A category given by its slug path, e.g. ``clothing/jackets``."""

    def __init__(self) -> None:
        super().__init__()
        self._paths: dict[int, str] | None = None
        self._by_path: dict[str, Category] = {}

    def paths(self) -> dict[int, str]:
        if self._paths is None:
            self._paths = category_paths()
        return self._paths

    def clean(self, value, row=None, **kwargs):
        text = _cell_text(value).strip("/").lower()
        if not text:
            return None
        if not self._by_path:
            categories = Category.objects.in_bulk()
            self._by_path = {path: categories[pk] for pk, path in self.paths().items()}
        category = self._by_path.get(text)
        if category is None:
            raise ValueError(_("There is no category at the path “%(value)s”.") % {"value": text})
        return category

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else self.paths().get(value.pk, value.slug)


class ChoiceWidget(OptionalTextWidget):
    """A choice written as its stored value, in any letter case; blank leaves it as it is."""

    def clean(self, value, row=None, **kwargs):
        text = super().clean(value, row, **kwargs)
        return text.lower() if text else None


class PairsParser:
    """Reads and writes ``Name=Value; Name=Value`` cells for options and attributes.

    Dimensions (the option or attribute) must exist already, so a typo in a name is reported
    rather than silently creating a new facet; values are created as needed.
    """

    def __init__(self, dimension_model: type[models.Model], value_model: type[models.Model], fk: str) -> None:
        self.dimension_model, self.value_model, self.fk = dimension_model, value_model, fk
        self._dimensions: dict[str, models.Model] | None = None
        self._values: dict[tuple[int, str], models.Model] = {}
        self._next_position: dict[int, int] = {}

    def _load(self) -> dict[str, models.Model]:
        if self._dimensions is None:
            self._dimensions = {}
            for dimension in self.dimension_model.objects.all():
                self._dimensions[dimension.slug.lower()] = dimension
                self._dimensions[dimension.name.lower()] = dimension
            for value in self.value_model.objects.all():
                self._values[(getattr(value, f"{self.fk}_id"), value.slug)] = value
            rows = self.value_model.objects.values(self.fk).annotate(top=Max("position")).order_by()
            self._next_position = {row[self.fk]: row["top"] + 1 for row in rows}
        return self._dimensions

    def parse(self, text: str) -> list[tuple[models.Model, str, str]]:
        """[(dimension, label, slug)] for a cell; raises ValueError naming what is wrong."""
        dimensions = self._load()
        parsed, seen = [], set()
        for pair in (part.strip() for part in _cell_text(text).split(";")):
            if not pair:
                continue
            name, sep, label = (piece.strip() for piece in pair.partition("="))
            if not sep or not name or not label:
                raise ValueError(_("“%(pair)s” should look like “Size=M”.") % {"pair": pair})
            dimension = dimensions.get(name.lower())
            if dimension is None:
                raise ValueError(
                    _("There is no %(kind)s called “%(name)s”.")
                    % {"kind": self.dimension_model._meta.verbose_name, "name": name}
                )
            if dimension.pk in seen:
                raise ValueError(_("“%(name)s” is given more than once.") % {"name": dimension.name})
            seen.add(dimension.pk)
            slug = slugify(label)
            if not slug:
                raise ValueError(_("“%(value)s” needs at least one letter or digit.") % {"value": label})
            parsed.append((dimension, label, slug))
        return parsed

    def unchanged(self, parsed: list[tuple[models.Model, str, str]], current: list[models.Model]) -> bool:
        wanted = {(dimension.pk, slug) for dimension, _label, slug in parsed}
        return wanted == {(getattr(value, f"{self.fk}_id"), value.slug) for value in current}

    def resolve(self, parsed: list[tuple[models.Model, str, str]]) -> list[models.Model]:
        """The value rows for a parsed cell, creating the missing ones (caller's transaction)."""
        values = []
        for dimension, label, slug in parsed:
            value = self._values.get((dimension.pk, slug))
            if value is None:
                position = self._next_position.get(dimension.pk, 0)
                value = self.value_model.objects.create(
                    **{self.fk: dimension}, value=label[:60], slug=slug[:60], position=position
                )
                self._next_position[dimension.pk] = position + 1
                self._values[(dimension.pk, slug)] = value
            values.append(value)
        return values

    @staticmethod
    def render(values) -> str:
        return "; ".join(f"{value_dimension(value).name}={value.value}" for value in values)


def value_dimension(value: models.Model) -> models.Model:
    return value.option if isinstance(value, OptionValue) else value.attribute


# --- Resources ----------------------------------------------------------------------------------


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


class ProductResource(CatalogResource):
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

    def import_instance(self, instance, row, **kwargs):
        errors: dict = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        instance._import_pairs = None
        if "attributes" in row:
            try:
                instance._import_pairs = self.pairs.parse(row["attributes"])
            except ValueError as error:
                errors["attributes"] = [ValidationError(str(error))]
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not super().skip_row(instance, original, row, import_validation_errors):
            return False
        if instance.pk is None or instance._import_pairs is None:
            return instance.pk is not None
        return self.pairs.unchanged(instance._import_pairs, list(instance.attribute_values.all()))

    def save_m2m(self, instance, row, **kwargs):
        if instance._import_pairs is not None:
            instance.attribute_values.set(self.pairs.resolve(instance._import_pairs))


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


RESOURCES: dict[str, type[CatalogResource]] = {
    ImportKind.PRODUCTS: ProductResource,
    ImportKind.VARIANTS: VariantResource,
    ImportKind.STOCK: StockLevelResource,
}


# --- Export -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes


def export_catalog_file(*, kind: str, file_format: str) -> ExportFile:
    """The whole catalog of one kind as a file the import reads back unchanged.

    Queries grow with the number of rows only by one query (plus prefetches) per 2,000 rows.
    """
    resource = RESOURCES[kind]()
    dataset = resource.export(queryset=resource.export_queryset())
    if file_format == FileFormat.XLSX:
        content = base_formats.XLSX().export_data(dataset)
    else:
        # The byte-order mark makes Excel open the file as UTF-8 rather than a local code page.
        content = "\ufeff".encode() + base_formats.CSV().export_data(dataset).encode("utf-8")
    return ExportFile(filename=f"{kind}.{file_format}", content_type=CONTENT_TYPES[file_format], content=content)
