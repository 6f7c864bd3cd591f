"""The stock back office: movements (read only), adjustments and stock counts."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from catalog.exceptions import CatalogError
from catalog.models import Location, StockLevel
from orders.models import Allocation as OrderAllocation
from shop.admin import ReadOnlyAdmin

from . import services
from .counts import read_stock_count
from .exceptions import InventoryError
from .forms import (
    AdjustmentForm,
    AdjustmentLineFormSet,
    MoveAllocationForm,
    ReceiveForm,
    RoutingPolicyForm,
    StockCountForm,
    TransferForm,
)
from .models import Adjustment, AdjustmentLine, RoutingPolicy, StockMovement, Transfer, TransferEvent, TransferLine

COUNT_SALT = "inventory.stock-count"


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "variant", "location", "quantity", "reason", "actor", "order", "adjustment",
                    "transfer")
    list_filter = ("reason", "location")
    list_select_related = ("variant", "location", "actor", "order", "adjustment__location", "transfer")
    search_fields = ("=variant__sku",)
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False


class AdjustmentLineInline(admin.TabularInline):
    model = AdjustmentLine
    fields = ("variant", "on_hand_before", "quantity", "on_hand_after")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    """Adjustments are added through their two forms below and never edited or deleted."""

    list_display = ("__str__", "reason", "location", "created_by", "created_at", "units")
    list_filter = ("reason", "location")
    list_select_related = ("location", "created_by")
    fields = ("location", "reason", "note", "created_by", "created_at")
    readonly_fields = fields
    inlines = [AdjustmentLineInline]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(admin_units=Sum("lines__quantity"))

    @admin.display(description=_("units"))
    def units(self, obj: Adjustment) -> int:
        return obj.admin_units or 0

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path("count/", self.admin_site.admin_view(self.count_view), name="inventory_adjustment_count"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title}

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """Damage, theft or found: a location, a reason, and units per SKU."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None)
        lines = AdjustmentLineFormSet(request.POST or None, prefix="lines")
        if request.method == "POST" and form.is_valid() and lines.is_valid():
            requests = [services.AdjustmentRequest(variant_id=line["variant_id"], quantity=line["quantity"])
                        for line in lines.cleaned_data if line.get("variant_id")]
            try:
                adjustment = services.adjust_stock(
                    location_id=form.cleaned_data["location"].pk, reason=form.cleaned_data["reason"],
                    lines=requests, note=form.cleaned_data["note"], user=request.user,
                )
            except (InventoryError, CatalogError, Location.DoesNotExist) as error:
                form.add_error(None, str(error))
            else:
                self.log_addition(request, adjustment, [{"added": {}}])
                self.message_user(request, _("Stock adjusted: %(adjustment)s.") % {"adjustment": adjustment},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:inventory_adjustment_change", args=[adjustment.pk]))
        context = {**self._context(request, _("Adjust stock")), "form": form, "lines": lines}
        return TemplateResponse(request, "admin/inventory/adjustment/adjust.html", context)

    def count_view(self, request: HttpRequest):
        """A stock count file: upload, preview the differences, confirm (signed, refused if stock moved)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = self._context(request, _("Import a stock count"))
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm_count(request)
        form = StockCountForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            location = form.cleaned_data["location"]
            preview = read_stock_count(location=location, content=form.cleaned_data["file"].read())
            context["preview"] = preview
            if not preview.errors:
                context["payload"] = signing.dumps({
                    "location": location.pk, "note": form.cleaned_data["note"],
                    "counted": {str(k): v for k, v in preview.counted.items()},
                    "expected": {str(k): v for k, v in preview.expected.items()},
                }, salt=COUNT_SALT, compress=True)
        context["form"] = form
        return TemplateResponse(request, "admin/inventory/adjustment/count.html", context)

    def _confirm_count(self, request: HttpRequest):
        try:
            data = signing.loads(request.POST.get("payload", ""), salt=COUNT_SALT, max_age=6 * 3600)
        except signing.BadSignature:
            self.message_user(request, _("This count preview is too old or was altered; import the file again."),
                              messages.ERROR)
            return HttpResponseRedirect(reverse("admin:inventory_adjustment_count"))
        try:
            adjustment = services.apply_stock_count(
                location_id=data["location"], counted={int(k): v for k, v in data["counted"].items()},
                expected={int(k): v for k, v in data["expected"].items()}, note=data["note"], user=request.user,
            )
        except (InventoryError, CatalogError, Location.DoesNotExist) as error:
            self.message_user(request, _("%(error)s Import the file again to see today's figures.") % {"error": error},
                              messages.ERROR)
            return HttpResponseRedirect(reverse("admin:inventory_adjustment_count"))
        self.log_addition(request, adjustment, [{"added": {}}])
        self.message_user(request, _("Stock count applied: %(count)d difference(s).") % {
            "count": adjustment.lines.count()}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:inventory_adjustment_change", args=[adjustment.pk]))


class TransferLineInline(admin.TabularInline):
    model = TransferLine
    fields = ("variant", "quantity", "quantity_received", "quantity_missing")
    readonly_fields = ("quantity_received", "quantity_missing")
    autocomplete_fields = ("variant",)
    extra = 3


class TransferEventInline(admin.TabularInline):
    model = TransferEvent
    fields = ("created_at", "kind", "message", "user")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("History")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Drafts are edited here; shipping, receiving and cancelling are buttons that call the services."""

    form = TransferForm
    list_display = ("__str__", "source", "destination", "status", "created_at", "shipped_at", "received_at")
    list_filter = ("status", "source", "destination")
    list_select_related = ("source", "destination")
    fields = ("source", "destination", "note", "status", "created_by", "shipped_at", "received_at")
    readonly_fields = ("status", "created_by", "shipped_at", "received_at")
    inlines = [TransferLineInline, TransferEventInline]
    change_form_template = "admin/inventory/transfer/change_form.html"
    list_per_page = 50

    def has_change_permission(self, request, obj=None) -> bool:
        # Only a draft's lines are typed in; afterwards the buttons are the only way on.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == Transfer.Status.DRAFT)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source", "destination", "created_by")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.record_draft_edit(transfer=form.instance, user=request.user, created=not change)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/ship/", view(self.ship_view), name="inventory_transfer_ship"),
            path("<int:pk>/receive/", view(self.receive_view), name="inventory_transfer_receive"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="inventory_transfer_cancel"),
            *super().get_urls(),
        ]

    def _may_act(self, request: HttpRequest) -> None:
        if request.method != "POST" and request.resolver_match.url_name != "inventory_transfer_receive":
            raise PermissionDenied
        if not super().has_change_permission(request):
            raise PermissionDenied

    def _back(self, pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:inventory_transfer_change", args=[pk]))

    def _act(self, request: HttpRequest, pk: int, action, done: str):
        self._may_act(request)
        try:
            action(transfer_id=pk, user=request.user)
        except (InventoryError, CatalogError, Location.DoesNotExist) as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return self._back(pk)

    def ship_view(self, request: HttpRequest, pk: int):
        return self._act(request, pk, services.ship_transfer, _("Shipped: the units are in transit."))

    def cancel_view(self, request: HttpRequest, pk: int):
        return self._act(request, pk, services.cancel_transfer, _("Transfer cancelled."))

    def receive_view(self, request: HttpRequest, pk: int):
        self._may_act(request)
        transfer = Transfer.objects.select_related("source", "destination").filter(pk=pk).first()
        if transfer is None:
            raise PermissionDenied
        lines = list(transfer.lines.select_related("variant").order_by("pk"))
        form = ReceiveForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                services.receive_transfer(transfer_id=pk, received=form.received(),
                                          close=form.cleaned_data["close"], user=request.user)
            except (InventoryError, CatalogError, Location.DoesNotExist) as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, _("Receipt recorded."), messages.SUCCESS)
                return self._back(pk)
        context = {**self._context(request, _("Receive %(transfer)s") % {"transfer": transfer}),
                   "transfer": transfer, "form": form, "lines": lines}
        return TemplateResponse(request, "admin/inventory/transfer/receive.html", context)

    def _context(self, request: HttpRequest, title: str) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title}


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    """The one routing rule: its list opens the rule itself; saving goes through the service.

    Also hosts "Move…" for an order's allocation (the link on the order page's Fulfilment box).
    """

    form = RoutingPolicyForm

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # before the default rule is written for someone who may not see it
        if not RoutingPolicy.objects.filter(pk=1).exists():
            services.set_routing_policy(split=RoutingPolicy.Split.WHEN_NEEDED)
        return HttpResponseRedirect(reverse("admin:inventory_routingpolicy_change", args=[1]))

    def save_model(self, request, obj, form, change) -> None:
        services.set_routing_policy(split=obj.split)

    def get_urls(self):
        return [
            path("move/<int:allocation_id>/", self.admin_site.admin_view(self.move_view),
                 name="inventory_routingpolicy_move"),
            *super().get_urls(),
        ]

    def move_view(self, request: HttpRequest, allocation_id: int):
        """Move an order line's reserved units to another location (orders.change_order)."""
        if not request.user.has_perm("orders.change_order"):
            raise PermissionDenied
        row = OrderAllocation.objects.select_related("line__order", "stock_level__location").filter(
            pk=allocation_id).first()
        if row is None:
            raise PermissionDenied
        order = row.line.order
        back = reverse("admin:orders_order_change", args=[order.pk])
        available = {
            location_id: units for location_id, units in StockLevel.objects.filter(
                variant_id=row.stock_level.variant_id, location__is_active=True,
            ).exclude(location_id=row.stock_level.location_id).values_list("location_id", "on_hand")
        }
        reserved = dict(StockLevel.objects.filter(variant_id=row.stock_level.variant_id).values_list(
            "location_id", "reserved"))
        locations = sorted(Location.objects.filter(pk__in=available),
                           key=lambda loc: (loc.kind != Location.Kind.WAREHOUSE, loc.position, loc.name))
        choices = [(location, available[location.pk] - reserved.get(location.pk, 0)) for location in locations]
        form = MoveAllocationForm(request.POST or None, choices=choices)
        if request.method == "POST" and form.is_valid():
            try:
                services.move_allocation(allocation_id=row.pk, location_id=form.cleaned_data["location"].pk,
                                         user=request.user)
            except (InventoryError, CatalogError) as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, _("Allocation moved."), messages.SUCCESS)
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "title": _("Move %(units)d × %(sku)s of order %(number)s") % {
                "units": row.outstanding, "sku": row.line.sku, "number": order.number},
            "form": form, "allocation": row, "order": order, "back": back,
        }
        return TemplateResponse(request, "admin/inventory/move_allocation.html", context)
