"""The Customers and Marketing reports in a real Chromium: from the back office's first page to a
report, from a cohort cell to the customer behind it, from a campaign to the order it brought.

Playwright drives Debian's Chromium against pytest-django's live server. Every wait is on a
condition, never on a clock.
"""
import datetime

import pytest
from django.utils import timezone

from analytics.tests.test_customer_reports import bought, event
from conftest import sign_in_to_admin
from customers.tests.factories import CustomerFactory
from marketing.tests.factories import CampaignFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_follow_a_cohort_to_its_customer_and_a_campaign_to_its_order(new_page, django_user_model):
    from playwright.sync_api import expect

    # given a customer who came through a campaign's signed link last month and ordered twice
    now = timezone.now()
    ann = CustomerFactory(email="ann@example.com")
    spring = CampaignFactory(name="Spring sale")
    first_at = now - datetime.timedelta(days=35)
    event("campaign_click", first_at - datetime.timedelta(hours=2), visitor="v-ann", verified=True,
          source="campaign", campaign=str(spring.pk))
    first, _ = bought(ann, first_at, "120.00")
    event("order_placed", first_at, visitor="v-ann", customer=ann, order_id=first.pk)
    event("campaign_click", now - datetime.timedelta(hours=3), visitor="v-ann", verified=True,
          source="campaign", campaign=str(spring.pk))
    second, _ = bought(ann, now - datetime.timedelta(hours=1), "30.00")
    event("order_placed", now - datetime.timedelta(hours=1), visitor="v-ann", customer=ann, order_id=second.pk)

    admin = sign_in_to_admin(new_page, django_user_model)
    admin.goto("/admin/")
    admin.locator("#reports-nav").get_by_role("link", name="Customers").click()
    expect(admin.locator("h1")).to_have_text("Customers")
    cohort = first_at.astimezone(timezone.get_current_timezone()).strftime("%Y-%m")
    row = admin.locator(f'#cohort-table tr[data-cohort="{cohort}"]')
    expect(row.locator('td[data-figure="size"]')).to_have_attribute("data-value", "1")
    expect(admin.locator("#sources-table")).to_contain_text("Campaign: Spring sale")
    row.locator('td[data-figure="size"] a').click()
    expect(admin.locator("#members")).to_contain_text("ann@example.com")
    admin.get_by_role("link", name="ann@example.com").click()
    expect(admin.locator("body")).to_contain_text("ann@example.com")
    assert f"/admin/customers/customer/{ann.pk}/change/" in admin.url

    admin.goto("/admin/")
    admin.locator("#reports-nav").get_by_role("link", name="Marketing").click()
    expect(admin.locator("#attribution-rule")).to_contain_text("7 days")
    campaign = admin.locator(f'#campaigns-table tr[data-campaign="campaign|{spring.pk}"]')
    expect(campaign.locator('td[data-figure="revenue"]')).to_have_attribute("data-value", "30.00")
    campaign.locator('td[data-figure="orders"] a').click()
    admin.get_by_role("link", name=second.number).click()
    expect(admin.locator("body")).to_contain_text(second.number)
    assert f"/admin/orders/order/{second.pk}/change/" in admin.url
