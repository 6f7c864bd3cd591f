"""A product's stock on one page: a row per variant, a column per location, on hand in each cell.

It replaces the stock table nested in every variant of the product page (18 variants made that
page 11,000 px tall and 534 KB). Reads are a fixed number of queries whatever the product holds;
writes go through `services.set_stock_levels` (rows locked in pk order, reserved units respected),
and only for the cells a person changed, each checked against the figure they saw.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import services
from ..exceptions import CatalogError
from ..models import Location, OptionValue, Product, StockLevel, Variant
from .stock import shown_figure, staff_cause


@dataclass
class StockGrid:
    """What the page shows: variants (rows), locations (columns) and the stock rows by (variant, location)."""

    product: Product
    variants: list[Variant]
    locations: list[Location]
    levels: dict[tuple[int, int], StockLevel] = field(default_factory=dict)


def stock_grid(*, product: Product) -> StockGrid:
    """The product's variants with their option values, every location, and the stock rows: 3 queries."""
    variants = list(
        product.variants.order_by("position", "pk").prefetch_related(
            Prefetch("option_values", queryset=OptionValue.objects.select_related("option"))
        )
    )
    levels = {
        (level.variant_id, level.location_id): level
        for level in StockLevel.objects.filter(variant__product=product)
    }
    return StockGrid(product=product, variants=variants, locations=list(Location.objects.all()), levels=levels)


def cell_name(variant_id: int, location_id: int) -> str:
    return f"on_hand-{variant_id}-{location_id}"


class StockGridForm(forms.Form):
    """One whole-number field per variant and location; a cell left as shown is not written.

    Each cell carries the figure shown (Django's hidden initial) so that only cells a person
    changed become changes, each with that figure as `expected_on_hand`: a shipment made while the
    page was open is never overwritten by the number that was on screen.
    """

    error_messages = {
        "invalid": gettext_lazy("Enter a whole number of units, such as 12."),
        "min_value": gettext_lazy("Enter 0 or more units."),
    }

    def __init__(self, *args, grid: StockGrid, **kwargs):
        super().__init__(*args, **kwargs)
        self.grid = grid
        for variant in grid.variants:
            for location in grid.locations:
                level = grid.levels.get((variant.pk, location.pk))
                self.fields[cell_name(variant.pk, location.pk)] = forms.IntegerField(
                    required=False,
                    min_value=0,
                    initial=level.on_hand if level else None,
                    show_hidden_initial=True,
                    error_messages=self.error_messages,
                    label=_("%(sku)s at %(location)s") % {"sku": variant.sku, "location": location.name},
                    widget=forms.NumberInput(attrs={"min": 0, "step": 1, "class": "stock-cell"}),
                )

    def clean(self):
        cleaned = super().clean()
        for variant in self.grid.variants:
            for location in self.grid.locations:
                name = cell_name(variant.pk, location.pk)
                if name not in self.changed_data or name not in cleaned:
                    continue
                level = self.grid.levels.get((variant.pk, location.pk))
                on_hand = cleaned[name]
                if on_hand is None and level is not None:
                    self.add_error(name, _("Enter the units on hand (0 for none); a stock row is not removed here."))
                elif on_hand is not None and level is not None and on_hand < level.reserved:
                    self.add_error(name, _("Cannot be below the %(reserved)d units reserved for orders.")
                                   % {"reserved": level.reserved})
        return cleaned

    def changes(self) -> list[services.StockChange]:
        """The cells a person changed, as service changes. Precondition: the form is valid."""
        changes = []
        for variant in self.grid.variants:
            for location in self.grid.locations:
                name = cell_name(variant.pk, location.pk)
                if name not in self.changed_data or self.cleaned_data[name] is None:
                    continue
                changes.append(services.StockChange(
                    variant_id=variant.pk, location_id=location.pk, on_hand=self.cleaned_data[name],
                    expected_on_hand=shown_figure(self, name),
                ))
        return changes

    def rows(self) -> list[dict]:
        """The grid as the template draws it: per variant its cells in location order."""
        rows = []
        for variant in self.grid.variants:
            cells, on_hand, reserved = [], 0, 0
            for location in self.grid.locations:
                level = self.grid.levels.get((variant.pk, location.pk))
                cells.append({"field": self[cell_name(variant.pk, location.pk)], "level": level, "location": location})
                if level is not None and location.is_active:
                    on_hand += level.on_hand
                    reserved += level.reserved
            rows.append({"variant": variant, "cells": cells, "available": on_hand - reserved})
        return rows


def describe_changes(grid: StockGrid, changes: list[services.StockChange]) -> str:
    """The admin history line for a grid save, e.g. "Stock: TS-1-M at Central warehouse 10 → 4"."""
    skus = {variant.pk: variant.sku for variant in grid.variants}
    names = {location.pk: location.name for location in grid.locations}
    parts = [
        _("%(sku)s at %(location)s %(before)d → %(after)d") % {
            "sku": skus[change.variant_id], "location": names[change.location_id],
            "before": change.expected_on_hand or 0, "after": change.on_hand,
        }
        for change in changes
    ]
    return _("Stock: %(changes)s") % {"changes": "; ".join(parts)}


def stock_grid_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    """The product admin's stock page: GET shows the grid, POST saves the changed cells.

    Seeing it takes permission to see the product and its stock; saving takes permission to add
    and change stock levels. A refused save (bad input, units reserved meanwhile, a figure changed
    since the page was drawn) says why and changes nothing; a save is one admin history entry.
    """
    product = model_admin.get_object(request, unquote(object_id))
    if product is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.model._meta, object_id)
    user = request.user
    may_see_stock = user.has_perm("catalog.view_stocklevel") or user.has_perm("catalog.change_stocklevel")
    if not (model_admin.has_view_or_change_permission(request, product) and may_see_stock):
        raise PermissionDenied
    can_change = user.has_perms(["catalog.change_stocklevel", "catalog.add_stocklevel"])
    grid = stock_grid(product=product)
    form = StockGridForm(request.POST if request.method == "POST" else None, grid=grid)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if form.is_valid():
            _save(model_admin, request, grid, form.changes())
            return redirect(request.path)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Stock of %(product)s") % {"product": product},
        "product": product,
        "form": form,
        "rows": form.rows(),
        "locations": grid.locations,
        "can_change": can_change,
    }
    return TemplateResponse(request, "admin/catalog/product/stock.html", context)


def _save(model_admin, request: HttpRequest, grid: StockGrid, changes: list[services.StockChange]) -> None:
    if not changes:
        model_admin.message_user(request, _("No stock figure was changed."), messages.INFO)
        return
    try:
        with transaction.atomic():
            services.set_stock_levels(changes=changes, cause=staff_cause(request))
            model_admin.log_change(request, grid.product, describe_changes(grid, changes))
    except CatalogError as error:
        model_admin.message_user(request, str(error), messages.ERROR)
        return
    model_admin.message_user(
        request,
        ngettext("Saved %(count)d stock figure.", "Saved %(count)d stock figures.", len(changes))
        % {"count": len(changes)},
        messages.SUCCESS,
    )
