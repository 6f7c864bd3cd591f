"""The back office for the catalog.

Anything more than saving one form goes through `catalog.services`: bulk actions, price changes,
stock quantities and file imports. `reserved` stock is read-only everywhere (orders own it).
The product list stays fast on a large catalog: related rows are joined, price, stock and the
thumbnail come from subqueries, filters use EXISTS, and nothing is queried per row.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import PurePosixPath

import nested_admin
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.money import format_money

from . import images, services
from .exceptions import CatalogError
from .models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    Location,
    Option,
    OptionValue,
    Product,
    ProductImage,
    StockLevel,
    Variant,
)
from .resources import FileFormat, ImportKind, category_paths, export_catalog_file

# --- Shared pieces ------------------------------------------------------------------------------


class CatalogErrorsAsMessages:
    """A service refusing a save (stock reserved meanwhile) shows a message, not an error page.

    The exception leaves the admin's transaction, so everything the save did is rolled back.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CatalogError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _thumbnail(name: str | None, renditions: dict | None, *, alt: str, size: int) -> str:
    if not name:
        return "—"
    if renditions:
        # The smallest WebP rendition is plenty for a thumbnail; the original may be megabytes.
        name = min(renditions.items(), key=lambda item: int(item[0]))[1]
    return format_html(
        '<img src="{}" alt="{}" width="{}" height="{}" loading="lazy" style="object-fit: cover;">',
        default_storage.url(name), alt, size, size,
    )


def _location_choices(request: HttpRequest) -> list[tuple]:
    # Every stock row renders a location select; build its choices once per request, not per row.
    if not hasattr(request, "_catalog_location_choices"):
        request._catalog_location_choices = [("", "---------")] + [
            (location.pk, str(location)) for location in Location.objects.all()
        ]
    return request._catalog_location_choices


def _stock_of_outer_product() -> QuerySet[StockLevel]:
    return StockLevel.objects.filter(
        variant__product=OuterRef("pk"), variant__is_active=True, location__is_active=True
    )


# --- Stock --------------------------------------------------------------------------------------


class StockLevelForm(forms.ModelForm):
    class Meta:
        model = StockLevel
        fields = ("location", "on_hand")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "location" in self.fields:
            # A row is one location's stock; moving stock elsewhere is a new row, not an edit.
            self.fields["location"].disabled = True

    def clean_on_hand(self):
        on_hand = self.cleaned_data["on_hand"]
        if on_hand is not None and self.instance.pk and on_hand < self.instance.reserved:
            raise ValidationError(
                _("Cannot be below the %(reserved)d units reserved for orders.") % {"reserved": self.instance.reserved}
            )
        return on_hand


def save_stock_formset(formset) -> None:
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
                variant_id=variant.pk, location_id=location.pk, on_hand=form.cleaned_data["on_hand"]
            ))
            form.instance.variant = variant
            if form.instance.pk:
                formset.changed_objects.append((form.instance, form.changed_data))
            else:
                formset.new_objects.append(form.instance)
    services.set_stock_levels(changes=changes)


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


# --- Products -----------------------------------------------------------------------------------


class VariantInline(nested_admin.NestedStackedInline):
    model = Variant
    fields = (("sku", "barcode"), ("price", "compare_at_price"), ("weight", "position", "is_active"), "option_values")
    autocomplete_fields = ("option_values",)
    inlines = [StockLevelInline]
    extra = 0
    show_change_link = True


class ProductImageInline(nested_admin.NestedTabularInline):
    model = ProductImage
    fields = ("preview", "image", "alt_text", "variant", "position")
    readonly_fields = ("preview",)
    extra = 0

    @admin.display(description=gettext_lazy("preview"))
    def preview(self, obj: ProductImage) -> str:
        if not obj.pk or not obj.image:
            return "—"
        return _thumbnail(obj.image.name, obj.renditions, alt=obj.alt_text, size=96)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "variant":
            # Only this product's variants, listed once per request (not all variants, not per row).
            product_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = Variant.objects.filter(product_id=product_id) if product_id else Variant.objects.none()
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            if not hasattr(request, "_catalog_variant_choices"):
                request._catalog_variant_choices = list(field.choices)
            field.choices = request._catalog_variant_choices
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CategoryFilter(admin.SimpleListFilter):
    """A category and everything below it, listed as an indented tree (one query)."""

    title = gettext_lazy("category")
    parameter_name = "category"

    def lookups(self, request, model_admin):
        rows = list(Category.objects.values("id", "parent_id", "name").order_by("position", "name"))
        self.children: dict[int | None, list[dict]] = defaultdict(list)
        for row in rows:
            self.children[row["parent_id"]].append(row)
        choices, stack = [], [(row, 0) for row in reversed(self.children[None])]
        while stack:
            row, depth = stack.pop()
            choices.append((str(row["id"]), "— " * depth + row["name"]))
            stack.extend((child, depth + 1) for child in reversed(self.children[row["id"]]))
        return choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            root = int(self.value())
        except ValueError:
            return queryset.none()
        ids, stack = [], [root]
        while stack:
            current = stack.pop()
            ids.append(current)
            stack.extend(child["id"] for child in self.children.get(current, []))
        return queryset.filter(category_id__in=ids)


