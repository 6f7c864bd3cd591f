"""Reports › Returns: per product, the units asked back and why, and the returns rate.

For a range of store days: units sold are the lines of orders paid in the range that kept their
payment (`orders.models.paid_orders`); units returned are the units of returns asked for in the
range, refused ones left out (asked, approved, received, refunded or exchanged). Rate = returned
/ sold, per product and per reason; a product returned in the range but sold before it shows
its returns with the rate left blank rather than a rate over a sale it did not count. Two
queries whatever the range. No customer data: counts per product, so only the Reports
permission applies. The page is in the analytics back office beside the others
(analytics/admin.py adds its URL; `templates/analytics/reports/_links.html` lists it).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from analytics.report_pages import DaysForm, _allowed
from analytics.services import day_bounds, store_zone
from orders.models import OrderLine, paid_orders

from .models import Reason, ReturnLine, ReturnRequest


@dataclass
class ProductReturns:
    key: str  # the product id, or the title for lines whose variant was deleted
    title: str
    sold: int = 0
    returned: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> Decimal | None:
        return percent(self.returned, self.sold)


def percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ReturnsReport:
    first: datetime.date
    last: datetime.date
    products: list[ProductReturns]
    reasons: list[tuple[str, str, int, Decimal | None]]  # value, label, units, share of units sold
    sold: int
    returned: int

    @property
    def rate(self) -> Decimal | None:
        return percent(self.returned, self.sold)


def returns_report(*, first: datetime.date, last: datetime.date) -> ReturnsReport:
    """Products with a sale or a return in the range, most returned first."""
    start, _end = day_bounds(first)
    _start, end = day_bounds(last)
    rows: dict[str, ProductReturns] = {}

    def row(product_id, title) -> ProductReturns:
        key = str(product_id) if product_id else f"title:{title}"
        return rows.setdefault(key, ProductReturns(key=key, title=title))

    sold = (OrderLine.objects.filter(paid_orders("order__"), order__paid_at__gte=start, order__paid_at__lt=end)
            .values("variant__product_id", "variant__product__title", "product_title")
            .annotate(units=Sum("quantity")).order_by())
    for item in sold:
        row(item["variant__product_id"], item["variant__product__title"] or item["product_title"]).sold += item["units"]
    returned = (ReturnLine.objects.filter(request__created_at__gte=start, request__created_at__lt=end)
                .exclude(request__status=ReturnRequest.Status.REFUSED)
                .values("order_line__variant__product_id", "order_line__variant__product__title",
                        "order_line__product_title", "request__reason")
                .annotate(units=Sum("quantity")).order_by())
    by_reason: dict[str, int] = {}
    for item in returned:
        product = row(item["order_line__variant__product_id"],
                      item["order_line__variant__product__title"] or item["order_line__product_title"])
        reason = item["request__reason"]
        product.returned += item["units"]
        product.reasons[reason] = product.reasons.get(reason, 0) + item["units"]
        by_reason[reason] = by_reason.get(reason, 0) + item["units"]
    products = sorted(rows.values(), key=lambda p: (-p.returned, -(p.rate or 0), p.title))
    total_sold = sum(p.sold for p in products)
    reasons = [(value, label, by_reason.get(value, 0), percent(by_reason.get(value, 0), total_sold))
               for value, label in Reason.choices]
    return ReturnsReport(first=first, last=last, products=products, reasons=reasons, sold=total_sold,
                         returned=sum(by_reason.values()))


def returns_page(request: HttpRequest) -> HttpResponse:
    """The Returns report page (the Reports permission). Two queries plus the admin's own."""
    from django.contrib import admin

    _allowed(request)
    form = DaysForm.with_defaults(request.GET)
    context = {**admin.site.each_context(request), "title": _("Returns"), "form": form, "zone": store_zone().key,
               "reason_labels": Reason.choices}
    if form.is_valid():
        report = returns_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"])
        context.update(report=report, rows=[(p, [p.reasons.get(value, 0) for value, _l in Reason.choices])
                                            for p in report.products])
    return TemplateResponse(request, "returns/report.html", context)
