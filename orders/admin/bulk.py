"""Actions on many orders at once, from the order list: packing slips, a CSV export, and shipping
from a CSV of tracking numbers.

Who may do what: printing slips and exporting need only to see orders (`orders.view_order`, the
Support group has it); shipping needs `orders.change_order`, like the order page's buttons. The
admin shows each action only to those allowed, and each view checks again.

The slips and the export cost the same number of queries for 3 orders as for 3,000 (the tests
say so). Shipping reads the file entirely and tries every parcel through the fulfilment service
before anything is kept (`orders.services.bulk_shipping`): one bad row, and nothing ships.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import F, Prefetch, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..models import Order, OrderLine
from ..services.bulk_shipping import ship_parcels
from ..shipping_csv import MAX_BYTES, RowError, decode, read_shipments
from . import export
from .documents import document_context


class ShipCsvForm(forms.Form):
    """The upload (first step), or the same file's text posted back from the preview (second)."""

    file = forms.FileField(label=gettext_lazy("CSV file"), required=False)
    csv_text = forms.CharField(widget=forms.HiddenInput, required=False, strip=False)
    # The orders selected in the list, when the page was opened from the action: comma-separated ids.
    orders = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_orders(self) -> set[int] | None:
        raw = self.cleaned_data["orders"].strip()
        if not raw:
            return None
        try:
            return {int(pk) for pk in raw.split(",")}
        except ValueError:
            raise forms.ValidationError(_("The selection of orders is not valid; select them again.")) from None

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_BYTES:
                raise forms.ValidationError(_("The file is larger than 1 MB; split it."))
            data["content"] = upload.read()
        elif data.get("csv_text"):
            data["content"] = data["csv_text"].encode()
        else:
            raise forms.ValidationError(_("Choose the CSV file to upload."))
        return data


class BulkActions:
    """Mixed into OrderAdmin (orders/admin/orders.py): the list's actions and their two pages."""

    actions = ["print_packing_slips", "export_csv", "ship_from_csv"]
    change_list_template = "admin/orders/order/change_list.html"

    def has_ship_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.change_order")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("ship-csv/", self.admin_site.admin_view(self.ship_csv_view), name="%s_%s_ship_csv" % info),
            path("export/", self.admin_site.admin_view(self.export_list_view), name="%s_%s_export" % info),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_ship": self.has_ship_permission(request)}
        return super().changelist_view(request, extra_context)

    # --- Packing slips ---

    @admin.action(description=gettext_lazy("Print packing slips"), permissions=["view"])
    def print_packing_slips(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        """One page, one slip per order, oldest order first (packed first): three queries."""
        orders = (
            queryset.select_related("pickup_location")
            .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
            .order_by("created_at", "pk")
        )
        slips = [document_context(order) for order in orders]
        return TemplateResponse(request, "orders/print/packing_slips.html", {"slips": slips})

    # --- Export ---

    @admin.action(description=gettext_lazy("Export as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return export.csv_response(queryset)

    def export_list_view(self, request: HttpRequest) -> HttpResponse:
        """The whole list as it is filtered and searched (the link above the list), every page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(_("These list filters are not valid."))
        return export.csv_response(changelist.get_queryset(request))

    # --- Shipping from a CSV of tracking numbers ---

    @admin.action(description=gettext_lazy("Mark shipped from a CSV of tracking numbers…"), permissions=["ship"])
    def ship_from_csv(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        selected = list(queryset.order_by("created_at", "pk"))
        form = ShipCsvForm(initial={"orders": ",".join(str(order.pk) for order in selected)})
        return self._ship_page(request, form, selected=selected)

    def ship_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_ship_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._ship_page(request, ShipCsvForm())
        form = ShipCsvForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._ship_page(request, form, selected=self._selected(form))
        within = form.cleaned_data["orders"]
        selected = self._selected(form)
        applying = "apply" in request.POST
        content = form.cleaned_data["content"]
        read = read_shipments(content, within=within)
        errors = list(read.errors)
        outcome = ship_parcels(parcels=read.parcels, user=request.user, dry_run=applying is False or bool(errors))
        errors = sorted(errors + outcome.errors, key=lambda error: error.row)
        if errors:
            return self._ship_page(request, ShipCsvForm(initial={"orders": request.POST.get("orders", "")}),
                                   selected=selected, errors=errors)
        if not outcome.applied:  # the preview: what would ship, and a button to do it
            preview = ShipCsvForm(initial={"orders": request.POST.get("orders", ""),
                                           "csv_text": decode(content)})
            return self._ship_page(request, preview, selected=selected, preview=outcome.shipped,
                                   orders=read.orders)
        shipped_orders = {shipped.parcel.order_id for shipped in outcome.shipped}
        self.message_user(request, ngettext(
            "%(orders)d order shipped in %(parcels)d parcel(s); the customer gets an email with the tracking "
            "details.",
            "%(orders)d orders shipped in %(parcels)d parcel(s); each customer gets an email with the tracking "
            "details.",
            len(shipped_orders)) % {"orders": len(shipped_orders), "parcels": len(outcome.shipped)}, messages.SUCCESS)
        left_out = [order.number for order in selected if order.pk not in shipped_orders]
        if left_out:
            self.message_user(request, _("Selected but not in the file, so not shipped: %(numbers)s.")
                              % {"numbers": ", ".join(left_out)}, messages.WARNING)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                                            current_app=self.admin_site.name))

    def _selected(self, form: ShipCsvForm) -> list[Order]:
        ids = form.cleaned_data.get("orders")
        return list(Order.objects.filter(pk__in=ids).order_by("created_at", "pk")) if ids else []

    def _ship_page(self, request: HttpRequest, form: ShipCsvForm, *, selected: list[Order] | None = None,
                   errors: list[RowError] | None = None, preview=None, orders=None) -> TemplateResponse:
        selected = selected or []
        if selected:
            left = dict(
                OrderLine.objects.filter(order__in=selected).order_by().values("order")
                .annotate(left=Sum(F("quantity") - F("quantity_fulfilled"))).values_list("order", "left")
            )
            for order in selected:
                order.units_left = left.get(order.pk, 0)
                order.status_label = export.status_label(order)
        in_file = {shipped.parcel.order_id for shipped in preview or []}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Mark orders shipped from a CSV of tracking numbers"),
            "form": form,
            "selected": selected,
            "errors": errors or [],
            "preview": [
                {"shipped": shipped, "order": (orders or {}).get(shipped.parcel.number)} for shipped in preview or []
            ],
            "not_in_file": [order for order in selected if order.pk not in in_file] if preview else [],
            "changelist_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                                      current_app=self.admin_site.name),
        }
        return TemplateResponse(request, "admin/orders/order/ship_csv.html", context)
