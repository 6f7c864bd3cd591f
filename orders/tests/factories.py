from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from orders import models


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = models.Order

    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    customer_name = "Ada Buyer"
    currency = "USD"
    subtotal = Decimal("50.00")
    total = Decimal("50.00")
    idempotency_key = factory.Sequence(lambda n: f"key-{n:08d}")


class OrderLineFactory(DjangoModelFactory):
    class Meta:
        model = models.OrderLine

    order = factory.SubFactory(OrderFactory)
    product_title = "Storm Shell"
    sku = factory.Sequence(lambda n: f"LINE-{n:05d}")
    quantity = 2
    unit_price = Decimal("25.00")
    line_total = Decimal("50.00")
