import re
from decimal import Decimal

import pytest

from catalog.exceptions import OutOfStock
from catalog.models import StockLevel
from customers.tests.factories import CustomerFactory
from inventory.models import Reason, StockMovement
from notifications.models import OutboundEmail
from orders.models import Order
from payments.models import Payment, Provider
from pos import services
from pos.exceptions import RegisterAlreadyOpen, RegisterClosed, SaleError
from pos.models import CashMovement, Sale
from saleschannels.models import PriceList, PriceListEntry

pytestmark = pytest.mark.usefixtures("stock_ledger_checked")
Tenders = services.Tenders
SaleLine = services.SaleLine


def sell(counter, *, key="pos-1", lines=None, tenders=None, **kwargs):
    return services.sell(session_id=counter.session.pk, staff=counter.staff, key=key,
                         lines=lines or [SaleLine(counter.shirt.pk, 2)],
                         tenders=tenders or Tenders(cash_tendered=Decimal("50.00")), **kwargs)


def level(variant, location):
    return StockLevel.objects.get(variant=variant, location=location)


def test_a_cash_sale_takes_the_shops_stock_at_once_and_gives_change(counter):
    sale = sell(counter)

    order = sale.order
    assert (order.channel_id, order.sale_location_id, order.sold_by_id) == (
        counter.channel.pk, counter.shop.pk, counter.staff.pk)
    assert order.total == Decimal("39.98")
    assert (order.payment_status, order.fulfilment_status) == ("paid", "fulfilled")
    assert (sale.cash_tendered, sale.cash_taken, sale.change_given) == (
        Decimal("50.00"), Decimal("39.98"), Decimal("10.02"))
    shop_row = level(counter.shirt, counter.shop)
    assert (shop_row.on_hand, shop_row.reserved) == (1, 0)
    assert level(counter.shirt, counter.warehouse).on_hand == 5  # never the warehouse's
    movement = StockMovement.objects.get(order=order)
    assert (movement.reason, movement.location_id, movement.quantity, movement.actor_id) == (
        Reason.COUNTER_SALE, counter.shop.pk, -2, counter.staff.pk)
    payment = Payment.objects.get(order=order)
    assert (payment.provider, payment.amount, payment.created_by_id) == (Provider.CASH, Decimal("39.98"),
                                                                         counter.staff.pk)
    assert list(CashMovement.objects.filter(session=counter.session).values_list("kind", "amount")) == [
        ("float", Decimal("100.00")), ("sale", Decimal("39.98"))]
    assert order.customer is None  # anonymous: no customer record made from an empty email
    assert not OutboundEmail.objects.filter(order_id=order.pk).exists()  # the receipt is on paper


def test_the_same_key_twice_records_one_sale(counter):
    first = sell(counter)
    again = sell(counter)  # the screen sent it again after a dropped connection

    assert again.pk == first.pk
    assert Order.objects.count() == Sale.objects.count() == 1
    assert level(counter.shirt, counter.shop).on_hand == 1
    assert CashMovement.objects.filter(kind="sale").count() == 1


def test_the_channels_price_list_is_what_the_order_charges(counter):
    prices = PriceList.objects.create(name="Shop prices")
    PriceListEntry.objects.create(price_list=prices, variant=counter.shirt, price=Decimal("15.00"))
    counter.channel.price_list = prices
    counter.channel.save()

    sale = sell(counter, lines=[SaleLine(counter.shirt.pk, 1)], tenders=Tenders(cash_tendered=Decimal("20")))

    line = sale.order.lines.get()
    assert (line.unit_price, sale.order.total, sale.change_given) == (
        Decimal("15.00"), Decimal("15.00"), Decimal("5.00"))


def test_split_across_gift_card_terminal_and_cash(counter):
    from giftcards.services import issue_gift_card

    card, _code = issue_gift_card(amount=Decimal("10.00"), user=counter.staff, reason="test")
    sale = sell(counter, tenders=Tenders(cash_tendered=Decimal("20.00"), card_amount=Decimal("15.00"),
                                         card_reference="TID-0042", gift_card_id=card.pk))

    assert (sale.gift_card_amount, sale.card_amount, sale.cash_taken, sale.change_given) == (
        Decimal("10.00"), Decimal("15.00"), Decimal("14.98"), Decimal("5.02"))
    by_provider = dict(Payment.objects.filter(order=sale.order).values_list("provider", "amount"))
    assert by_provider == {Provider.GIFT_CARD: Decimal("10.00"), Provider.CARD_TERMINAL: Decimal("15.00"),
                           Provider.CASH: Decimal("14.98")}
    assert Payment.objects.get(provider=Provider.CARD_TERMINAL).raw == {"reference": "TID-0042"}
    card.refresh_from_db()
    assert card.balance == Decimal("0.00")
    assert sale.order.payment_status == "paid"


