"""The counter and the web store share one stock, on PostgreSQL with real threads (conftest.run_together)."""
from decimal import Decimal

import pytest
from django.db import transaction

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import StockLevel
from catalog.tests import factories as f
from conftest import run_together
from inventory.ledger import Cause, record_opening_balances
from inventory.models import Reason
from orders.models import Order, OrderEvent
from orders.services import PlacementLine, ShippingChoice, cancel_order, place_order
from pos import services
from pos.models import Sale

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("stock_ledger_checked")]
DELIVERY = ShippingChoice(name="Standard", price=Decimal("0"))


def counter_sale(counter, variant, key, *, ship=False, address=None):
    return services.sell(session_id=counter.session.pk, staff=counter.staff, key=key,
                         lines=[services.SaleLine(variant.pk, 1, ship=ship)],
                         tenders=services.Tenders(cash_tendered=Decimal("100.00")),
                         email="walkin@example.com" if ship else "", shipping_address=address)


def test_the_last_unit_sold_at_the_counter_and_online_at_once_sells_once(counter):
    # The shop holds the last unit anywhere: the online order may take it from the shop (routing
    # tries shops after the warehouse), and the counter sells from that same row.
    lamp = f.VariantFactory(sku="LAMP", price=Decimal("30.00"))
    f.StockLevelFactory(variant=lamp, location=counter.shop, on_hand=1)

    for attempt in range(3):  # either may win; every round exactly one does
        results = run_together(lambda i: counter_sale(counter, lamp, f"pos-race-{attempt}") if i == 0 else
                               place_order(lines=[PlacementLine(lamp.pk, 1)], email="web@example.com",
                                           idempotency_key=f"web-race-{attempt}", shipping=DELIVERY), 2)

        won = [r for r in results if isinstance(r, (Sale, Order))]
        lost = [r for r in results if isinstance(r, OutOfStock)]
        assert (len(won), len(lost)) == (1, 1), results
        level = StockLevel.objects.get(variant=lamp, location=counter.shop)
        if isinstance(won[0], Sale):
            assert (level.on_hand, level.reserved) == (0, 0)  # handed over at once
        else:
            assert (level.on_hand, level.reserved) == (1, 1)  # reserved for the online order
        # the unit back on the shelf for the next round: the online order cancelled, or one found
        with transaction.atomic():
            if isinstance(won[0], Order):
                cancel_order(order_id=won[0].pk, actor=OrderEvent.Actor.STAFF)
            else:
                stock.adjust(location_id=counter.shop.pk, deltas={lamp.pk: 1}, cause=Cause(reason=Reason.FOUND))


def test_one_sale_sent_twice_at_once_is_recorded_once(counter):
    results = run_together(lambda i: counter_sale(counter, counter.shirt, "pos-twice"), 4)

    assert all(isinstance(r, Sale) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert StockLevel.objects.get(variant=counter.shirt, location=counter.shop).on_hand == 2
    assert Order.objects.count() == 1


def test_counter_sales_with_shipped_lines_and_online_orders_never_deadlock(counter):
    # The counter locks shop and warehouse rows of two variants in one statement; online orders take
    # the same rows in the other order of variants. Each side, many rounds.
    StockLevel.objects.filter(variant=counter.shirt).update(on_hand=200)
    StockLevel.objects.filter(variant=counter.mug).update(on_hand=200)
    record_opening_balances()  # the update() above bypassed the ledger: open it at the new figures
    address = {"line1": "1 High St", "city": "London", "country": "GB"}
    rounds = 8

    def work(i):
        made = []
        for r in range(rounds):
            if i % 2:
                made.append(services.sell(
                    session_id=counter.session.pk, staff=counter.staff, key=f"pos-{i}-{r}",
                    lines=[services.SaleLine(counter.shirt.pk, 1), services.SaleLine(counter.mug.pk, 1, ship=True)],
                    tenders=services.Tenders(cash_tendered=Decimal("50")), email="x@example.com",
                    shipping_address=address))
            else:
                made.append(place_order(lines=[PlacementLine(counter.mug.pk, 1), PlacementLine(counter.shirt.pk, 1)],
                                        email="web@example.com", idempotency_key=f"web-{i}-{r}", shipping=DELIVERY))
        return made

    results = run_together(work, 4)

    assert all(isinstance(r, list) for r in results), results  # "deadlock detected" otherwise
    assert Order.objects.count() == 4 * rounds
