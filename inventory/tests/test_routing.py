"""Fulfilment routing: staff's rule decides where an online order is reserved; the order page says why."""
from decimal import Decimal

import pytest

from catalog.exceptions import OutOfStock
from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from inventory import services
from inventory.models import RoutingPolicy
from inventory.routing import current_split
from orders.models import Allocation, OrderEvent
from orders.services import PlacementLine, ShippingChoice, place_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))


@pytest.fixture
def spread():
    """Jackets: warehouse 1, shop 3; tees: warehouse 5, shop 2. A second shop holds 9 jackets only."""
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse", position=5)
    shop = f.LocationFactory(code="shop", name="Harbour shop", kind=Location.Kind.SHOP, position=0)
    far = f.LocationFactory(code="far", name="Pine shop", kind=Location.Kind.SHOP, position=1)
    jacket = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"))
    tee = f.VariantFactory(sku="TEE-S", price=Decimal("20.00"))
    for variant, location, units in ((jacket, warehouse, 1), (jacket, shop, 3), (tee, warehouse, 5), (tee, shop, 2),
                                     (jacket, far, 9)):
        f.StockLevelFactory(variant=variant, location=location, on_hand=units)
    return warehouse, shop, far, jacket, tee


def _place(*lines, key="k1", shipping=DELIVERY):
    return place_order(lines=[PlacementLine(variant.pk, units) for variant, units in lines],
                       email="ada@example.com", idempotency_key=key, shipping=shipping)


def _where(order):
    return sorted(Allocation.objects.filter(line__order=order).values_list(
        "line__sku", "stock_level__location__code", "quantity"))


def test_the_first_location_holding_everything_ships_it_whole_warehouses_first(spread):
    _warehouse, _shop, _far, jacket, tee = spread
    assert _where(_place((jacket, 1), (tee, 2))) == [("JKT-M", "warehouse", 1), ("TEE-S", "warehouse", 2)]
    # the warehouse lacks a second jacket: the first shop by position holding both items takes it all
    order = _place((jacket, 2), (tee, 1), key="k2")
    assert _where(order) == [("JKT-M", "shop", 2), ("TEE-S", "shop", 1)]
    routing = order.events.get(kind=OrderEvent.Kind.STATUS, to_status="placed").data["routing"]
    assert routing == {"split": "", "whole_at": spread[1].pk, "locations": [spread[1].pk]}  # the rule not needed


def test_when_nothing_holds_everything_the_order_is_split_or_refused_by_the_rule(spread,
                                                                               django_capture_on_commit_callbacks):
    _warehouse, _shop, _far, jacket, tee = spread
    # 5 jackets and 3 tees: no location holds both; split in order, warehouses first, then shops by position
    order = _place((jacket, 5), (tee, 3))
    assert _where(order) == [("JKT-M", "far", 1), ("JKT-M", "shop", 3), ("JKT-M", "warehouse", 1),
                             ("TEE-S", "warehouse", 3)]
    routing = order.events.get(kind=OrderEvent.Kind.STATUS, to_status="placed").data["routing"]
    assert (routing["split"], routing["whole_at"]) == ("when_needed", None)

    with django_capture_on_commit_callbacks(execute=True):
        services.set_routing_policy(split=RoutingPolicy.Split.NEVER)
    with pytest.raises(OutOfStock) as refused:
        _place((jacket, 5), (tee, 3), key="k2")
    # the best single place (Pine shop: 5 jackets of 9) lacks the tees
    assert [(s.sku, s.requested, s.available) for s in refused.value.shortages] == [("TEE-S", 3, 0)]


def test_a_pickup_order_reserves_at_its_shop_whatever_the_rule(spread):
    _warehouse, shop, _far, jacket, _tee = spread
    pickup = ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk])
    assert _where(_place((jacket, 1), shipping=pickup)) == [("JKT-M", "shop", 1)]


def test_the_rule_is_cached_and_forgotten_when_staff_change_it(spread, django_capture_on_commit_callbacks,
                                                               django_assert_num_queries):
    assert current_split() == "when_needed"
    with django_assert_num_queries(0):
        current_split()
    with django_capture_on_commit_callbacks(execute=True):
        services.set_routing_policy(split="never")
    assert current_split() == "never"


