"""Variants, stock levels and locations. Stock quantities are written by `services.set_stock_levels`,
each with the figure the page showed, so a change made meanwhile is never silently overwritten."""
from __future__ import annotations

import nested_admin
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import F, OuterRef, Subquery, Sum
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inventory.ledger import Cause
from inventory.models import Reason

from .. import services
from ..exceptions import CatalogError
from ..models import Location, Product, StockLevel, Variant
from .base import CatalogErrorsAsMessages


def _location_choices(request: HttpRequest) -> list[tuple]:
    # Every stock row renders a location select; build its choices once per request, not per row.
    if not hasattr(request, "_catalog_location_choices"):
        request._catalog_location_choices = [("", "---------")] + [
            (location.pk, str(location)) for location in Location.objects.all()
        ]
    return request._catalog_location_choices


def shown_figure(form: forms.Form, name: str) -> int | None:
    """The number a bound form's page showed in field `name` (which has `show_hidden_initial`).

    Read from the posted hidden initial, not from the database: the database may have moved since
    the page was drawn, which is what callers pass on as `expected_on_hand`. An empty one means the
    page showed no stock row (0 units). None when the page did not send it (a client that is not
    the page, or a page drawn before this release): nothing to compare, as before.
    """
    bound = form[name]
    if bound.html_initial_name not in form.data:
        return None
    posted = bound.field.hidden_widget().value_from_datadict(form.data, form.files, bound.html_initial_name)
    try:
        value = bound.field.to_python(posted)
    except ValidationError:
        return None
    return value or 0


class StockLevelForm(forms.ModelForm):
    class Meta:
        model = StockLevel
        fields = ("location", "on_hand")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "location" in self.fields:
            # A row is one location's stock; moving stock elsewhere is a new row, not an edit.
            self.fields["location"].disabled = True
        # The page carries the figure it showed: a row is changed only when a person typed over
        # it, and the service refuses if the figure moved meanwhile (a shipment, a return). A
        # view-only page (staff who may only view the catalog) has no field to carry it.
        if "on_hand" in self.fields:
            self.fields["on_hand"].show_hidden_initial = True

    def shown_on_hand(self) -> int | None:
        """The on-hand figure the page showed (0 for a new row); see `shown_figure`."""
        return shown_figure(self, "on_hand") if self.instance.pk else 0

    def clean_on_hand(self):
        on_hand = self.cleaned_data["on_hand"]
        if on_hand is not None and self.instance.pk and on_hand < self.instance.reserved:
            raise ValidationError(
                _("Cannot be below the %(reserved)d units reserved for orders.") % {"reserved": self.instance.reserved}
            )
        return on_hand


def staff_cause(request: HttpRequest) -> Cause:
    """A stock figure typed by a staff member, for the ledger."""
    return Cause(reason=Reason.SET, actor_id=request.user.pk)


def save_stock_formset(formset, *, request: HttpRequest | None = None) -> None:
    """Save an inline formset of stock levels through `services.set_stock_levels`."""
    variant = formset.instance
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    if not Variant.objects.filter(pk=variant.pk).exists():
        return  # the variant was deleted in the same save, and its stock with it
    changes = []
    for form in formset.forms:
        if not getattr(form, "cleaned_data", None):
            continue  # an untouched extra form
        if formset.can_delete and formset._should_delete_form(form):
            if form.instance.pk:
                changes.append(services.StockChange(
                    variant_id=variant.pk, location_id=form.instance.location_id, remove=True
                ))
                formset.deleted_objects.append(form.instance)
        elif form.has_changed():
            location = form.cleaned_data.get("location") or form.instance.location
            changes.append(services.StockChange(
                variant_id=variant.pk, location_id=location.pk, on_hand=form.cleaned_data["on_hand"],
                expected_on_hand=form.shown_on_hand(),
            ))
            form.instance.variant = variant
            if form.instance.pk:
                formset.changed_objects.append((form.instance, form.changed_data))
            else:
                formset.new_objects.append(form.instance)
    services.set_stock_levels(changes=changes, cause=staff_cause(request) if request else None)


