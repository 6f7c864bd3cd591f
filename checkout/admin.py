"""Shipping zones, methods with their rate bands, and tax rates: what staff set for checkout."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ShippingMethod, ShippingRateBand, ShippingZone, TaxRate


class ShippingMethodInline(admin.TabularInline):
    model = ShippingMethod
    fields = ("name", "kind", "price", "free_above", "is_active", "position")
    extra = 0
    show_change_link = True  # bands are edited on the method's own page


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    list_display = ("name", "countries", "position")
    list_editable = ("position",)
    search_fields = ("name", "countries")
    inlines = [ShippingMethodInline]


class ShippingRateBandInline(admin.TabularInline):
    model = ShippingRateBand
    fields = ("up_to", "price")
    extra = 1


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "zone", "kind", "price", "free_above", "is_active", "position")
    list_filter = ("is_active", "kind", "zone")
    list_editable = ("is_active", "position")
    list_select_related = ("zone",)
    search_fields = ("name", "zone__name")
    autocomplete_fields = ("zone",)
    inlines = [ShippingRateBandInline]
    fieldsets = (
        (None, {"fields": ("zone", "name", "kind", "is_active", "position")}),
        (_("Price"), {
            "fields": ("price", "free_above"),
            "description": _("Flat rate: the price. Weight or subtotal bands: add bands below; the first band the "
                             "order fits in applies, and orders above the last band cannot use this method."),
        }),
    )


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ("country", "tax_class", "name", "rate")
    list_filter = ("country",)
    search_fields = ("country", "tax_class", "name")
