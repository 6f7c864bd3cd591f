"""A sale on the demo catalog, through the rendered forms, by a member of the "Shop staff" group."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse

from catalog.models import Location, StockLevel
from customers.tests.factories import UserFactory
from inventory.models import Reason, StockMovement
from orders.models import Order
from saleschannels.selectors import channel_products, counter_channel
from shop.money import format_money

pytestmark = pytest.mark.usefixtures("stock_ledger_checked")


def test_open_a_demo_till_scan_a_demo_barcode_and_sell_for_cash(demo_catalog, django_app):
    demo_catalog(products=6)
    call_command("seed_demo_registers")
    level = next((
        level for level in StockLevel.objects.filter(location__kind=Location.Kind.SHOP, on_hand__gt=F("reserved"),
                                                     variant__is_active=True).exclude(variant__barcode="")
        .select_related("variant", "location").order_by("pk")
        if channel_products(channel=counter_channel(location_id=level.location_id))
        .filter(pk=level.variant.product_id).exists()
    ), None)
    assert level is not None, "the demo seeds shop stock"
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name="Shop staff"))
    django_app.set_user(clerk)

    page = django_app.get(reverse("pos:registers"))
    form = next(form for form in page.forms.values()
                if f"float-{level.location.registers.get().pk}" in str(form.html))
    form["opening_float"] = "150"
    page = form.submit().follow()
    scan = page.forms[0]
    scan["code"] = level.variant.barcode
    page = scan.submit().follow()
    total = Decimal(page.html.select_one("#sale-total").text.strip().lstrip("$").replace(",", ""))
    pay = next(form for form in page.forms.values() if "cash_tendered" in form.fields)
    tendered = (total // 10 + 1) * 10
    pay["cash_tendered"] = str(tendered)
    receipt = pay.submit().follow()

    assert receipt.html.select_one("#receipt-change").text == format_money(tendered - total)
    order = Order.objects.get(sold_by=clerk)
    assert order.sale_location_id == level.location_id and order.total == total
    movement = StockMovement.objects.get(order=order)
    assert (movement.reason, movement.location_id, movement.quantity) == (Reason.COUNTER_SALE, level.location_id, -1)
