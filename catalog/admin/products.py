"""The product admin: list, change page with nested inlines, bulk actions, import and export."""
from __future__ import annotations

import nested_admin
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
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
from .stock import StockLevelInline, save_stock_formset


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


class VariantInline(nested_admin.NestedStackedInline):
    model = Variant
    fields = (("sku", "barcode"), ("price", "compare_at_price"), ("weight", "position", "is_active"), "option_values")
    autocomplete_fields = ("option_values",)
    inlines = [StockLevelInline]
    extra = 0
    show_change_link = True


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
