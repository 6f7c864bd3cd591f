"""Hypothesis: any sequence of returns asked, refused, received (part restocked, part written
off) and refunded keeps the goods, the stock, the ledger and the money true to each other."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import StockLevel
from catalog.tests import factories as f
from inventory.selectors import ledger_discrepancies
from payments.models import Refund
from returns import services
from returns.exceptions import ReturnError
from returns.models import Reason, ReturnLine, ReturnRequest

from .helpers import paid_and_shipped, rolled_back, store

pytestmark = pytest.mark.django_db
S = ReturnRequest.Status

# One return: units of each of the two lines (0 = not in it), then what staff do with it.
RETURNS = st.tuples(st.integers(0, 3), st.integers(0, 3),
                    st.sampled_from(["refuse", "leave", "approve", "receive", "refund"]),
                    st.integers(0, 3))


@pytest.fixture
def goods():
    warehouse, _harbour, sizes, _wrap = store()
    odd = f.VariantFactory(sku="ODD", price=Decimal("33.33"), product__title="Odd cents")  # 3 × 33.33 = 99.99
    f.StockLevelFactory(variant=odd, location=warehouse, on_hand=10)
    sizes["M"].price = Decimal("19.99")
    sizes["M"].save(update_fields=["price"])
    return warehouse, sizes["M"], odd


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(returns=st.lists(RETURNS, min_size=1, max_size=4))
def test_any_sequence_of_returns_keeps_goods_stock_ledger_and_money_true(goods, returns):
    warehouse, shirt, odd = goods
    with rolled_back():
        staff = get_user_model().objects.create_user(username="pat", is_staff=True)
        order = paid_and_shipped((shirt, 3), (odd, 3))
        lines = list(order.lines.order_by("pk"))
        start = {v.pk: StockLevel.objects.get(variant=v, location=warehouse).on_hand for v in (shirt, odd)}
        for first, second, outcome, restock in returns:
            wanted = {lines[0].pk: first, lines[1].pk: second}
            try:
                with transaction.atomic():
                    request = services.request_return(order=order, quantities=wanted, reason=Reason.OTHER)
            except ReturnError:
                continue  # more than is left, or nothing: refused, and the checks below still hold
            if outcome == "refuse":
                services.refuse_return(request_id=request.pk, user=staff, message="No.")
                continue
            if outcome == "leave":
                continue
            services.approve_return(request_id=request.pk, user=staff)
            if outcome == "approve":
                continue
            receipt = services.Receipt(restock={line.pk: min(restock, line.quantity) for line in request.lines.all()},
                                       write_off_reason="Damaged")
            services.receive_return(request_id=request.pk, location_id=warehouse.pk, receipt=receipt, user=staff)
            if outcome == "refund":
                services.refund_return(request_id=request.pk, user=staff)

        received = ReturnLine.objects.filter(request__status__in=[S.RECEIVED, S.REFUNDED, S.EXCHANGED])
        asked = ReturnLine.objects.exclude(request__status=S.REFUSED)
        for line in order.lines.order_by("pk"):
            units = received.filter(order_line=line).aggregate(n=Sum("quantity"))["n"] or 0
            # The order counts exactly the received units returned; never more asked than shipped.
            assert line.quantity_returned == units
            assert (asked.filter(order_line=line).aggregate(n=Sum("quantity"))["n"] or 0) <= line.quantity_fulfilled
            back = received.filter(order_line=line).aggregate(n=Sum("restocked"))["n"] or 0
            level = StockLevel.objects.get(variant_id=line.variant_id, location=warehouse)
            assert level.on_hand == start[line.variant_id] + back  # `start`: after the order shipped
        # Money: what was refunded is what the refunded returns were worth, and never more than
        # the lines cost; all units of both lines back is exactly both lines' totals, to the cent.
        worth = ReturnRequest.objects.filter(status__in=[S.RECEIVED, S.REFUNDED]).aggregate(t=Sum("refund_due"))["t"]
        refunded = Refund.objects.filter(payment__order=order).aggregate(t=Sum("amount"))["t"] or Decimal("0")
        due_refunded = ReturnRequest.objects.filter(status=S.REFUNDED).aggregate(t=Sum("refund_due"))["t"]
        assert refunded == (due_refunded or Decimal("0"))
        assert (worth or Decimal("0")) <= sum(line.line_total for line in lines)
        if all(line.quantity_returned == line.quantity for line in order.lines.all()):
            assert worth == sum(line.line_total for line in lines)
        assert ledger_discrepancies() == []