class StockFilter(admin.SimpleListFilter):
    """Low: some active variant has 1..STORE_LOW_STOCK_THRESHOLD units available, summed over the
    active locations. Out: no active variant has a unit available anywhere (shoppers cannot buy it).
    """

    title = gettext_lazy("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", _("Low stock")), ("out", _("Out of stock"))]

    def queryset(self, request, queryset):
        if self.value() == "low":
            # Summing needs GROUP BY, and PostgreSQL runs a grouped EXISTS once per product (5 s
            # on 100,000 products); a grouped IN subquery is computed once and hash-joined.
            low_variants = (
                StockLevel.objects.filter(location__is_active=True)
                .values("variant")
                .annotate(available=Sum(F("on_hand") - F("reserved")))
                .filter(available__gt=0, available__lte=settings.STORE_LOW_STOCK_THRESHOLD)
                .values("variant")
            )
            low = Variant.objects.filter(is_active=True, pk__in=low_variants).values("product")
            return queryset.filter(pk__in=low)
        if self.value() == "out":
            # One row with a unit to spare makes the sum positive, so no sum is needed: a plain
            # NOT EXISTS, which the database runs as one anti-join.
            return queryset.exclude(Exists(_stock_of_outer_product().filter(on_hand__gt=F("reserved"))))
        return queryset


