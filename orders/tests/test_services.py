"""Order services: placement, payment, shipment, cancellation, expiry, refunds."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from catalog.exceptions import OutOfStock
from catalog.models import Location, StockLevel, Variant
from catalog.tests import factories as f
from notifications.models import OutboundEmail
from orders.exceptions import IllegalTransition, OrderError
from orders.models import Order, OrderEvent
from orders.services import (
    PaymentOutcome,
    PlacementLine,
    ShipmentRequest,
    ShippingChoice,
    cancel_order,
    confirm_payment,
    create_shipment,
    expire_unpaid_orders,
    place_order,
    record_refund,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))


@pytest.fixture
def jacket():
    """A $80 variant with 3 units in the warehouse and 2 in a shop."""
    variant = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    size = f.OptionValueFactory(option=f.OptionFactory(slug="size", name="Size"), slug="m", value="M")
    variant.option_values.add(size)
    warehouse = f.LocationFactory(code="warehouse", position=0)
    shop = f.LocationFactory(code="shop", kind=Location.Kind.SHOP, pickup_allowed=True, position=1)
    f.StockLevelFactory(variant=variant, location=warehouse, on_hand=3)
    f.StockLevelFactory(variant=variant, location=shop, on_hand=2)
    return variant


def _place(variant: Variant, quantity: int, *, key: str = "checkout-1", **kwargs) -> Order:
    return place_order(lines=[PlacementLine(variant.pk, quantity)], email="ada@example.com", idempotency_key=key,
                       shipping=kwargs.pop("shipping", DELIVERY), **kwargs)


def _reserved(variant: Variant) -> int:
    return sum(StockLevel.objects.filter(variant=variant).values_list("reserved", flat=True))


def _on_hand(variant: Variant) -> int:
    return sum(StockLevel.objects.filter(variant=variant).values_list("on_hand", flat=True))


def test_placing_an_order_prices_it_from_the_catalog_and_reserves_stock(jacket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        order = _place(jacket, 4)

    line = order.lines.get()
    assert (order.payment_status, order.fulfilment_status, order.currency) == (P.UNPAID, FS.UNFULFILLED, "USD")
    assert (line.product_title, line.sku, line.options, line.unit_price) == ("Storm Jacket", "JKT-M", "Size: M",
                                                                           Decimal("80.00"))
    assert (order.subtotal, order.shipping_total, order.total) == (Decimal("320.00"), Decimal("4.95"),
                                                                   Decimal("324.95"))
    assert _reserved(jacket) == 4
    assert sorted(line.allocations.values_list("quantity", flat=True)) == [1, 3]  # warehouse first, then the shop
    assert order.reservation_expires_at > timezone.now() + timedelta(minutes=29)
    assert order.events.get().actor == OrderEvent.Actor.CUSTOMER
    assert len(callbacks) >= 1  # the confirmation email, after commit


def test_an_order_never_changes_when_the_catalog_does(jacket):
    order = _place(jacket, 1)

    Variant.objects.filter(pk=jacket.pk).update(price=Decimal("99.00"), sku="RENAMED")

    line = order.lines.get()
    assert (line.unit_price, line.sku) == (Decimal("80.00"), "JKT-M")


def test_the_same_checkout_submitted_twice_makes_one_order(jacket):
    first = _place(jacket, 2, key="same-form")
    second = _place(jacket, 2, key="same-form")

    assert first.pk == second.pk
    assert Order.objects.count() == 1
    assert _reserved(jacket) == 2


def test_a_replayed_key_stops_at_the_order_insert_without_touching_stock(jacket, django_assert_max_num_queries):
    first = _place(jacket, 2, key="same-form")
    before = list(StockLevel.objects.order_by("pk").values_list("reserved", "updated_at"))

    # Variants, customer, the refused insert, the look-up, and the savepoint statements.
    with django_assert_max_num_queries(9) as queries:
        second = _place(jacket, 3, key="same-form")

    assert second.pk == first.pk and second.lines.get().quantity == 2
    assert list(StockLevel.objects.order_by("pk").values_list("reserved", "updated_at")) == before
    assert not any("stocklevel" in query["sql"] for query in queries.captured_queries)


def test_a_replay_after_the_item_went_off_sale_still_returns_the_order_it_made(jacket):
    first = _place(jacket, 2, key="same-form")
    Variant.objects.filter(pk=jacket.pk).update(is_active=False)

    assert _place(jacket, 2, key="same-form").pk == first.pk
    with pytest.raises(Variant.DoesNotExist):
        _place(jacket, 2, key="another-form")
    assert _reserved(jacket) == 2


def test_the_confirmation_email_and_on_placed_commit_with_the_order_or_not_at_all(jacket):
    from notifications.models import OutboundEmail

    def fails(order):
        assert OutboundEmail.objects.filter(key=f"order:{order.pk}:confirmation").exists()
        raise RuntimeError("the payment could not be opened")

    with pytest.raises(RuntimeError):
        _place(jacket, 1, key="rolled-back", on_placed=fails)
    assert (Order.objects.count(), OutboundEmail.objects.count(), _reserved(jacket)) == (0, 0, 0)

    seen = []
    order = _place(jacket, 1, key="kept", on_placed=seen.append)
    assert seen == [order]
    assert OutboundEmail.objects.get().key == f"order:{order.pk}:confirmation"
    _place(jacket, 1, key="kept", on_placed=seen.append)
    assert seen == [order]  # not called for the replay


def test_variants_the_caller_read_are_priced_without_reading_them_again(jacket):
    from django.db.models import Prefetch

    from catalog.models import OptionValue

    variant = Variant.objects.select_related("product").prefetch_related(
        Prefetch("option_values", queryset=OptionValue.objects.select_related("option"))
    ).get(pk=jacket.pk)
    variant.price = Decimal("70.00")  # what the caller read is what is charged

    order = _place(jacket, 1, variants={variant.pk: variant})

    line = order.lines.get()
    assert (line.unit_price, line.options, order.subtotal) == (Decimal("70.00"), "Size: M", Decimal("70.00"))
    variant.is_active = False
    with pytest.raises(Variant.DoesNotExist):
        _place(jacket, 1, key="inactive", variants={variant.pk: variant})
    with pytest.raises(Variant.DoesNotExist):
        _place(jacket, 1, key="missing", variants={})


def test_not_enough_stock_writes_nothing(jacket):
    with pytest.raises(OutOfStock) as short:
        _place(jacket, 6)

    assert Order.objects.count() == 0
    assert _reserved(jacket) == 0
    assert short.value.by_variant[jacket.pk].available == 5


def test_click_and_collect_reserves_only_at_the_chosen_shop(jacket):
    shop = Location.objects.get(code="shop")
    pickup = ShippingChoice(name="Collect", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk])

    order = _place(jacket, 2, shipping=pickup)

    assert order.pickup_location == shop
    assert StockLevel.objects.get(variant=jacket, location=shop).reserved == 2
    with pytest.raises(OutOfStock):
        _place(jacket, 1, key="another", shipping=pickup)


def test_a_draft_product_cannot_be_ordered(jacket):
    jacket.product.status = "draft"
    jacket.product.save()

    with pytest.raises(Variant.DoesNotExist):
        _place(jacket, 1)
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("included", "unit_tax", "line_total"),
    [(True, Decimal("13.33"), Decimal("160.00")), (False, Decimal("16.00"), Decimal("192.00"))],
)
def test_tax_is_stored_per_line(jacket, settings, included, unit_tax, line_total):
    settings.STORE_PRICES_INCLUDE_TAX = included

    order = _place(jacket, 2, tax_rate_for=lambda variant: Decimal("20"))

    line = order.lines.get()
    assert (line.tax_rate, line.unit_tax, line.line_total) == (Decimal("20"), unit_tax, line_total)
    assert order.tax_total == unit_tax * 2


def test_a_payment_marks_the_order_paid_once(jacket):
    order = _place(jacket, 1)

    first = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK, reference="pi_1")
    again = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK, reference="pi_1")

    order.refresh_from_db()
    assert (first, again) == (PaymentOutcome.PAID, PaymentOutcome.ALREADY_PAID)
    assert order.payment_status == P.PAID and order.paid_at is not None
    assert order.events.filter(to_status=P.PAID).count() == 1


def test_a_payment_of_the_wrong_amount_is_not_marked_paid(jacket):
    order = _place(jacket, 1)

    outcome = confirm_payment(order_id=order.pk, amount=Decimal("1.00"), actor=OrderEvent.Actor.WEBHOOK)

    order.refresh_from_db()
    assert outcome == PaymentOutcome.AMOUNT_MISMATCH
    assert order.is_awaiting_payment
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).exists()


def test_an_alert_is_emailed_to_staff_once_after_commit(jacket, settings, django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    order = _place(jacket, 1)

    with django_capture_on_commit_callbacks(execute=True):
        confirm_payment(order_id=order.pk, amount=Decimal("1.00"), actor=OrderEvent.Actor.WEBHOOK, reference="pi_1")

    alert = order.events.get(kind=OrderEvent.Kind.ALERT)
    [email] = [message for message in mail.outbox if message.to == ["money@shop.example"]]
    assert "Payment does not match the order total" in email.subject and order.number in email.subject
    assert alert.message in email.body
    assert OutboundEmail.objects.get(kind="staff_alert").key == f"staff_alert:order_event:{alert.pk}"


def test_unpaid_orders_expire_and_give_their_stock_back(jacket):
    late = _place(jacket, 2, key="late")
    fresh = _place(jacket, 1, key="fresh")
    Order.objects.filter(pk=late.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))

    assert expire_unpaid_orders() == 1
    assert expire_unpaid_orders() == 0  # running again changes nothing

    late.refresh_from_db()
    fresh.refresh_from_db()
    assert (late.fulfilment_status, fresh.fulfilment_status) == (FS.EXPIRED, FS.UNFULFILLED)
    assert _reserved(jacket) == 1
    assert late.events.filter(to_status=FS.EXPIRED, actor=OrderEvent.Actor.TASK).exists()


def test_a_late_payment_is_honoured_when_stock_allows(jacket):
    order = _place(jacket, 2)
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    expire_unpaid_orders()

    outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)

    order.refresh_from_db()
    assert outcome == PaymentOutcome.PAID
    assert order.payment_status == P.PAID
    assert _reserved(jacket) == 2


def test_a_late_payment_without_stock_emails_staff(jacket, settings, django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["money@shop.example"]
    order = _place(jacket, 2)
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    expire_unpaid_orders()
    _place(jacket, 5, key="someone-else")

    with django_capture_on_commit_callbacks(execute=True):
        confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.STAFF, reference="manual")

    [email] = [message for message in mail.outbox if message.to == ["money@shop.example"]]
    assert email.subject.endswith(f"Late payment, stock gone (order {order.number})")
    assert "Late payment manual: the stock is gone" in email.body


def test_a_late_payment_without_stock_must_be_refunded_and_staff_are_alerted(jacket):
    order = _place(jacket, 2)
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    expire_unpaid_orders()
    _place(jacket, 5, key="someone-else")  # buys everything meanwhile

    outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)

    order.refresh_from_db()
    assert outcome == PaymentOutcome.NEEDS_REFUND
    assert order.fulfilment_status == FS.EXPIRED
    assert order.events.filter(kind=OrderEvent.Kind.ALERT).exists()
    assert _reserved(jacket) == 5


def test_cancelling_releases_the_reservation(jacket):
    order = _place(jacket, 3)

    cancel_order(order_id=order.pk, actor=OrderEvent.Actor.CUSTOMER, reason="Changed my mind")

    order.refresh_from_db()
    assert order.fulfilment_status == FS.CANCELLED
    assert (_reserved(jacket), _on_hand(jacket)) == (0, 5)
    with pytest.raises(IllegalTransition):
        cancel_order(order_id=order.pk, actor=OrderEvent.Actor.STAFF)


def test_a_paid_order_cannot_be_cancelled_only_refunded(jacket):
    order = _place(jacket, 1)
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)

    with pytest.raises(IllegalTransition):
        cancel_order(order_id=order.pk, actor=OrderEvent.Actor.STAFF)
    assert _reserved(jacket) == 1


def test_shipping_in_two_parcels_converts_the_reservation(jacket):
    staff = get_user_model().objects.create_user(username="sam", is_staff=True)
    order = _place(jacket, 4)
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)
    line = order.lines.get()

    first = create_shipment(order_id=order.pk, request=ShipmentRequest({line.pk: 3}, carrier="DHL",
                                                                        tracking_number="JD0001"), user=staff)
    order.refresh_from_db()
    assert order.fulfilment_status == FS.PARTIALLY_FULFILLED
    assert (_on_hand(jacket), _reserved(jacket)) == (2, 1)

    create_shipment(order_id=order.pk, request=ShipmentRequest({line.pk: 1}, carrier="DHL", tracking_number="JD2"),
                    user=staff)
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.fulfilment_status == FS.FULFILLED
    assert (_on_hand(jacket), _reserved(jacket), line.quantity_fulfilled) == (1, 0, 4)
    assert first.created_by == staff
    assert order.events.filter(kind=OrderEvent.Kind.SHIPMENT).count() == 2


@pytest.mark.parametrize("quantity", [0, 5, -1])
def test_shipping_more_than_is_left_or_nothing_is_refused(jacket, quantity):
    order = _place(jacket, 4)
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)
    line = order.lines.get()

    with pytest.raises(OrderError):
        create_shipment(order_id=order.pk, request=ShipmentRequest({line.pk: quantity}))

    assert (_on_hand(jacket), _reserved(jacket)) == (5, 4)
    assert not order.shipments.exists()


def test_an_unpaid_order_does_not_ship(jacket):
    order = _place(jacket, 1)

    with pytest.raises(OrderError):
        create_shipment(order_id=order.pk, request=ShipmentRequest({order.lines.get().pk: 1}))


def test_partial_then_full_refund(jacket):
    order = _place(jacket, 1)
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK)

    record_refund(order_id=order.pk, amount=Decimal("10.00"), refunded_so_far=Decimal("10.00"),
                  actor=OrderEvent.Actor.STAFF)
    order.refresh_from_db()
    assert order.payment_status == P.PARTIALLY_REFUNDED

    record_refund(order_id=order.pk, amount=order.total - 10, refunded_so_far=order.total,
                  actor=OrderEvent.Actor.WEBHOOK)
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED


def test_staff_are_alerted_once_when_an_order_takes_stock_below_the_threshold(jacket, settings):
    from notifications.models import OutboundEmail

    settings.STORE_LOW_STOCK_THRESHOLD = 3

    _place(jacket, 1, key="five-to-four")  # 5 -> 4 available: still above
    assert not OutboundEmail.objects.filter(kind="low_stock").exists()

    _place(jacket, 1, key="four-to-three")  # 4 -> 3: crosses
    _place(jacket, 1, key="three-to-two")  # already low: no second alert

    alerts = OutboundEmail.objects.filter(kind="low_stock")
    assert alerts.count() == 1
    assert sorted(alerts.get().params["stock_level_ids"]) == sorted(jacket.stock_levels.values_list("pk", flat=True))


def test_a_pickup_that_crosses_the_threshold_alerts_too(jacket, settings):
    # A pick-up locks only its shop's rows, so what is left everywhere is counted with a query.
    from notifications.models import OutboundEmail

    settings.STORE_LOW_STOCK_THRESHOLD = 3
    shop = Location.objects.get(code="shop")
    pickup = ShippingChoice(name="Collect", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk])

    _place(jacket, 1, key="five-to-four", shipping=pickup)
    assert not OutboundEmail.objects.filter(kind="low_stock").exists()
    _place(jacket, 1, key="four-to-three", shipping=pickup)
    assert OutboundEmail.objects.filter(kind="low_stock").count() == 1
