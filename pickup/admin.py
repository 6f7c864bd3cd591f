"""Back office for click and collect: shops' hours and instructions, and the pick-ups.

"Ready for pickup", "Collect…" (for the code, or without it with a reason) and "Send a new code…"
are pages of their own (linked from the order page's "Click and collect" box,
`order_admin.click_and_collect`), each a CSRF-checked form that calls one service; the pick-up
list has "Send a new pick-up code" as an action too. The pick-up's status and times are
read-only: only the services write them.
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


class OverrideForm(forms.Form):
    """Handing over without the code: the staff member says why (the history keeps it)."""

    reason = forms.CharField(
        label=gettext_lazy("Why without the code"), max_length=500,
        help_text=gettext_lazy("For example: photo ID checked against the order's name. Kept in the order's "
                               "history with your name."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 60}),
    )


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
    actions = ["send_new_code"]

    def has_add_permission(self, request):
        return False  # made by "Ready for pickup" on an order

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_counter_permission(self, request) -> bool:
        """Staff who hand pick-ups over (and so may send a new code): change_pickup and view_order."""
        return request.user.has_perm("pickup.change_pickup") and request.user.has_perm("orders.view_order")

    @admin.action(description=gettext_lazy("Send a new pick-up code"), permissions=["counter"])
    def send_new_code(self, request: HttpRequest, queryset) -> None:
        """A new code for each selected pick-up still waiting (the old one stops working), emailed."""
        sent, refused = [], []
        for order_id, number in queryset.order_by("pk").values_list("order_id", "order__number"):
            try:
                services.issue_new_code(order_id=order_id, user=request.user)
            except PickupError as error:
                refused.append(str(error))
            else:
                sent.append(number)
        if sent:
            self.message_user(request, _("New pick-up code emailed for %(numbers)s; the previous codes no longer "
                                         "work.") % {"numbers": ", ".join(sent)}, messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("ready/<int:order_id>/", view(self.ready_view), name="pickup_pickup_ready"),
            path("collect/<int:order_id>/", view(self.collect_view), name="pickup_pickup_collect"),
            path("new-code/<int:order_id>/", view(self.new_code_view), name="pickup_pickup_new_code"),
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
        """Two forms: the code the shopper gives, or (the explicit alternative) a reason to hand
        over without it. Each posts here; the hidden "override" field says which."""
        order = self._order(request, order_id, "pickup.change_pickup")
        override = request.method == "POST" and "override" in request.POST
        form = CollectForm(request.POST if request.method == "POST" and not override else None)
        override_form = OverrideForm(request.POST if override else None)
        if override and override_form.is_valid():
            try:
                services.hand_over_without_code(order_id=order.pk, reason=override_form.cleaned_data["reason"],
                                                user=request.user)
            except PickupError as error:
                override_form.add_error("reason", str(error))
            else:
                self.message_user(request, _("Collected without the code: order %(number)s was handed over; the "
                                             "reason is in its history.") % {"number": order.number},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        elif request.method == "POST" and not override and form.is_valid():
            try:
                services.collect_pickup(order_id=order.pk, code=form.cleaned_data["code"], user=request.user)
            except PickupError as error:
                form.add_error("code", str(error))
            else:
                self.message_user(request, _("Collected: order %(number)s was handed over.") % {"number": order.number},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {**self._context(request, order, _("Collect %(number)s") % {"number": order.number}), "form": form,
                   "override_form": override_form, "pickup": Pickup.objects.filter(order=order).first(),
                   "new_code_url": reverse("admin:pickup_pickup_new_code", args=[order.pk])}
        return TemplateResponse(request, "admin/pickup/collect.html", context)

    def new_code_view(self, request: HttpRequest, order_id: int):
        """Ask, then send the shopper a new pick-up code (the old one stops working)."""
        order = self._order(request, order_id, "pickup.change_pickup")
        if request.method == "POST":
            try:
                services.issue_new_code(order_id=order.pk, user=request.user)
            except PickupError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, _("A new pick-up code was emailed to %(email)s; the previous code no longer "
                                             "works.") % {"email": order.email}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = self._context(request, order, _("New pick-up code: %(number)s") % {"number": order.number})
        return TemplateResponse(request, "admin/pickup/new_code.html", context)
