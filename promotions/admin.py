"""The promotions back office: promotions with their shared codes, batches of single-use codes
(generated here, exported as CSV), the redemptions ledger (read-only), and the dry run."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from shop.admin import ReadOnlyAdmin
from shop.money import format_money

from . import labels, services
from .dryrun import dry_run
from .forms import DryRunForm, GenerateCodesForm, PromotionForm
from .models import Code, CodeBatch, Promotion, Redemption


class SharedCodeInline(admin.TabularInline):
    """Codes typed by anyone (a batch's single-use codes are on the batch, not here: 10,000 rows)."""

    model = Code
    fields = ("code", "max_uses", "uses")
    readonly_fields = ("uses",)
    extra = 1
    verbose_name = _("shared code")
    verbose_name_plural = _("shared codes")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(batch__isnull=True)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    form = PromotionForm
    list_display = ("name", "trigger", "reward", "value", "starts_at", "ends_at", "priority", "usage", "is_active")
    list_filter = ("is_active", "trigger", "reward")
    search_fields = ("name", "codes__code")
    list_per_page = 50
    inlines = [SharedCodeInline]
    autocomplete_fields = ("products", "variants", "categories", "brands", "attribute_values", "gift_variant")
    readonly_fields = ("uses", "spent", "tools")
    fieldsets = (
        (None, {"fields": ("name", "trigger", "is_active", "tools")}),
        (_("Schedule"), {"fields": ("starts_at", "ends_at", "time_zone", "priority")}),
        (_("Combines with"), {"fields": ("combines_with_product", "combines_with_order", "combines_with_shipping")}),
        (_("Reward"), {"fields": ("reward", "value", "buy_quantity", "get_quantity", "max_applications",
                                  "gift_variant")}),
        (_("Which items"), {"fields": ("products", "variants", "categories", "brands", "attribute_values",
                                       "exclude_sale_items")}),
        (_("Conditions"), {"fields": ("min_subtotal", "min_quantity", "segment", "first_order_only",
                                      "signed_in_only", "countries")}),
        (_("Limits"), {"fields": ("usage_limit", "uses", "per_customer_limit", "budget", "spent")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(redeemed=Count("redemptions"))

    @admin.display(description=_("used"))
    def usage(self, promotion: Promotion) -> str:
        used = promotion.uses if promotion.usage_limit is not None else getattr(promotion, "redeemed", 0)
        return f"{used} / {promotion.usage_limit}" if promotion.usage_limit is not None else str(used)

    @admin.display(description=_("tools"))
    def tools(self, promotion: Promotion) -> str:
        if not promotion.pk:
            return "—"
        return format_html('<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
                           self._url("dry_run", promotion), _("Dry run…"),
                           self._url("generate", promotion), _("Generate codes…"))

    def save_related(self, request, form, formsets, change):
        promotion = form.instance
        if change:  # the pages its old item list labels
            labels.bump_products_of([Promotion.objects.get(pk=promotion.pk)])
        super().save_related(request, form, formsets, change)
        labels.bump_products_of([promotion])
        # Limits may have been set or changed: the counters follow the redemptions so far.
        services.recount(promotion=promotion)

    def delete_model(self, request, obj):
        labels.bump_products_of([obj])
        super().delete_model(request, obj)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/dry-run/", self.admin_site.admin_view(self.dry_run_view), name="%s_%s_dry_run" % info),
            path("<path:object_id>/generate/", self.admin_site.admin_view(self.generate_view),
                 name="%s_%s_generate" % info),
        ] + super().get_urls()

    def _url(self, name: str, promotion: Promotion) -> str:
        return reverse(f"admin:promotions_promotion_{name}", args=[promotion.pk], current_app=self.admin_site.name)

    def _page(self, request, promotion, template, **extra) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": promotion,
                   "promotion": promotion,
                   "change_url": reverse("admin:promotions_promotion_change", args=[promotion.pk]), **extra}
        return TemplateResponse(request, template, context)

    def dry_run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        promotion = get_object_or_404(Promotion, pk=object_id)
        if not self.has_view_permission(request, promotion):
            return HttpResponse(status=403)
        form = DryRunForm(request.GET or None)
        result = dry_run(promotion=promotion, days=form.cleaned_data["days"]) if form.is_valid() else None
        return self._page(request, promotion, "admin/promotions/dry_run.html", form=form, result=result,
                          title=_("Dry run of %(name)s") % {"name": promotion.name},
                          cost=format_money(result.cost) if result else "",
                          revenue=format_money(result.revenue) if result else "")

    def generate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        promotion = get_object_or_404(Promotion, pk=object_id)
        if not self.has_change_permission(request, promotion):
            return HttpResponse(status=403)
        form = GenerateCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            batch = services.generate_codes(promotion=promotion, count=form.cleaned_data["count"],
                                            prefix=form.cleaned_data["prefix"], length=form.cleaned_data["length"],
                                            user=request.user)
            self.message_user(request, _("%(count)d codes generated.") % {"count": batch.size}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:promotions_codebatch_change", args=[batch.pk]))
        return self._page(request, promotion, "admin/promotions/generate.html", form=form,
                          title=_("Generate codes for %(name)s") % {"name": promotion.name})


@admin.register(CodeBatch)
class CodeBatchAdmin(admin.ModelAdmin):
    list_display = ("promotion", "size", "prefix", "created_at", "created_by", "export_link")
    list_select_related = ("promotion", "created_by")
    readonly_fields = ("promotion", "prefix", "size", "created_by", "created_at", "used", "export_link")
    list_per_page = 50

    def has_add_permission(self, request):
        return False  # batches are generated from their promotion's page

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("used"))
    def used(self, batch: CodeBatch) -> int:
        return batch.codes.filter(uses__gt=0).count()

    @admin.display(description=_("CSV"))
    def export_link(self, batch: CodeBatch) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:promotions_codebatch_export", args=[batch.pk]),
                           _("Download CSV"))

    def get_urls(self):
        return [path("<path:object_id>/export/", self.admin_site.admin_view(self.export_view),
                     name="promotions_codebatch_export")] + super().get_urls()

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        batch = get_object_or_404(CodeBatch.objects.select_related("promotion"), pk=object_id)
        if not self.has_view_permission(request, batch):
            return HttpResponse(status=403)
        response = StreamingHttpResponse(services.csv_lines(services.export_batch_rows(batch=batch)),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="codes-{batch.pk}.csv"'
        return response


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ("promotion", "order", "code", "email", "amount", "created_at", "released_at")
    list_filter = ("promotion",)
    list_select_related = ("promotion", "order", "code")
    search_fields = ("=email", "=order__number", "=code__code")
    list_per_page = 100