class StockLevelInline(nested_admin.NestedTabularInline):
    model = StockLevel
    form = StockLevelForm
    fields = ("location", "on_hand", "reserved", "available")
    readonly_fields = ("reserved", "available")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "location":
            field.choices = _location_choices(request)
        return field

    @admin.display(description=gettext_lazy("available"))
    def available(self, obj: StockLevel) -> int | str:
        return obj.available if obj.pk else "—"


@admin.register(Variant)
class VariantAdmin(CatalogErrorsAsMessages, nested_admin.NestedModelAdmin):
    list_display = ("sku", "product", "price", "compare_at_price", "is_active", "available")
    list_filter = ("is_active",)
    list_select_related = ("product",)
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("^sku",)
    search_help_text = gettext_lazy("The start of a SKU.")
    autocomplete_fields = ("product", "option_values")
    inlines = [StockLevelInline]

    def get_queryset(self, request):
        available = (
            StockLevel.objects.filter(variant=OuterRef("pk"), location__is_active=True)
            .values("variant")
            .annotate(total=Sum(F("on_hand") - F("reserved")))
            .values("total")
        )
        return super().get_queryset(request).annotate(admin_available=Subquery(available))

    @admin.display(description=gettext_lazy("available"))
    def available(self, obj: Variant) -> int:
        return obj.admin_available or 0

    def save_formset(self, request, form, formset, change):
        if formset.model is StockLevel:
            save_stock_formset(formset, request=request)
            return
        super().save_formset(request, form, formset, change)


class StockLevelListForm(StockLevelForm):
    class Meta:
        model = StockLevel
        fields = ("on_hand",)


@admin.register(StockLevel)
class StockLevelAdmin(CatalogErrorsAsMessages, admin.ModelAdmin):
    form = StockLevelForm
    list_display = ("variant", "product", "location", "on_hand", "reserved", "available")
    list_editable = ("on_hand",)
    list_filter = ("location",)
    list_select_related = ("variant__product", "location")
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("=variant__sku",)
    search_help_text = gettext_lazy("An exact SKU.")
    autocomplete_fields = ("variant",)
    readonly_fields = ("reserved",)

    def get_fields(self, request, obj=None):
        return ("variant", "location", "on_hand", "reserved") if obj is None else ("location", "on_hand", "reserved")

    def get_readonly_fields(self, request, obj=None):
        return ("reserved",) if obj is None else ("location", "reserved")

    def get_changelist_form(self, request, **kwargs):
        return StockLevelListForm

    @admin.display(description=gettext_lazy("product"), ordering="variant__product__title")
    def product(self, obj: StockLevel) -> Product:
        return obj.variant.product

    @admin.display(description=gettext_lazy("available"))
    def available(self, obj: StockLevel) -> int:
        return obj.available

    def save_model(self, request, obj, form, change):
        services.set_stock_levels(changes=[
            services.StockChange(
                variant_id=obj.variant_id, location_id=obj.location_id, on_hand=obj.on_hand,
                expected_on_hand=form.shown_on_hand(),
            )
        ], cause=staff_cause(request))
        if obj.pk is None:
            # The admin goes on to log and redirect to the saved row: give it the one just created.
            obj.pk = StockLevel.objects.get(variant_id=obj.variant_id, location_id=obj.location_id).pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.set_stock_levels(changes=[
            services.StockChange(variant_id=obj.variant_id, location_id=obj.location_id, remove=True)
        ], cause=staff_cause(request))

    def delete_queryset(self, request, queryset):
        services.set_stock_levels(changes=[
            services.StockChange(variant_id=variant_id, location_id=location_id, remove=True)
            for variant_id, location_id in queryset.values_list("variant_id", "location_id")
        ], cause=staff_cause(request))

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except CatalogError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "pickup_allowed", "ships_online_orders", "is_active", "city", "position")
    list_editable = ("position",)
    list_filter = ("kind", "pickup_allowed", "ships_online_orders", "is_active")
    search_fields = ("name", "code", "city")
    prepopulated_fields = {"code": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "code", "kind", "pickup_allowed", "ships_online_orders", "is_active",
                           "position")}),
        (gettext_lazy("Address"), {"fields": ("address_line1", "address_line2", "postal_code", "city", "country")}),
    )
