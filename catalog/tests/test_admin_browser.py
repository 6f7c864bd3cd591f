"""The product page and its stock grid in a real Chromium: how tall the page is, and typing stock."""
import re

import pytest
from django.db.models import Count
from django.urls import reverse

from catalog.models import Location, Product, StockLevel
from conftest import sign_in_to_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_18_variant_product_page_stays_short_and_stock_is_changed_on_its_grid(
    new_page, demo_catalog, django_user_model
):
    from playwright.sync_api import expect

    demo_catalog(products=40)
    product = Product.objects.annotate(n=Count("variants")).filter(n=18).order_by("pk").first()
    level = StockLevel.objects.filter(variant__product=product, reserved=0).order_by("pk").first()
    admin = sign_in_to_admin(new_page, django_user_model)

    admin.goto(reverse("admin:catalog_product_change", args=[product.pk]))
    expect(admin.locator("#product_form")).to_be_visible()
    # With a stock table nested in each of the 18 variants the page was 12,383 px tall (3,021 now).
    height = admin.evaluate("document.documentElement.scrollHeight")
    assert height < 3_500, f"the product page is {height} px tall"

    admin.locator("#stock-grid-link").click()
    expect(admin).to_have_url(re.compile(rf"/admin/catalog/product/{product.pk}/stock/$"))
    expect(admin.locator("table.stock-grid tbody tr")).to_have_count(18)
    expect(admin.locator("table.stock-grid thead th")).to_have_count(Location.objects.count() + 2)
    cell = admin.get_by_label(f"{level.variant.sku} at {level.location.name}")
    cell.fill(str(level.on_hand + 11))
    admin.get_by_role("button", name="Save stock").click()

    expect(admin.locator(".messagelist")).to_contain_text("Saved 1 stock figure.")
    level.refresh_from_db()
    assert admin.get_by_label(f"{level.variant.sku} at {level.location.name}").input_value() == str(level.on_hand)
