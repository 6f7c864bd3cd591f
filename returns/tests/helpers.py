"""Orders to return: paid with the demo card (a real succeeded Payment to refund) and shipped."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.db import transaction

from catalog.models import Location
from catalog.tests import factories as f
from orders.models import Order
from orders.services import PlacementLine, ShipmentRequest, ShippingChoice, create_shipment, place_order
from payments.models import Payment, Provider
from payments.providers.demo import CARD_SUCCEEDS
from payments.services import pay_with_demo_card

@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction rolled back at its end that stands for a test case's own (one Hypothesis
    example, a module's seeded store): marked as the test case's, as Django marks its own, so a
    service that must run outside any transaction (`payments.services.send_refund`) sees none, as
    it would in production."""
    block = transaction.atomic()
    block._from_testcase = True
    with block:
        yield
        transaction.set_rollback(True)


DELIVERY = ShippingChoice(name="Standard", price=Decimal("5.00"))
ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "postal_code": "10115", "city": "Berlin",
           "country": "DE"}


def store():
    """A shirt in sizes S, M and L ($40, 20 units each in the warehouse), a warehouse and a shop
    (Harbour Shop) that hold stock, and a gift wrap ($5) in a category of its own."""
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse", kind=Location.Kind.WAREHOUSE, position=0)
    shop = f.LocationFactory(code="harbour", name="Harbour Shop", kind=Location.Kind.SHOP, pickup_allowed=True,
                             position=1)
    shirt = f.ProductFactory(title="Linen Shirt")
    sizes = {}
    for size in ("S", "M", "L"):
        variant = f.VariantFactory(product=shirt, sku=f"SHIRT-{size}", price=Decimal("40.00"))
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=20)
        sizes[size] = variant
    wrap = f.VariantFactory(sku="WRAP", price=Decimal("5.00"), product__title="Gift wrap")
    f.StockLevelFactory(variant=wrap, location=warehouse, on_hand=20)
    return warehouse, shop, sizes, wrap


def paid_and_shipped(*lines, email: str = "ada@example.com", user=None) -> Order:
    """An order of `(variant, quantity)` lines, paid with the demo card and shipped in full."""
    order = place_order(lines=[PlacementLine(v.pk, q) for v, q in lines], email=email, customer_name="Ada Lovelace",
                        idempotency_key=uuid.uuid4().hex, shipping=DELIVERY, shipping_address=ADDRESS, user=user)
    payment = Payment.objects.create(order=order, provider=Provider.DEMO, amount=order.total, currency=order.currency)
    pay_with_demo_card(payment_id=payment.pk, card_number=CARD_SUCCEEDS)
    create_shipment(order_id=order.pk, request=ShipmentRequest(
        quantities={line.pk: line.quantity for line in order.lines.all()}))
    order.refresh_from_db()
    return order