def test_the_order_page_says_where_and_why_and_staff_move_an_allocation(admin_app, spread):
    warehouse, shop, far, jacket, tee = spread
    order = _place((jacket, 2), (tee, 1))
    page = admin_app.get(f"/admin/orders/order/{order.pk}/change/")
    why = page.html.select_one(".routing-why").text
    assert "Everything reserved at Harbour shop" in why and "holding every item" in why

    jacket_row = Allocation.objects.get(line__order=order, line__sku="JKT-M")
    move = page.click(href=f"/admin/inventory/routingpolicy/move/{jacket_row.pk}/")
    form = move.forms["move_allocation_form"]
    labels = [text for _value, _selected, text in form["location"].options]
    assert labels == ["---------", "Warehouse (1 available)", "Pine shop (9 available)"]
    form["location"] = str(warehouse.pk)
    refused = form.submit()
    assert "TEE-S" not in refused.text and "JKT-M" in refused.html.select_one(".errornote").text
    assert StockLevel.objects.get(variant=jacket, location=shop).reserved == 2

    form = refused.forms["move_allocation_form"]
    form["location"] = str(far.pk)
    page = form.submit().follow()

    assert "Allocation moved." in page.text
    assert [(level.location.code, level.reserved) for level in
            StockLevel.objects.filter(variant=jacket).select_related("location").order_by("location__code")] == [
        ("far", 2), ("shop", 0), ("warehouse", 0)]
    assert "JKT-M: 2 reserved unit(s) moved from Harbour shop to Pine shop." in page.text
    allocations = [li.text for li in page.html.select("ul.allocations li")]
    assert allocations[0].startswith("2 × JKT-M at Harbour shop (0 shipped, 2 released)")
    assert allocations[-1].startswith("2 × JKT-M at Pine shop")


def test_staff_set_the_rule_from_the_admin(admin_app, spread, django_capture_on_commit_callbacks):
    page = admin_app.get("/admin/inventory/routingpolicy/").follow()
    form = page.forms["routingpolicy_form"]
    form["split"] = "never"
    with django_capture_on_commit_callbacks(execute=True):
        form.submit("_save")
    assert RoutingPolicy.objects.get().split == "never"
    assert current_split() == "never"


def test_the_move_page_stays_within_its_query_budget(admin_client, spread, django_assert_max_num_queries):
    order = _place((spread[3], 1))
    row = Allocation.objects.get(line__order=order)
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"/admin/inventory/routingpolicy/move/{row.pk}/")
    assert response.status_code == 200


# --- Locations that do not ship online orders -----------------------------------------------------


def _open(order):
    """Where the order's units are reserved now (allocations not released)."""
    return sorted(Allocation.objects.filter(line__order=order, quantity_released=0).values_list(
        "line__sku", "stock_level__location__code", "quantity"))


def test_a_shop_that_does_not_ship_online_orders_is_skipped_for_deliveries(spread):
    _warehouse, shop, _far, jacket, tee = spread
    Location.objects.filter(pk=shop.pk).update(ships_online_orders=False)

    # Harbour shop holds both items (it took this order whole before), but it keeps its stock for the
    # counter: nothing else holds both, so the order is split over the locations that ship.
    order = _place((jacket, 2), (tee, 1))

    assert _where(order) == [("JKT-M", "far", 1), ("JKT-M", "warehouse", 1), ("TEE-S", "warehouse", 1)]
    assert StockLevel.objects.get(variant=jacket, location=shop).reserved == 0
    routing = order.events.get(kind=OrderEvent.Kind.STATUS, to_status="placed").data["routing"]
    assert routing["whole_at"] is None and shop.pk not in routing["locations"]
    # 7 tees on hand, but 2 are on a shelf that does not ship and 1 is reserved: 4 can be delivered.
    with pytest.raises(OutOfStock) as short:
        _place((tee, 6), key="k2")
    assert [(s.sku, s.requested, s.available) for s in short.value.shortages] == [("TEE-S", 6, 4)]


