"""The back office's first page (the dashboard) and read-only lists of events and daily figures."""
from __future__ import annotations

import datetime

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shop.admin import ReadOnlyAdmin

from . import selectors
from .models import DailyMetric, Event

REPORTS_PERMISSION = "analytics.view_reports"
# The Reports section of the admin's list of apps: (name, object name: the row's id, URL name).
REPORTS = [
    (gettext_noop("Sales over time"), "SalesOverTime", "reports_sales"),
    (gettext_noop("Funnel"), "Funnel", "reports_funnel"),
    (gettext_noop("Products"), "Products", "reports_products"),
    (gettext_noop("Customers"), "Customers", "reports_customers"),
    (gettext_noop("Marketing"), "Marketing", "reports_marketing"),
    (gettext_noop("Promotions"), "Promotions", "reports_promotions"),
    (gettext_noop("Returns"), "Returns", "reports_returns"),
]


def install_dashboard(site: AdminSite) -> None:
    """Show the dashboard above the list of apps on `site`'s index, to staff with the Reports
    permission; everyone else sees the plain index. Runs when the admin modules load, before
    shop/urls.py builds the site's URLs from `site.index`."""
    plain_index = site.index

    def index(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.user.has_perm(REPORTS_PERMISSION):
            extra_context = {**(extra_context or {}), "dashboard": selectors.dashboard()}
        return plain_index(request, extra_context)

    site.index = index


install_dashboard(admin.site)


def install_reports(site: AdminSite) -> None:
    """Add the Reports section under /admin/reports/ to `site` (admin_view: signed-in staff; the
    view itself checks the Reports permission). Like the dashboard, before the site's URLs are built."""
    from django.urls import path

    from returns.report import returns_page

    from . import funnel_views, product_views, report_pages, views

    plain_urls = site.get_urls

    def get_urls():
        return [path("reports/sales/", site.admin_view(views.sales), name="reports_sales"),
                path("reports/funnel/", site.admin_view(funnel_views.funnel_page), name="reports_funnel"),
                path("reports/products/", site.admin_view(product_views.products_page), name="reports_products"),
                path("reports/customers/", site.admin_view(report_pages.customers), name="reports_customers"),
                path("reports/customers/members/", site.admin_view(report_pages.customer_members), name="reports_customers_members"),
                path("reports/marketing/", site.admin_view(report_pages.marketing), name="reports_marketing"),
                path("reports/marketing/orders/", site.admin_view(report_pages.marketing_orders), name="reports_marketing_orders"),
                path("reports/promotions/", site.admin_view(report_pages.promotions), name="reports_promotions"),
                # The returns app's page (returns/report.py), in the Reports section with the others.
                path("reports/returns/", site.admin_view(returns_page), name="reports_returns"),
                *plain_urls()]

    site.get_urls = get_urls

    plain_app_list = site.get_app_list

    def get_app_list(request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """Django's apps, and for staff with the Reports permission a "Reports" section listing
        the reports (on the index and in the admin's side bar)."""
        apps = plain_app_list(request, app_label)
        if app_label is None and request.user.has_perm(REPORTS_PERMISSION):
            from django.urls import reverse
            from django.utils.translation import gettext

            url = reverse(f"{site.name}:reports_sales")
            apps.append({"name": gettext("Reports"), "app_label": "reports", "app_url": url,
                         "has_module_perms": True,
                         "models": [{"name": gettext(name), "object_name": object_name,
                                     "admin_url": reverse(f"{site.name}:{url_name}"), "add_url": None,
                                     "view_only": True, "perms": {"view": True}}
                                    for name, object_name, url_name in REPORTS]})
        return apps

    site.get_app_list = get_app_list


install_reports(admin.site)


# The events list counts at most this many rows (newest first): an exact count of 10 million
# events took a second, and the list is read from its first pages, narrowed by the filters.
EVENT_LIST_COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        # COUNT(*) over the first CAP rows in the list's order (an index scan), not the table.
        return self.object_list[:EVENT_LIST_COUNT_CAP].count()


class RecentValuesFilter(admin.SimpleListFilter):
    """Offers the values of `field` seen in the last day's events (an index range scan), not
    Django's SELECT DISTINCT over every event (3 s each at 10 million); any value still filters."""

    field = ""

    def lookups(self, request, model_admin):
        since = timezone.now() - datetime.timedelta(days=1)
        values = set(Event.objects.filter(occurred_at__gte=since).order_by().values_list(self.field, flat=True).distinct())
        if self.value():
            values.add(self.value())
        return [(value, value) for value in sorted(values) if value]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class EventNameFilter(RecentValuesFilter):
    title = _("event")
    parameter_name = field = "name"


class EventChannelFilter(RecentValuesFilter):
    title = _("channel")
    parameter_name = field = "channel"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "name", "visitor_id", "customer", "device", "channel", "utm_campaign")
    list_filter = (EventNameFilter, "device", EventChannelFilter)
    list_select_related = ("customer",)
    list_per_page = 100
    # Millions of rows: no exact count, with or without filters (bench/analytics_events.py).
    show_full_result_count = False
    paginator = CappedCountPaginator
    search_fields = ("=visitor_id",)


@admin.register(DailyMetric)
class DailyMetricAdmin(ReadOnlyAdmin):
    list_display = ("day", "channel", "metric", "value", "computed_at")
    list_filter = ("metric", "channel")
    date_hierarchy = "day"
    list_per_page = 100
