"""Back office for click and collect: shops' hours and instructions, and the pick-ups.

"Ready for pickup" and "Collect…" are pages of their own (linked from the order page's
"Click and collect" box, `order_admin.click_and_collect`), each a CSRF-checked form that calls one
service. The pick-up's status and times are read-only: only the services write them.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.models import Order

from . import services
from .exceptions import PickupError
from .models import OpeningHours, Pickup, PickupShop


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(PickupShop)
class PickupShopAdmin(admin.ModelAdmin):
    list_display = ("location", "phone")
    list_select_related = ("location",)
    autocomplete_fields = ()
    inlines = [OpeningHoursInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "location":
            from catalog.models import Location

            kwargs["queryset"] = Location.objects.filter(pickup_allowed=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CollectForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Pick-up code the shopper gives"), max_length=20,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric",
                                                         "autofocus": True}))


@admin.register(Pickup)
class PickupAdmin(admin.ModelAdmin):
    list_display = ("order", "location", "status", "ready_at", "reminded_at", "collected_at", "failed_attempts")
    list_filter = ("status", "location")
    list_select_related = ("order", "location")
    search_fields = ("order__number", "order__email")
    list_per_page = 50
    readonly_fields = ("order", "location", "status", "ready_at", "ready_by", "reminded_at", "collected_at",
                       "collected_by", "cancelled_at", "failed_attempts")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # made by "Ready for pickup" on an order

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("ready/<int:order_id>/", view(self.ready_view), name="pickup_pickup_ready"),
            path("collect/<int:order_id>/", view(self.collect_view), name="pickup_pickup_collect"),
            *super().get_urls(),
        ]

    def _order(self, request: HttpRequest, order_id: int, permission: str) -> Order:
        if not (request.user.has_perm(permission) and request.user.has_perm("orders.view_order")):
            raise PermissionDenied
        return get_object_or_404(Order.objects.select_related("pickup_location"), pk=order_id,
                                 pickup_location__isnull=False)

    def _context(self, request: HttpRequest, order: Order, title: str) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, "order": order,
                "back": reverse("admin:orders_order_change", args=[order.pk])}

    def ready_view(self, request: HttpRequest, order_id: int):
        order = self._order(request, order_id, "pickup.add_pickup")
        if request.method == "POST":
            try:
                services.mark_ready_for_pickup(order_id=order.pk, user=request.user)
            except PickupError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, _("Ready for pickup: the shopper was emailed their pick-up code."),
                                  messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = self._context(request, order, _("Ready for pickup: %(number)s") % {"number": order.number})
        return TemplateResponse(request, "admin/pickup/ready.html", context)

    def collect_view(self, request: HttpRequest, order_id: int):
        order = self._order(request, order_id, "pickup.change_pickup")
        form = CollectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.collect_pickup(order_id=order.pk, code=form.cleaned_data["code"], user=request.user)
            except PickupError as error:
                form.add_error("code", str(error))
            else:
                self.message_user(request, _("Collected: order %(number)s was handed over.") % {"number": order.number},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {**self._context(request, order, _("Collect %(number)s") % {"number": order.number}), "form": form,
                   "pickup": Pickup.objects.filter(order=order).first()}
        return TemplateResponse(request, "admin/pickup/collect.html", context)
