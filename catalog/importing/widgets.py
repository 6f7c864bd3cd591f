"""Widgets: strict conversions of cells with messages staff can act on.

Also the ``Name=Value; Name=Value`` parser shared by product attributes and variant options.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import models
from django.db.models import Max, QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.widgets import CharWidget, Widget

from shop.html import sanitize_html

from ..models import Brand, Category, Location, OptionValue, Product, Variant
from .files import _cell_text


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
