"""Reports: the Products page (/admin/reports/products/): the tables of analytics/product_reports.py,
a chart of the best sellers with its table, and each table as CSV (`?format=csv&table=<key>`)."""
from __future__ import annotations

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from shop.spreadsheets import safe_text

from . import product_reports
from .funnel_views import PeriodForm, csv_query, hbar_chart
from .services import store_zone
from .views import ORDERS_PERMISSION, REPORTS_PERMISSION

PRODUCTS_PERMISSION = "catalog.view_product"


def products_page(request: HttpRequest) -> HttpResponse:
    """The Products report (admin_view: staff only); only with the Reports permission. Figures
    link to the orders behind them for staff who may see orders, to the product for staff who may
    see products. No customer data: counts per product and search queries only."""
    if not request.user.has_perm(REPORTS_PERMISSION):
        raise PermissionDenied
    form = PeriodForm.with_defaults(request.GET)
    report = None
    if form.is_valid():
        report = product_reports.products_report(
            first=form.cleaned_data["first"], last=form.cleaned_data["last"],
            orders_links=request.user.has_perm(ORDERS_PERMISSION),
            product_links=request.user.has_perm(PRODUCTS_PERMISSION))
        if request.GET.get("format") == "csv":
            return table_csv(report, request.GET.get("table", ""))
    context = {
        **admin.site.each_context(request),
        "title": _("Products"),
        "form": form,
        "report": report,
        "zone": store_zone().key,
        "csv_base": csv_query(request),
    }
    if report:
        top = max((units for _t, units, _l in report.best_sellers), default=0)
        context["chart"] = hbar_chart([("", [(title[:28], units, f"{units:,}", link)
                                             for title, units, link in report.best_sellers])], scale=float(top or 1))
    return TemplateResponse(request, "analytics/reports/products.html", context)


def table_csv(report: product_reports.ProductsReport, key: str) -> HttpResponse:
    """One table as CSV: its columns, then its rows' plain values (text through safe_text)."""
    try:
        table = report.table(key)
    except StopIteration:
        raise Http404("No such table.") from None
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="products-{key}-{report.first}-{report.last}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([safe_text(cell.value) if isinstance(cell.value, str) else cell.value for cell in row])
    return response
