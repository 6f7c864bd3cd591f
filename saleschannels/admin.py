from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Channel, PriceList, PriceListEntry, Publication


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "location", "price_list", "is_active")
    list_filter = ("kind", "is_active")
    list_select_related = ("location", "price_list")
    autocomplete_fields = ("location",)
    fields = ("code", "name", "kind", "location", "price_list", "is_active")

    def get_readonly_fields(self, request, obj=None):
        # Orders point at the code: it never changes once the channel exists.
        return ("code", "kind") if obj else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders keep their channel; deactivate instead


class PriceListEntryInline(admin.TabularInline):
    model = PriceListEntry
    autocomplete_fields = ("variant",)
    extra = 1


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    list_display = ("name", "updated_at")
    search_fields = ("name",)
    inlines = [PriceListEntryInline]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    """Products sold online only or in shops only (a product without a row is sold in both).

    Every save goes through `services.set_sold_in`, which also refreshes the storefront.
    """

    list_display = ("product", "sold_in", "updated_at")
    list_filter = ("sold_in",)
    list_select_related = ("product",)
    search_fields = ("product__title", "=product__variants__sku")
    autocomplete_fields = ("product",)
    fields = ("product", "sold_in")
    list_per_page = 100
    actions = ["sell_everywhere"]

    def get_readonly_fields(self, request, obj=None):
        return ("product",) if obj else ()

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "sold_in":
            # "Both" is no row: staff delete the row or use the action.
            kwargs["choices"] = [(value, label) for value, label in Publication.SoldIn.choices
                                 if value != Publication.SoldIn.BOTH]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        services.set_sold_in(product_ids=[obj.product_id], sold_in=obj.sold_in)
        saved = Publication.objects.filter(product_id=obj.product_id).first()
        if saved is not None:
            obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.set_sold_in(product_ids=[obj.product_id], sold_in=Publication.SoldIn.BOTH)

    def delete_queryset(self, request, queryset) -> None:
        services.set_sold_in(product_ids=list(queryset.values_list("product_id", flat=True)),
                             sold_in=Publication.SoldIn.BOTH)

    @admin.action(description=_("Sell online and in shops"), permissions=["change"])
    def sell_everywhere(self, request, queryset) -> None:
        count = services.set_sold_in(product_ids=list(queryset.values_list("product_id", flat=True)),
                                     sold_in=Publication.SoldIn.BOTH)
        self.message_user(request, _("%(count)d product(s) now sold everywhere.") % {"count": count},
                          messages.SUCCESS)
