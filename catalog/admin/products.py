"""The product admin: list, change page with nested inlines, bulk actions, import and export."""
from __future__ import annotations

import nested_admin
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.money import format_money

from .. import images, services
from ..exceptions import CatalogError
from ..importing import ImportKind, export_catalog_file
from ..models import OptionValue, Product, ProductImage, StockLevel, Variant
from .base import CatalogErrorsAsMessages
from .filters import CategoryFilter, StockFilter, _stock_of_outer_product
from .forms import ChangePricesForm, ExportForm, ImportForm, MoveToCategoryForm
from .stock_grid import stock_grid_view


def _thumbnail(name: str | None, renditions: dict | None, *, alt: str, size: int) -> str:
    if not name:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" width="{}" height="{}" loading="lazy" style="object-fit: cover;">',
        images.thumbnail_url(name, renditions), alt, size, size,
    )


class OptionValuesAutocomplete(AutocompleteSelectMultiple):
    """The option values autocomplete, drawing the chosen values from one lookup per page.

    Django's widget queries the chosen values for every variant row, and each value's label then
    reads its option: 3 queries a variant. `labels` is shared by every row of the page.
    """

    def __init__(self, *args, labels: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.labels = labels

    def optgroups(self, name, value, attr=None):
        chosen = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        missing = [v for v in chosen if v not in self.labels]
        if missing:  # a value picked on a page sent back with errors
            self.labels.update(
                (str(option_value.pk), str(option_value))
                for option_value in OptionValue.objects.filter(pk__in=missing).select_related("option")
            )
        options = [
            self.create_option(name, v, self.labels[v], True, index)
            for index, v in enumerate(v for v in chosen if v in self.labels)
        ]
        return [(None, options, 0)]


class VariantInline(nested_admin.NestedTabularInline):
    """One row per variant. Stock is not nested here (a table per variant made an 18-variant page
    534 KB): the row shows what is available and links to the product's stock grid."""

    model = Variant
    fields = ("sku", "barcode", "price", "compare_at_price", "weight", "position", "is_active", "option_values",
              "stock")
    readonly_fields = ("stock",)
    autocomplete_fields = ("option_values",)
    extra = 0
    show_change_link = True

    class Media:
        css = {"all": ("css/admin-catalog.css",)}

    def get_queryset(self, request):
        active = StockLevel.objects.filter(variant=OuterRef("pk"), location__is_active=True).values("variant")
        return (
            super().get_queryset(request)
            .prefetch_related("option_values")
            .annotate(
                admin_on_hand=Subquery(active.annotate(total=Sum("on_hand")).values("total")),
                admin_reserved=Subquery(active.annotate(total=Sum("reserved")).values("total")),
            )
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "option_values":
            if not hasattr(request, "_catalog_option_labels"):
                product_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
                used = OptionValue.objects.filter(variants__product_id=product_id or 0)
                request._catalog_option_labels = {
                    str(option_value.pk): str(option_value) for option_value in used.select_related("option").distinct()
                }
            kwargs["widget"] = OptionValuesAutocomplete(
                db_field, self.admin_site, using=kwargs.get("using"), labels=request._catalog_option_labels
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "option_values" and field is not None:
            # Values are made under their option (Options page); a "+" per row only made rows taller.
            field.widget.can_add_related = False
        return field

    @admin.display(description=gettext_lazy("stock"))
    def stock(self, obj: Variant) -> str:
        if not obj.pk:
            return "—"
        on_hand, reserved = getattr(obj, "admin_on_hand", 0) or 0, getattr(obj, "admin_reserved", 0) or 0
        return format_html(
            '<a href="{}#variant-{}">{}</a>{}',
            reverse("admin:catalog_product_stock", args=[obj.product_id]), obj.pk,
            _("%(available)d available") % {"available": on_hand - reserved},
            format_html('<span class="reserved">{}</span>', _("%(reserved)d reserved") % {"reserved": reserved})
            if reserved else "",
        )


class ProductImageInline(nested_admin.NestedTabularInline):
    model = ProductImage
    fields = ("preview", "image", "alt_text", "option_value", "position")
    readonly_fields = ("preview",)
    extra = 0

    @admin.display(description=gettext_lazy("preview"))
    def preview(self, obj: ProductImage) -> str:
        if not obj.pk or not obj.image:
            return "—"
        return _thumbnail(obj.image.name, obj.renditions, alt=obj.alt_text, size=96)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "option_value":
            # The colours (values of options pictures follow) this product's variants come in,
            # listed once per request (not every value in the store, not once per row).
            product_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = (
                OptionValue.objects.filter(option__changes_look=True, variants__product_id=product_id)
                .select_related("option").distinct()
                if product_id else OptionValue.objects.none()
            )
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            if not hasattr(request, "_catalog_look_choices"):
                request._catalog_look_choices = list(field.choices)
            field.choices = request._catalog_look_choices
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


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
            path("<path:object_id>/stock/", self.admin_site.admin_view(self.stock_view), name="%s_%s_stock" % info),
            *super().get_urls(),
        ]

    def stock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return stock_grid_view(self, request, object_id)

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