def test_never_split_refuses_rather_than_ship_from_a_shop_that_does_not_ship(spread,
                                                                           django_capture_on_commit_callbacks):
    _warehouse, shop, _far, jacket, tee = spread
    Location.objects.filter(pk=shop.pk).update(ships_online_orders=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_routing_policy(split=RoutingPolicy.Split.NEVER)

    with pytest.raises(OutOfStock):
        _place((jacket, 2), (tee, 1))
    assert not StockLevel.objects.filter(reserved__gt=0).exists()


def test_click_and_collect_still_reserves_at_a_shop_that_does_not_ship(spread):
    _warehouse, shop, _far, jacket, tee = spread
    Location.objects.filter(pk=shop.pk).update(ships_online_orders=False)
    pickup = ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk])

    assert _where(_place((jacket, 2), (tee, 1), shipping=pickup)) == [("JKT-M", "shop", 2), ("TEE-S", "shop", 1)]


def test_staff_see_and_set_the_flag_in_the_location_admin(admin_app, spread):
    _warehouse, shop, _far, jacket, _tee = spread
    listing = admin_app.get("/admin/catalog/location/")
    assert "ships online orders" in listing.text.lower()
    assert admin_app.get("/admin/catalog/location/", {"ships_online_orders__exact": "0"}).context["cl"].result_count == 0

    form = admin_app.get(f"/admin/catalog/location/{shop.pk}/change/").forms["location_form"]
    assert form["ships_online_orders"].checked  # every location ships until staff say otherwise
    form["ships_online_orders"] = False
    form.submit("_save").follow()

    shop.refresh_from_db()
    assert shop.ships_online_orders is False
    assert _where(_place((jacket, 1))) == [("JKT-M", "warehouse", 1)]
    assert _where(_place((jacket, 3), key="k2")) == [("JKT-M", "far", 3)]


# --- A late payment reserves again by the same rules --------------------------------------------


def _expire(order):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import Order
    from orders.services import expire_unpaid_orders

    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_unpaid_orders() == 1


def test_a_late_payment_reserves_again_by_the_routing_rules_and_says_so(admin_app, spread):
    from orders.services import PaymentOutcome, confirm_payment

    _warehouse, shop, _far, jacket, tee = spread
    order = _place((jacket, 2), (tee, 1))
    _expire(order)
    assert not StockLevel.objects.filter(reserved__gt=0).exists()

    outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK, reference="pi_1")

    # Not taken greedily (warehouse first, then shops: a jacket here and one there) but whole at the
    # first location holding everything, as checkout routed it.
    assert outcome == PaymentOutcome.PAID
    assert _open(order) == [("JKT-M", "shop", 2), ("TEE-S", "shop", 1)]
    event = order.events.get(kind=OrderEvent.Kind.STATUS, from_status="expired")
    assert event.data["routing"] == {"split": "", "whole_at": shop.pk, "locations": [shop.pk], "again": True}
    why = admin_app.get(f"/admin/orders/order/{order.pk}/change/").html.select_one(".routing-why").text
    assert "Paid after its reservation expired, so reserved again by the same rules." in why
    assert "Everything reserved at Harbour shop" in why


def test_a_late_payment_skips_shops_that_do_not_ship_and_follows_the_split_rule(spread,
                                                                               django_capture_on_commit_callbacks):
    from orders.services import PaymentOutcome, confirm_payment

    _warehouse, shop, _far, jacket, tee = spread
    order = _place((jacket, 2), (tee, 1))
    _expire(order)
    Location.objects.filter(pk=shop.pk).update(ships_online_orders=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_routing_policy(split=RoutingPolicy.Split.NEVER)

    outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK, reference="pi_1")

    # No shipping location holds both and the rule says never split: the money must go back.
    assert outcome == PaymentOutcome.NEEDS_REFUND
    assert not StockLevel.objects.filter(reserved__gt=0).exists()
    assert order.events.filter(kind=OrderEvent.Kind.ALERT, message__contains="the stock is gone").exists()


def test_staff_who_may_not_see_the_rule_are_refused_its_page_and_write_nothing(django_app, django_user_model):
    # The list wrote the default rule before anything checked who asked, then sent them to a 403.
    clerk = django_user_model.objects.create_user("clerk", "clerk@example.com", None, is_staff=True)
    django_app.set_user(clerk)

    response = django_app.get("/admin/inventory/routingpolicy/", expect_errors=True)

    assert response.status_code == 403
    assert not RoutingPolicy.objects.exists()
