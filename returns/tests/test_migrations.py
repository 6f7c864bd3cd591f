"""Migrations 0004 and 0005: the copies (a return's first refund, an exchange line's shipping time)
go, and every fact only a copy held is moved to the record that stays first (and back); on
PostgreSQL too, whose deferred foreign-key checks forbid the data moves and the column drops in
one transaction."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from catalog.models import StockLevel
from payments.models import Refund
from payments.services import open_refund

from .helpers import paid_and_shipped, store

BEFORE = [("returns", "0003_refunds_and_exchange_shipments")]
AFTER = [("returns", "0005_derived_copies_removed")]


@pytest.mark.django_db(transaction=True)
def test_the_copies_go_and_what_only_they_knew_is_kept():
    warehouse, _shop, sizes, _wrap = store()
    order = paid_and_shipped((sizes["M"], 2))
    with transaction.atomic():
        payment = order.payments.select_for_update().get()
        old, new = (open_refund(payment=payment, amount=Decimal("10.00"), user=None, reason=r) for r in "ab")
    Refund.objects.update(status=Refund.Status.SUCCEEDED)
    level = StockLevel.objects.get(variant=sizes["L"], location=warehouse)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        apps = executor.loader.project_state(BEFORE).apps
        ReturnRequest, ReturnLine, ExchangeLine, ExchangeShipment = (
            apps.get_model("returns", name) for name in ("ReturnRequest", "ReturnLine", "ExchangeLine",
                                                          "ExchangeShipment"))
        # Refunded before 0003: only the copy names its refund. Refunded after: both agree.
        before_0003 = ReturnRequest.objects.create(order_id=order.pk, reason="other", status="refunded",
                                                   refund_id=old.pk)
        after_0003 = ReturnRequest.objects.create(order_id=order.pk, reason="other", status="refunded",
                                                  refund_id=new.pk)
        after_0003.refunds.add(new.pk)
        # An exchange sent before 0003 (only `shipped_at` says so) and one sent after (its shipment).
        sent_before, sent_after = (ReturnRequest.objects.create(order_id=order.pk, reason="wrong_size",
                                                                status="exchanged") for _ in range(2))
        line = order.lines.get()
        left = timezone.now() - timedelta(days=40)
        for request, shipped_at in ((sent_before, left), (sent_after, timezone.now())):
            return_line = ReturnLine.objects.create(request=request, order_line_id=line.pk, quantity=1)
            shipment = (ExchangeShipment.objects.create(request=request, carrier="DHL", tracking_number="JD1")
                        if request == sent_after else None)
            for _ in range(2):
                ExchangeLine.objects.create(request=request, return_line=return_line, variant_id=sizes["L"].pk,
                                            stock_level_id=level.pk, quantity=1, shipped_at=shipped_at,
                                            shipment=shipment)
        unsent = ReturnRequest.objects.create(order_id=order.pk, reason="wrong_size", status="exchanged")
        ExchangeLine.objects.create(request=unsent, variant_id=sizes["L"].pk, stock_level_id=level.pk, quantity=1,
                                    return_line=ReturnLine.objects.create(request=unsent, order_line_id=line.pk,
                                                                          quantity=1))

        # when
        executor.loader.build_graph()
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        ReturnRequest, ExchangeLine, ExchangeShipment = (
            apps.get_model("returns", name) for name in ("ReturnRequest", "ExchangeLine", "ExchangeShipment"))

        # then: every return's refunds hold its refund; every line that left has its shipment
        assert list(ReturnRequest.objects.get(pk=before_0003.pk).refunds.values_list("pk", flat=True)) == [old.pk]
        assert list(ReturnRequest.objects.get(pk=after_0003.pk).refunds.values_list("pk", flat=True)) == [new.pk]
        legacy = ExchangeShipment.objects.get(request_id=sent_before.pk)
        assert (legacy.carrier, legacy.tracking_number, legacy.created_at) == ("Not recorded", "Not recorded", left)
        assert set(ExchangeLine.objects.filter(request_id=sent_before.pk).values_list("shipment_id", flat=True)) == {
            legacy.pk}
        assert ExchangeShipment.objects.get(request_id=sent_after.pk).carrier == "DHL"  # left as it was
        assert ExchangeShipment.objects.filter(request_id=sent_after.pk).count() == 1
        assert ExchangeLine.objects.get(request_id=unsent.pk).shipment_id is None  # still to send

        # and back: the copies filled again from the records
        executor.loader.build_graph()
        executor.migrate(BEFORE)
        apps = executor.loader.project_state(BEFORE).apps
        ReturnRequest, ExchangeLine = (apps.get_model("returns", name) for name in ("ReturnRequest", "ExchangeLine"))
        assert ReturnRequest.objects.get(pk=before_0003.pk).refund_id == old.pk
        assert {line.shipped_at for line in ExchangeLine.objects.filter(request_id=sent_before.pk)} == {left}
        assert ExchangeLine.objects.get(request_id=unsent.pk).shipped_at is None
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
