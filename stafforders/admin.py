"""Draft orders in the back office: staff type the draft (customer, lines, shipping, discount),
then "Place order…" chooses how it is paid and calls `services.place_draft`. A placed draft is
read-only and links to its order."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from . import services
from .exceptions import DraftError
from .forms import PlaceDraftForm
from .models import DraftLine, DraftOrder


class DraftLineInline(admin.TabularInline):
    model = DraftLine
    extra = 1
    autocomplete_fields = ("variant",)


@admin.register(DraftOrder)
class DraftOrderAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "customer_name", "email", "payment", "created_by", "created_at")
    list_filter = ("status", "payment")
    list_select_related = ("order", "created_by")
    search_fields = ("email", "customer_name", "company", "purchase_order", "order__number")
    list_per_page = 50
    autocomplete_fields = ("customer",)
    inlines = [DraftLineInline]
    readonly_fields = ("status", "order", "payment", "created_by", "placed_by", "placed_at")
    fieldsets = (
        (None, {"fields": (("status", "order", "payment"),)}),
        (_("Customer"), {"fields": ("customer", ("email", "customer_name", "phone"), ("company", "purchase_order"))}),
        (_("Delivery"), {"fields": ("pickup_location", ("shipping_name", "shipping_price"),
                                    ("address_line1", "address_line2"), ("postal_code", "city", "region", "country"))}),
        (_("Discount"), {"fields": (("discount_amount", "discount_reason"),)}),
        (None, {"fields": ("note", ("created_by", "placed_by", "placed_at"))}),
    )
    change_form_template = "admin/stafforders/draftorder/change_form.html"

    def has_change_permission(self, request, obj=None):
        # Only a draft is typed in; a placed one is the order's now.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == DraftOrder.Status.DRAFT)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == DraftOrder.Status.DRAFT)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.status == DraftOrder.Status.DRAFT:
            context["quote"] = services.quote(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path("<int:pk>/place/", self.admin_site.admin_view(self.place_view), name="stafforders_draftorder_place"),
            *super().get_urls(),
        ]

    def place_view(self, request: HttpRequest, pk: int):
        draft = get_object_or_404(DraftOrder, pk=pk)
        if not (self.has_change_permission(request, draft) and request.user.has_perm("orders.view_order")):
            raise PermissionDenied
        form = PlaceDraftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                order = services.place_draft(draft_id=draft.pk, payment=form.cleaned_data["payment"],
                                             user=request.user)
            except DraftError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, _("Order %(number)s placed; stock reserved.") % {"number": order.number},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "draft": draft, "form": form,
                   "title": _("Place %(draft)s") % {"draft": draft},
                   "quote": services.quote(draft),
                   "back": reverse("admin:stafforders_draftorder_change", args=[draft.pk])}
        return TemplateResponse(request, "admin/stafforders/draftorder/place.html", context)