@pytest.mark.parametrize("tenders, message", [
    (Tenders(cash_tendered=Decimal("30.00")), "$39.98 is still to pay"),
    (Tenders(card_amount=Decimal("50.00"), card_reference="X"), "more than the $39.98 left"),
    (Tenders(card_amount=Decimal("39.98")), "terminal's reference"),
    (Tenders(card_amount=Decimal("39.98"), card_reference="R", cash_tendered=Decimal("5")), "Nothing is left"),
])
def test_tenders_that_do_not_fit_change_nothing(counter, tenders, message):
    with pytest.raises(SaleError, match=re.escape(message)):
        sell(counter, tenders=tenders)

    assert not Order.objects.exists()
    assert (level(counter.shirt, counter.shop).on_hand, level(counter.shirt, counter.shop).reserved) == (3, 0)
    assert CashMovement.objects.count() == 1


def test_more_than_the_shop_holds_is_out_of_stock_even_when_the_warehouse_has_it(counter):
    with pytest.raises(OutOfStock):
        sell(counter, lines=[SaleLine(counter.shirt.pk, 4)], tenders=Tenders(cash_tendered=Decimal("100")))
    assert not Order.objects.exists()


def test_endless_aisle_line_is_reserved_at_the_warehouse_and_ships_later(counter):
    customer = CustomerFactory(email="ana@example.com")
    address = {"name": "Ana", "line1": "1 High St", "city": "London", "postal_code": "N1", "country": "GB"}

    sale = sell(counter, lines=[SaleLine(counter.shirt.pk, 1), SaleLine(counter.mug.pk, 2, ship=True)],
                tenders=Tenders(cash_tendered=Decimal("40")), customer=customer, shipping_address=address)

    order = sale.order
    assert order.customer_id == customer.pk and order.email == "ana@example.com"
    assert order.shipping_address["line1"] == "1 High St"
    assert (order.payment_status, order.fulfilment_status) == ("paid", "partially_fulfilled")
    mug_row = level(counter.mug, counter.warehouse)
    assert (mug_row.on_hand, mug_row.reserved) == (4, 2)  # reserved, still on the shelf until shipped
    mug_line = order.lines.get(sku="MUG")
    assert mug_line.quantity_fulfilled == 0
    assert mug_line.allocations.get().stock_level.location_id == counter.warehouse.pk
    placed = order.events.get(to_status="placed")
    assert placed.data["routing"]["split"] == "per_line"


def test_endless_aisle_needs_an_address(counter):
    with pytest.raises(SaleError, match="shipping address"):
        sell(counter, lines=[SaleLine(counter.mug.pk, 1, ship=True)], email="a@example.com")


def test_register_opens_once_and_closes_with_the_difference(counter):
    with pytest.raises(RegisterAlreadyOpen, match="already open"):
        services.open_register(register=counter.register, user=counter.staff, opening_float="50")
    sale = sell(counter)
    services.record_cash_refund(session_id=counter.session.pk, order=sale.order, amount="10.00", user=counter.staff)

    closed = services.close_register(session_id=counter.session.pk, user=counter.staff, counted_cash="129.00")

    assert closed.expected_cash == Decimal("129.98")  # 100 float + 39.98 - 10 refund
    assert (closed.counted_cash, closed.difference) == (Decimal("129.00"), Decimal("-0.98"))
    with pytest.raises(RegisterClosed):
        services.close_register(session_id=counter.session.pk, user=counter.staff, counted_cash="1")
    with pytest.raises(RegisterClosed):
        sell(counter, key="pos-2")
    assert Order.objects.count() == 1
    reopened = services.open_register(register=counter.register, user=counter.staff, opening_float="0")
    assert reopened.pk != counter.session.pk


def test_emailed_receipt_for_an_anonymous_sale_asks_for_an_address_and_sends_once(
        counter, django_capture_on_commit_callbacks):
    sale = sell(counter)
    with pytest.raises(SaleError, match="email address"):
        services.send_receipt(sale=sale, email="not an email")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_receipt(sale=sale, email="walkin@example.com") == "walkin@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        services.send_receipt(sale=sale)

    from django.core import mail

    assert [m.to for m in mail.outbox] == [["walkin@example.com"]]
    assert "receipt" in mail.outbox[0].subject.lower()


def test_an_item_sold_online_only_is_refused_at_the_counter(counter):
    from saleschannels.services import set_sold_in

    set_sold_in(product_ids=[counter.shirt.product_id], sold_in="online")
    with pytest.raises(SaleError, match="no longer sold in this shop"):
        sell(counter)
    assert not Order.objects.exists()


def test_endless_aisle_is_refused_when_no_warehouse_ships_online_orders(counter):
    counter.warehouse.ships_online_orders = False
    counter.warehouse.save()
    address = {"name": "Ana", "line1": "1 High St", "city": "London", "postal_code": "N1", "country": "GB"}

    with pytest.raises(SaleError, match="no active warehouse that ships online orders"):
        sell(counter, lines=[SaleLine(counter.mug.pk, 1, ship=True)], tenders=Tenders(cash_tendered=Decimal("10")),
             email="ana@example.com", shipping_address=address)
    assert not Order.objects.exists()
    assert level(counter.mug, counter.warehouse).reserved == 0
