"""A shop with a register and a counter channel, a warehouse, and stock at both."""
from decimal import Decimal

import pytest

from catalog.models import Location
from catalog.tests import factories as f
from customers.tests.factories import UserFactory
from pos.models import Register
from saleschannels.models import Channel


@pytest.fixture
def counter(db):
    """shop, warehouse, register, channel, staff (with `pos.sell`), an open session, two variants:
    `shirt` (3 in the shop, 5 in the warehouse, barcode 4006381333931), `mug` (warehouse only)."""
    from django.contrib.auth.models import Permission

    from pos import services

    shop = f.LocationFactory(code="shop-soho", name="Soho", kind=Location.Kind.SHOP)
    warehouse = f.LocationFactory(code="warehouse", kind=Location.Kind.WAREHOUSE)
    channel, _ = Channel.objects.get_or_create(code="pos-shop-soho", defaults={
        "name": "Soho counter", "kind": Channel.Kind.POS, "location": shop})
    register = Register.objects.create(name="Till 1", location=shop)
    staff = UserFactory(username="clerk", email="clerk@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="sell", content_type__app_label="pos"))
    shirt = f.VariantFactory(sku="SHIRT-M", price=Decimal("19.99"), barcode="4006381333931",
                             product=f.ProductFactory(title="Linen shirt"))
    mug = f.VariantFactory(sku="MUG", price=Decimal("8.00"), product=f.ProductFactory(title="Enamel mug"))
    f.StockLevelFactory(variant=shirt, location=shop, on_hand=3)
    f.StockLevelFactory(variant=shirt, location=warehouse, on_hand=5)
    f.StockLevelFactory(variant=mug, location=warehouse, on_hand=4)
    session = services.open_register(register=register, user=staff, opening_float="100.00")

    class Counter:
        pass

    c = Counter()
    c.shop, c.warehouse, c.channel, c.register, c.staff = shop, warehouse, channel, register, staff
    c.shirt, c.mug, c.session = shirt, mug, session
    return c
