"""The Reports section's Promotions page: discount cost and revenue per promotion."""
import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.tests.test_customer_reports import staff
from customers.tests.factories import CustomerFactory, paid_order_for
from orders.models import Order
from promotions.models import Promotion, Redemption
from promotions.tests.factories import CodeFactory, PromotionFactory

pytestmark = pytest.mark.django_db
URL = reverse("admin:reports_promotions")


def used(promotion, *, total, discount, paid_at, code=None, **order_fields):
    order = paid_order_for(CustomerFactory(), total=Decimal(total), paid_at=paid_at)
    if order_fields:
        Order.objects.filter(pk=order.pk).update(**order_fields)
    return Redemption.objects.create(promotion=promotion, code=code, order=order, email=order.email,
                                     amount=Decimal(discount))


@pytest.fixture
def history():
    now = timezone.now()
    sale = PromotionFactory(name="Winter sale")
    take5 = CodeFactory(code="TAKE5", promotion=PromotionFactory(name="Five off", trigger=Promotion.Trigger.CODE))
    used(sale, total="90.00", discount="10.00", paid_at=now - datetime.timedelta(days=2))
    both = used(sale, total="45.50", discount="4.50", paid_at=now - datetime.timedelta(days=1))
    Redemption.objects.create(promotion=take5.promotion, code=take5, order=both.order, email=both.order.email,
                              amount=Decimal("5.00"))
    used(sale, total="30.00", discount="3.33", paid_at=now - datetime.timedelta(days=90))  # before the range
    used(take5.promotion, total="20.00", discount="5.00", paid_at=now, code=take5,  # cancelled: not counted
         fulfilment_status=Order.FulfilmentStatus.CANCELLED)
    return sale, take5.promotion


def test_reporters_see_cost_and_revenue_per_promotion_within_budget(client, history, django_assert_max_num_queries):
    sale, five_off = history
    client.force_login(staff("reporter", "Reports"))

    with django_assert_max_num_queries(12):
        page = client.get(URL)

    assert page.status_code == 200
    rows = [(row.name, row.orders, row.cost, row.revenue) for row, _link in page.context["rows"]]
    assert rows == [("Winter sale", 2, Decimal("14.50"), Decimal("135.50")),
                    ("Five off", 1, Decimal("5.00"), Decimal("45.50"))]
    assert page.context["report"].total_cost == Decimal("19.50")
    html = page.content.decode()
    assert f'href="/admin/promotions/promotion/{sale.pk}/change/">Winter sale</a>' in html
    assert 'data-figure="cost" data-value="19.50">$19.50' in html

    narrow = client.get(URL, {"first": str(timezone.localdate() - datetime.timedelta(days=100)),
                              "last": str(timezone.localdate() - datetime.timedelta(days=80))})
    assert [(r.name, r.cost) for r, _l in narrow.context["rows"]] == [("Winter sale", Decimal("3.33"))]


def test_staff_without_the_reports_permission_are_refused(client, history):
    client.force_login(staff("clerk"))
    assert client.get(URL).status_code == 403


def test_the_reports_section_lists_the_page(client):
    client.force_login(staff("reporter", "Reports"))
    assert reverse("admin:reports_promotions") in client.get(reverse("admin:index")).content.decode()