class MoveToCategoryForm(forms.Form):
    category = forms.TypedChoiceField(label=gettext_lazy("Category"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        paths = category_paths()
        self.fields["category"].choices = [("", "---------")] + sorted(
            ((pk, path) for pk, path in paths.items()), key=lambda choice: choice[1]
        )

    def clean_category(self) -> Category:
        return Category.objects.get(pk=self.cleaned_data["category"])


class ChangePricesForm(forms.Form):
    percentage = forms.DecimalField(
        label=gettext_lazy("Change by (%)"),
        max_digits=7,
        decimal_places=2,
        help_text=gettext_lazy("For example -10 lowers every price by 10%; 5.5 raises it by 5.5%."),
    )

    def clean_percentage(self) -> Decimal:
        percentage = self.cleaned_data["percentage"]
        if percentage == 0:
            raise ValidationError(_("Enter a change other than zero."))
        return percentage


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("A .csv (UTF-8) or .xlsx file whose first line names the columns."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        extension = PurePosixPath(upload.name).suffix.lower().lstrip(".")
        if extension not in FileFormat.values:
            raise ValidationError(_("Upload a .csv or .xlsx file."))
        self.cleaned_data["file_format"] = extension
        return upload


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What to export"), choices=ImportKind.choices)
    file_format = forms.ChoiceField(label=gettext_lazy("Format"), choices=FileFormat.choices)


KIND_MODELS = {ImportKind.PRODUCTS: Product, ImportKind.VARIANTS: Variant, ImportKind.STOCK: StockLevel}


@admin.register(Product)
class ProductAdmin(CatalogErrorsAsMessages, nested_admin.NestedModelAdmin):
    list_display = (
        "thumbnail", "title", "category", "brand", "status", "is_featured", "price_from", "available", "updated_at",
    )
    list_display_links = ("thumbnail", "title")
    list_filter = (CategoryFilter, "brand", "status", "is_featured", StockFilter)
    list_select_related = ("category", "brand")
    list_per_page = 50
    # Counting 100,000 unfiltered rows on every page view buys nothing.
    show_full_result_count = False
    search_fields = ("title",)
    search_help_text = gettext_lazy("An exact SKU, or words from the title.")
    autocomplete_fields = ("category", "brand", "attribute_values")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("units_sold", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("title", "slug", "category", "brand", ("status", "is_featured"))}),
        (gettext_lazy("Description"), {"fields": ("description", "attribute_values")}),
        (gettext_lazy("Search engines"), {"fields": ("seo_title", "seo_description"), "classes": ("collapse",)}),
        (gettext_lazy("History"), {"fields": ("units_sold", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    inlines = [VariantInline, ProductImageInline]
    actions = ("publish", "unpublish", "move_to_category", "change_prices")

    def get_queryset(self, request):
        first_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "pk")
        cheapest = Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price")
        total_available = (
            _stock_of_outer_product()
            .values("variant__product")
            .annotate(total=Sum(F("on_hand") - F("reserved")))
            .values("total")
        )
        return super().get_queryset(request).annotate(
            admin_image=Subquery(first_image.values("image")[:1]),
            admin_renditions=Subquery(first_image.values("renditions")[:1]),
            admin_price=Subquery(cheapest.values("price")[:1]),
            admin_available=Subquery(total_available),
        )

    def get_search_results(self, request, queryset, search_term):
        """An exact SKU finds its product; otherwise every word must be in the title.

        The SKU is looked up first (one indexed query) rather than OR-ed into the filter: an OR
        leaves PostgreSQL guessing that half the catalog matches, and it then walks the whole
        date index to fill a page. No join, so no DISTINCT either.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        by_sku = list(Variant.objects.filter(sku=term).values_list("product_id", flat=True)[:100])
        if by_sku:
            return queryset.filter(pk__in=by_sku), False
        in_title = Q()
        for word in term.split():
            in_title &= Q(title__icontains=word)
        return queryset.filter(in_title), False

    @admin.display(description=gettext_lazy("image"))
    def thumbnail(self, obj: Product) -> str:
        return _thumbnail(getattr(obj, "admin_image", None), getattr(obj, "admin_renditions", None),
                          alt=obj.title, size=48)

    @admin.display(description=gettext_lazy("price from"))
    def price_from(self, obj: Product) -> str:
        return format_money(obj.admin_price) or "—"

    @admin.display(description=gettext_lazy("available"))
    def available(self, obj: Product) -> int:
        return obj.admin_available or 0

    def save_formset(self, request, form, formset, change):
        if formset.model is StockLevel:
            save_stock_formset(formset)
            return
        super().save_formset(request, form, formset, change)
        if formset.model is ProductImage:
            replaced = [obj for obj, changed in formset.changed_objects if "image" in changed]
            for image in [*formset.new_objects, *replaced]:
                images.request_renditions(image_id=image.pk)

    # --- Actions ---

    @admin.action(description=gettext_lazy("Publish selected products"), permissions=["change"])
    def publish(self, request, queryset):
        drafts = queryset.filter(status=Product.Status.DRAFT).count()
        count = services.publish_products(products=queryset)
        self.message_user(
            request,
            ngettext("Published %(count)d product.", "Published %(count)d products.", count) % {"count": count},
            messages.SUCCESS,
        )
        if drafts > count:
            skipped = drafts - count
            self.message_user(
                request,
                ngettext(
                    "%(count)d product has no active variant and stays a draft.",
                    "%(count)d products have no active variant and stay drafts.",
                    skipped,
                ) % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=gettext_lazy("Unpublish selected products (back to draft)"), permissions=["change"])
    def unpublish(self, request, queryset):
        count = services.unpublish_products(products=queryset)
        self.message_user(
            request,
            ngettext("Unpublished %(count)d product.", "Unpublished %(count)d products.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Move selected products to a category…"), permissions=["change"])
    def move_to_category(self, request, queryset):
        form = MoveToCategoryForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            category = form.cleaned_data["category"]
            count = services.move_products_to_category(products=queryset, category=category)
            self.message_user(
                request,
                ngettext(
                    "Moved %(count)d product to %(category)s.", "Moved %(count)d products to %(category)s.", count
                ) % {"count": count, "category": category},
                messages.SUCCESS,
            )
            return None
        return self._action_page(
            request, queryset, form, action="move_to_category",
            title=_("Move products to a category"), submit=_("Move"),
        )

    @admin.action(description=gettext_lazy("Change prices of selected products by a percentage…"),
                  permissions=["change"])
    def change_prices(self, request, queryset):
        form = ChangePricesForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            percentage = form.cleaned_data["percentage"]
            try:
                count = services.change_prices_by_percentage(products=queryset, percentage=percentage)
            except CatalogError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Changed the price of %(count)d variant by %(percentage)s%%.",
                        "Changed the prices of %(count)d variants by %(percentage)s%%.",
                        count,
                    ) % {"count": count, "percentage": percentage},
                    messages.SUCCESS,
                )
                return None
        return self._action_page(
            request, queryset, form, action="change_prices",
            title=_("Change prices by a percentage"), submit=_("Change prices"),
        )

    def _action_page(self, request, queryset, form, *, action: str, title: str, submit: str) -> TemplateResponse:
        """The intermediate page of an action: it posts back to the changelist with the selection."""
        sample = list(queryset.order_by("title").values_list("title", flat=True)[:10])
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "submit_label": submit,
            "form": form,
            "action": action,
            "count": count,
            "sample": sample,
            "more": max(count - len(sample), 0),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/catalog/product/action_form.html", context)

    # --- Import and export ---

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="%s_%s_import" % info),
            path("export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": any(self._can_import(request, kind) for kind in ImportKind.values),
            "can_export": any(self._can_export(request, kind) for kind in ImportKind.values),
        }
        return super().changelist_view(request, extra_context)

    def _can_import(self, request: HttpRequest, kind: str) -> bool:
        opts = KIND_MODELS[kind]._meta
        return request.user.has_perms(
            [f"{opts.app_label}.add_{opts.model_name}", f"{opts.app_label}.change_{opts.model_name}"]
        )

    def _can_export(self, request: HttpRequest, kind: str) -> bool:
        opts = KIND_MODELS[kind]._meta
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or request.user.has_perm(
            f"{opts.app_label}.change_{opts.model_name}"
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not any(self._can_import(request, kind) for kind in ImportKind.values):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            kind = form.cleaned_data["kind"]
            if not self._can_import(request, kind):
                raise PermissionDenied
            report = services.import_catalog_file(
                kind=kind, file=form.cleaned_data["file"], file_format=form.cleaned_data["file_format"]
            )
            if report.ok:
                self.message_user(
                    request,
                    _("Imported %(kind)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                    % {"kind": ImportKind(kind).label.lower(), "created": report.created,
                       "updated": report.updated, "unchanged": report.unchanged},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:catalog_product_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import products, variants or stock"),
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/catalog/product/import.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not any(self._can_export(request, kind) for kind in ImportKind.values):
            raise PermissionDenied
        form = ExportForm(request.GET if "kind" in request.GET else None)
        if form.is_valid():
            kind = form.cleaned_data["kind"]
            if not self._can_export(request, kind):
                raise PermissionDenied
            exported = export_catalog_file(kind=kind, file_format=form.cleaned_data["file_format"])
            response = HttpResponse(exported.content, content_type=exported.content_type)
            response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Export products, variants or stock"),
            "form": form,
        }
        return TemplateResponse(request, "admin/catalog/product/export.html", context)


# --- Variants and stock -------------------------------------------------------------------------


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
            save_stock_formset(formset)
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
            services.StockChange(variant_id=obj.variant_id, location_id=obj.location_id, on_hand=obj.on_hand)
        ])
        if obj.pk is None:
            # The admin goes on to log and redirect to the saved row: give it the one just created.
            obj.pk = StockLevel.objects.get(variant_id=obj.variant_id, location_id=obj.location_id).pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.set_stock_levels(changes=[
            services.StockChange(variant_id=obj.variant_id, location_id=obj.location_id, remove=True)
        ])

    def delete_queryset(self, request, queryset):
        services.set_stock_levels(changes=[
            services.StockChange(variant_id=variant_id, location_id=location_id, remove=True)
            for variant_id, location_id in queryset.values_list("variant_id", "location_id")
        ])

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except CatalogError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# --- Taxonomy and locations ---------------------------------------------------------------------


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = "__all__"

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if parent is not None and self.instance.pk:
            # Walk up from the new parent: meeting this category means the tree would loop.
            parents = dict(Category.objects.values_list("id", "parent_id"))
            current = parent.pk
            while current is not None:
                if current == self.instance.pk:
                    raise ValidationError(_("A category cannot be placed inside itself or one of its subcategories."))
                current = parents.get(current)
        return parent


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("name", "parent", "slug", "position", "is_active")
    list_editable = ("position", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("parent",)
    ordering = ("position", "name")
    search_fields = ("name", "slug")
    autocomplete_fields = ("parent",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class OptionValueInline(admin.TabularInline):
    model = OptionValue
    fields = ("value", "slug", "swatch", "position")
    prepopulated_fields = {"slug": ("value",)}
    extra = 1


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OptionValueInline]


class AttributeValueInline(admin.TabularInline):
    model = AttributeValue
    fields = ("value", "slug", "position")
    prepopulated_fields = {"slug": ("value",)}
    extra = 1


@admin.register(Attribute)
class AttributeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [AttributeValueInline]


class HiddenFromIndex(admin.ModelAdmin):
    """Registered for autocomplete only: values are edited inline under their option/attribute."""

    def get_model_perms(self, request):
        return {}


@admin.register(OptionValue)
class OptionValueAdmin(HiddenFromIndex):
    search_fields = ("value", "option__name")
    list_select_related = ("option",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("option")


@admin.register(AttributeValue)
class AttributeValueAdmin(HiddenFromIndex):
    search_fields = ("value", "attribute__name")
    list_select_related = ("attribute",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attribute")


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "pickup_allowed", "is_active", "city", "position")
    list_editable = ("position",)
    list_filter = ("kind", "pickup_allowed", "is_active")
    search_fields = ("name", "code", "city")
    prepopulated_fields = {"code": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "code", "kind", "pickup_allowed", "is_active", "position")}),
        (gettext_lazy("Address"), {"fields": ("address_line1", "address_line2", "postal_code", "city", "country")}),
    )
