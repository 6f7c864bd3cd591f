"""What the order page and the printed documents show: money and lines, ready to print (addresses
are written by `shop.addresses`, as everywhere).

Formatting happens here, once, so templates only lay things out (`format_money` rounds and
writes amounts the way the store's locale does).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from shop.money import format_money

from ..models import NEVER_PAID_FULFILMENT, Order, OrderLine


def tax_rate_display(rate: Decimal) -> str:
    # normalize() drops the trailing zeros of 20.00; ":f" keeps 2E+1 from printing as such.
    return f"{rate.normalize():f}%"


@dataclass(frozen=True)
class DocumentLine:
    title: str
    sku: str
    options: str
    quantity: int
    shipped: int
    unit_price: str
    tax_rate: str
    tax: str
    total: str
    discounts: tuple[tuple[str, str], ...] = ()  # (promotion name, amount) taken off this line


def document_lines(order: Order, lines: list[OrderLine]) -> list[DocumentLine]:
    currency = order.currency
    return [
        DocumentLine(
            title=line.product_title, sku=line.sku, options=line.options, quantity=line.quantity,
            shipped=line.quantity_fulfilled, unit_price=format_money(line.unit_price, currency),
            tax_rate=tax_rate_display(line.tax_rate), tax=format_money(line.tax_total, currency),
            total=format_money(line.line_total, currency), discounts=line.discount_rows(currency),
        )
        for line in lines
    ]


def packing_hold(order: Order) -> str:
    """Why this order's goods must not leave the building yet, or "" when they may.

    A slip can be printed for any order (support staff look ahead), but one printed for an unpaid,
    cancelled or expired order says so in large type, so nobody packs and ships unpaid goods from it.
    """
    if order.fulfilment_status in NEVER_PAID_FULFILMENT:
        return _("%(status)s: do not pack or ship.") % {"status": order.get_fulfilment_status_display()}
    if order.payment_status == Order.PaymentStatus.UNPAID:
        if order.on_invoice:
            return ""  # paid after delivery: the slip says what is due instead (`invoice_due`)
        return _("Not paid yet: do not ship until the payment is in.")
    if order.payment_status == Order.PaymentStatus.REFUNDED:
        return _("Refunded in full: do not ship.")
    return ""


def invoice_due(order: Order) -> str:
    """What an order on invoice terms still owes, written in its currency, or "" (paid, closed,
    or not on invoice). No query: an invoice is paid whole (`confirm_payment` takes the total)."""
    if (order.on_invoice and order.payment_status == Order.PaymentStatus.UNPAID
            and order.fulfilment_status not in NEVER_PAID_FULFILMENT):
        return format_money(order.total, order.currency)
    return ""


def document_context(order: Order) -> dict:
    """Everything the packing slip and the invoice print (one query for the lines)."""
    lines = list(order.lines.all())
    return {
        "order": order,
        "hold": packing_hold(order),
        "amount_due": invoice_due(order),
        "store_name": settings.STORE_NAME,
        "lines": document_lines(order, lines),
        "units": sum(line.quantity for line in lines),
        # An empty billing address means "same as shipping" at checkout.
        "billing_address": order.billing_address or order.shipping_address,
        "subtotal": format_money(order.subtotal, order.currency),
        # Line totals include tax whether catalog prices did or not (see orders.services.placement).
        "net_subtotal": format_money(order.subtotal - order.tax_total, order.currency),
        "shipping_total": format_money(order.shipping_total, order.currency),
        "tax_total": format_money(order.tax_total, order.currency),
        "total": format_money(order.total, order.currency),
        "discount_total": format_money(order.discount_total, order.currency) if order.discount_total else "",
        "shipping_discount": format_money(order.shipping_discount, order.currency) if order.shipping_discount else "",
    }
