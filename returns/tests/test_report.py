"""Reports › Returns: units asked back per product and reason, over units sold, refused ones out."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from returns.models import Reason
from returns.services import refuse_return, request_return

from .helpers import paid_and_shipped, store

pytestmark = pytest.mark.django_db


def ask(order, sku, quantity, reason):
    return request_return(order=order, quantities={order.lines.get(sku=sku).pk: quantity}, reason=reason)


def test_returns_per_product_and_reason_with_the_rate(admin_app, django_assert_max_num_queries):
    _w, _h, sizes, wrap = store()
    first = paid_and_shipped((sizes["M"], 4), (wrap, 2))
    second = paid_and_shipped((sizes["L"], 6), email="bob@example.com")
    ask(first, "SHIRT-M", 1, Reason.WRONG_SIZE)
    ask(second, "SHIRT-L", 2, Reason.DAMAGED)
    refused = ask(first, "WRAP", 2, Reason.CHANGED_MIND)
    refuse_return(request_id=refused.pk, user=get_user_model().objects.get(), message="Opened.")

    page = admin_app.get(reverse("admin:reports_returns"))
    shirt = page.html.select_one(f'#returns-by-product [data-product="{sizes["M"].product_id}"]')
    figures = {td["data-figure"]: td["data-value"] for td in shirt.select("td[data-figure]")}
    # 10 shirts sold (sizes together: one product), 3 asked back: 30%.
    assert figures == {"sold": "10", "returned": "3", "rate": "30.0"}
    wrap_row = page.html.select_one(f'#returns-by-product [data-product="{wrap.product_id}"]')
    assert wrap_row.select_one('[data-figure="returned"]')["data-value"] == "0"  # refused: not counted
    by_reason = {tr["data-reason"]: tr.select_one('[data-figure="units"]')["data-value"]
                 for tr in page.html.select("#returns-by-reason tbody tr")}
    assert (by_reason["wrong_size"], by_reason["damaged"], by_reason["changed_mind"]) == ("1", "2", "0")
    damaged = page.html.select_one('#returns-by-reason [data-reason="damaged"] [data-figure="rate"]')
    assert Decimal(damaged["data-value"]) == Decimal("16.7")  # 2 of 12 units sold
    assert page.html.select_one("#report-nav") is not None

    from returns.report import returns_report
    from analytics.services import store_today

    with django_assert_max_num_queries(2):
        returns_report(first=store_today(), last=store_today())


def test_the_report_needs_the_reports_permission(client):
    clerk = get_user_model().objects.create_user("clerk", "clerk@example.com", None, is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:reports_returns")).status_code == 403
