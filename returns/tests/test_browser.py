"""A shopper's return in a real Chromium, end to end: the guest asks from the signed order link
(JavaScript off: the form works without it) with a photo, staff approve it in the back office,
receive the items at a shop's counter, and refund the original payment; the shopper's order page
then says so. Debian's Chromium through conftest's `new_page`; every wait is Playwright's
auto-waiting `expect`, never a clock.
"""
import re
from decimal import Decimal

import pytest
from django.core import mail

from catalog.models import StockLevel
from conftest import image_bytes, sign_in_to_admin
from inventory.selectors import ledger_discrepancies
from orders.links import signed_order_url
from orders.models import Order
from returns.models import ReturnRequest

from .helpers import paid_and_shipped, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guest_returns_a_shirt_staff_approve_receive_it_at_a_shop_and_refund(new_page, django_user_model):
    from playwright.sync_api import expect

    _warehouse, harbour, sizes, _wrap = store()
    order = paid_and_shipped((sizes["M"], 2))

    # The shopper, without JavaScript.
    shopper = new_page(java_script_enabled=False)
    shopper.goto(signed_order_url(order))
    shopper.get_by_role("link", name="Return items").click()
    expect(shopper.locator("h1")).to_contain_text(f"Return items from order {order.number}")
    expect(shopper.locator("#return-policy")).to_contain_text("up to 30 days after your order was sent")
    shopper.get_by_label("How many to return").fill("1")
    shopper.get_by_label("Wrong size or fit").check()
    shopper.get_by_label("Anything we should know?").fill("Too tight on the shoulders.")
    shopper.get_by_label("A photo (optional)").set_input_files(
        files=[{"name": "fit.png", "mimeType": "image/png", "buffer": image_bytes("PNG", size=(30, 20))}])
    shopper.get_by_role("button", name="Ask for a return").click()
    expect(shopper.locator("body")).to_contain_text("We received your return request")
    request = ReturnRequest.objects.get()
    expect(shopper.locator(f'#order-returns [data-return="{request.pk}"]')).to_contain_text("Requested")

    # Staff, in the back office.
    admin = sign_in_to_admin(new_page, django_user_model)
    admin.goto(f"/admin/returns/returnrequest/{request.pk}/change/")
    expect(admin.locator("#return-photo")).to_be_visible()
    admin.get_by_label("Message to the shopper").fill("Hand it in at any of our shops.")
    admin.get_by_role("button", name="Approve").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"Return R{request.pk} approved")
    assert any("approved" in m.subject and "Harbour Shop" in m.body for m in mail.outbox)

    admin.get_by_role("link", name="Receive the items…").click()
    admin.get_by_label("Received at").select_option(label="Harbour Shop (Shop)")
    admin.get_by_role("button", name="Record receipt").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"Return R{request.pk} received.")
    admin.get_by_role("button", name=re.compile(r"^Refund \$40\.00 to the original payment")).click()
    expect(admin.locator(".messagelist")).to_contain_text("Refunded $40.00 to the original payment")

    # The shopper sees it, and the numbers agree.
    shopper.goto(signed_order_url(order))
    expect(shopper.locator(f'#order-returns [data-return="{request.pk}"]')).to_contain_text("Refunded")
    expect(shopper.locator('.order-line-returned[data-sku="SHIRT-M"]')).to_contain_text("1 returned")
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED
    assert ReturnRequest.objects.get().refunds.get().amount == Decimal("40.00")
    assert StockLevel.objects.get(variant=sizes["M"], location=harbour).on_hand == 1
    assert ledger_discrepancies() == []
