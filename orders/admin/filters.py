"""Order list filters. Each adds one indexed condition or an EXISTS, never a join that multiplies rows."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Brand, Category, Location, Product
from payments.selectors import holds_unkept_money

DELIVERY = "delivery"


class PickupLocationFilter(admin.SimpleListFilter):
    """Delivered orders, or those collected at one shop (the few locations, listed in one query)."""

    title = _("pick-up location")
    parameter_name = "pickup"

    def lookups(self, request, model_admin):
        locations = Location.objects.filter(pickup_allowed=True).order_by("position", "name")
        return [(DELIVERY, _("Delivered (no pick-up)")), *((str(pk), name) for pk, name in
                                                          locations.values_list("pk", "name"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == DELIVERY:
            return queryset.filter(pickup_location__isnull=True)
        if value and value.isdigit():
            return queryset.filter(pickup_location_id=int(value))
        return queryset


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Orders holding money they did not keep (a payment of a different amount or currency, never
    marked paid): staff refund it or settle it. Expiry leaves these orders alone, and the admin
    index counts them (payments/templatetags/payments_admin.py links here)."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("money", _("Holds money it did not keep"))]

    def queryset(self, request, queryset):
        if self.value() == "money":
            return queryset.filter(holds_unkept_money())
        return queryset


# --- The Sales report's drill-down (analytics/reports.py links here) ------------------------------
# Each shows in the sidebar only while it is in use (naming what it filters on), since their
# values come from the report's links rather than from a list to pick in.

NONE = "none"


def _store_days(value: str | None):
    """`YYYY-MM-DD..YYYY-MM-DD` as the [start, end) instants of those store days, or None."""
    import datetime

    from analytics.services import day_bounds

    try:
        first, last = (datetime.date.fromisoformat(part) for part in (value or "").split(".."))
    except ValueError:
        return None
    return day_bounds(first)[0], day_bounds(last)[1]


class _ReportFilter(admin.SimpleListFilter):
    def label(self, value: str) -> str:
        return value

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, self.label(value))] if value else []


class _StoreDaysFilter(_ReportFilter):
    """Orders by what happened on a range of store days (`YYYY-MM-DD..YYYY-MM-DD`); an unreadable
    range matches nothing. Subclasses say what happened in `in_range(queryset, start, end)`."""

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        bounds = _store_days(self.value())
        if bounds is None:
            return queryset.none()
        return self.in_range(queryset, *bounds)

    def in_range(self, queryset, start, end):
        raise NotImplementedError


class MoneyMovedFilter(_StoreDaysFilter):
    """Orders whose money moved on the given store days: a payment succeeded or a refund was made
    (the report's net sales)."""

    title = _("money moved (store days)")
    parameter_name = "moved"

    def in_range(self, queryset, start, end):
        from payments.models import Payment, Refund

        # One set of orders (UNION), each half read through its index (payment_succeeded_covering,
        # refund_created_at). An OR of two EXISTS made PostgreSQL test every order against both
        # and, misjudging the rows, JIT-compile the query: 6-15 s a page at 300,000 orders
        # (docs/decisions.md).
        payments = Payment.objects.filter(status=Payment.Status.SUCCEEDED, succeeded_at__gte=start,
                                          succeeded_at__lt=end).order_by().values("order_id")
        refunds = Refund.objects.filter(status=Refund.Status.SUCCEEDED, created_at__gte=start,
                                        created_at__lt=end).order_by().values("payment__order_id")
        return queryset.filter(pk__in=payments.union(refunds))


class PaidOnFilter(_StoreDaysFilter):
    """Orders paid on the given store days (the report's orders and units)."""

    title = _("paid (store days)")
    parameter_name = "paid"

    def in_range(self, queryset, start, end):
        return queryset.filter(paid_at__gte=start, paid_at__lt=end)


class ReturnedOnFilter(_StoreDaysFilter):
    """Orders with a return recorded on the given store days (the Products report's returns)."""

    title = _("returned (store days)")
    parameter_name = "returned"

    def in_range(self, queryset, start, end):
        from ..models import OrderEvent

        returns = OrderEvent.objects.filter(order=OuterRef("pk"), kind=OrderEvent.Kind.RETURN,
                                            created_at__gte=start, created_at__lt=end)
        return queryset.filter(Exists(returns))


class _LineFilter(_ReportFilter):
    """Orders with a line whose product has the given `field` (a pk, or "none")."""

    field = ""
    model = None

    def label(self, value: str) -> str:
        if value == NONE or not value.isdigit():
            return str(_("None"))
        return str(self.model.objects.filter(pk=int(value)).values_list(self.name_field, flat=True).first() or value)

    def queryset(self, request, queryset):
        from ..models import OrderLine

        value = self.value()
        if not value:
            return queryset
        lines = OrderLine.objects.filter(order=OuterRef("pk"))
        if value == NONE:
            lines = lines.filter(Q(variant__isnull=True) | Q(**{f"variant__product__{self.field}__isnull": True}))
        elif value.isdigit():
            lines = lines.filter(**{f"variant__product__{self.field}": int(value)})
        else:
            return queryset.none()
        return queryset.filter(Exists(lines))


class LineCategoryFilter(_LineFilter):
    title = _("category (of a line)")
    parameter_name = "line_category"
    field = "category_id"
    name_field = "name"
    model = Category


class LineBrandFilter(_LineFilter):
    title = _("brand (of a line)")
    parameter_name = "line_brand"
    field = "brand_id"
    name_field = "name"
    model = Brand


class LineProductFilter(_LineFilter):
    title = _("product (of a line)")
    parameter_name = "line_product"
    field = "id"
    name_field = "title"
    model = Product


class CountryFilter(_ReportFilter):
    """The shipping address's country ("none": no country, such as a pick-up)."""

    title = _("country")
    parameter_name = "country"

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == NONE:
            return queryset.filter(Q(shipping_address__country__isnull=True) | Q(shipping_address__country=""))
        return queryset.filter(shipping_address__country=value)


class ChannelFilter(_ReportFilter):
    """Orders taken on one sales channel, by its code (the reports' channel figures)."""

    title = _("channel")
    parameter_name = "channel"

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(channel_id=value)


class SoldOrCollectedAtFilter(_ReportFilter):
    """The Sales report's "location" figures (analytics.reports): "<pk>-counter" sold at the shop's
    counter, "<pk>-collect" collected there (not a counter sale), "<pk>-shipped" a delivered order
    with a line allocated there (units not moved away; a line whose units were all released, where
    it was allocated), "none" a delivered order with a line never allocated. A bare "<pk>" (older
    links) is sold or collected there."""

    title = _("sold, collected or shipped at")
    parameter_name = "sold_or_collected_at"

    def queryset(self, request, queryset):
        from ..models import Allocation, OrderLine

        value = self.value()
        if not value:
            return queryset
        delivered = Q(sale_location__isnull=True, pickup_location__isnull=True)
        if value == "none":
            never_allocated = OrderLine.objects.filter(~Exists(Allocation.objects.filter(line=OuterRef("pk"))),
                                                       order=OuterRef("pk"))
            return queryset.filter(delivered, Exists(never_allocated))
        pk, _sep, role = value.partition("-")
        if not pk.isdigit():
            return queryset.none()
        location_id = int(pk)
        if role == "":
            return queryset.filter(Q(sale_location_id=location_id) | Q(sale_location__isnull=True,
                                                                       pickup_location_id=location_id))
        if role == "counter":
            return queryset.filter(sale_location_id=location_id)
        if role == "collect":
            return queryset.filter(sale_location__isnull=True, pickup_location_id=location_id)
        if role == "shipped":
            # The orders as one set (UNION) read from the location's allocations: an OR of two
            # EXISTS tested every order against both (20 s at 300,000 orders, docs/decisions.md).
            here = Allocation.objects.filter(stock_level__location_id=location_id).order_by()
            held = Allocation.objects.filter(line=OuterRef("line"), quantity__gt=F("quantity_released"))
            kept_here = here.filter(quantity__gt=F("quantity_released")).values("line__order_id")
            all_released = here.exclude(Exists(held)).values("line__order_id")
            return queryset.filter(delivered, pk__in=kept_here.union(all_released))
        return queryset.none()


class HandoverFilter(_ReportFilter):
    """Orders by how the goods reached the customer: "collect" (click and collect), "counter"
    (sold at a shop's counter) or "delivery" (the Sales report's click-and-collect share)."""

    title = _("handed over by")
    parameter_name = "handover"

    def queryset(self, request, queryset):
        value = self.value()
        if value == "counter":
            return queryset.filter(sale_location__isnull=False)
        if value == "collect":
            return queryset.filter(sale_location__isnull=True, pickup_location__isnull=False)
        if value == "delivery":
            return queryset.filter(sale_location__isnull=True, pickup_location__isnull=True)
        return queryset.none() if value else queryset
