"""The order back office: list, read-only order page, buttons that call services, printed documents."""
import importlib
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from conftest import html_tags
from orders.models import Order, OrderEvent, Shipment
from orders.services import (
    PlacementLine,
    ShipmentRequest,
    ShippingChoice,
    cancel_order,
    confirm_payment,
    create_shipment,
    expire_unpaid_orders,
    place_order,
)
from payments.models import Payment, Provider, Refund
from payments.providers.demo import CARD_SUCCEEDS
from payments.services import pay_with_demo_card, refund_payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))
ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "postal_code": "10115", "city": "Berlin",
           "country": "DE"}
CHANGELIST = "admin:orders_order_changelist"


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)  # no password: no hashing


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


class SchemaEditor:
    connection = connection


@pytest.fixture
def staff_groups():
    """The groups and order permissions made by the migrations.

    A transactional test elsewhere flushes them; put them back with the migrations' own functions.
    """
    if not Group.objects.filter(name="Support", permissions__codename="view_order").exists():
        importlib.import_module("customers.migrations.0001_staff_groups").create_groups(global_apps, SchemaEditor())
        importlib.import_module("orders.migrations.0003_staff_permissions").grant(global_apps, SchemaEditor())


def staff_in(client, group_name):
    user = get_user_model().objects.create_user(group_name.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return user


@pytest.fixture
def jacket():
    """An $80 jacket (size M) with 100 units in the warehouse and 50 in a shop that allows pick-up."""
    variant = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    variant.option_values.add(f.OptionValueFactory(option=f.OptionFactory(slug="size", name="Size"), slug="m",
                                                   value="M"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse", name="Warehouse"), on_hand=100)
    shop = f.LocationFactory(code="shop", name="Harbour Shop", kind=Location.Kind.SHOP, pickup_allowed=True,
                             position=1)
    f.StockLevelFactory(variant=variant, location=shop, on_hand=50)
    return variant


@pytest.fixture
def lamp():
    variant = f.VariantFactory(sku="LAMP-1", price=Decimal("35.00"), product__title="Camp Lamp")
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="lamps"), on_hand=50)
    return variant


def place(*lines, email="ada@example.com", name="Ada Lovelace", shipping=DELIVERY, **kwargs) -> Order:
    return place_order(
        lines=[PlacementLine(variant.pk, quantity) for variant, quantity in lines], email=email, customer_name=name,
        idempotency_key=uuid.uuid4().hex, shipping=shipping, shipping_address=ADDRESS, **kwargs,
    )


def pay(order: Order) -> Order:
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK, reference="pi_test")
    order.refresh_from_db()
    return order


def paid_by_card(order: Order) -> Order:
    """Paid with the demo provider's good test card: a succeeded Payment in the ledger."""
    payment = Payment.objects.create(order=order, provider=Provider.DEMO, amount=order.total, currency=order.currency)
    pay_with_demo_card(payment_id=payment.pk, card_number=CARD_SUCCEEDS)
    order.refresh_from_db()
    return order


def collect_at_shop() -> ShippingChoice:
    shop = Location.objects.get(code="shop")
    return ShippingChoice(name="Click and collect", price=Decimal("0"), pickup_location_id=shop.pk,
                          location_ids=[shop.pk])


def url(name: str, order: Order) -> str:
    return reverse(f"admin:orders_order_{name}", args=[order.pk])


def listed_numbers(response) -> list[str]:
    return [order.number for order in response.context["cl"].result_list]


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


# --- The order list ---

def test_the_order_list_shows_each_order_at_a_glance(staff, jacket):
    order = place((jacket, 1), name="Grace Hopper", email="grace@example.com")

    response = staff.get(reverse(CHANGELIST))

    assert response.status_code == 200
    row = response.content.decode()
    for text in (order.number, "Grace Hopper", "grace@example.com", "Not paid", "Not shipped", "$84.95",
                 "Standard"):
        assert text in row


def test_the_list_filters_by_payment_fulfilment_delivery_and_date(staff, jacket):
    unpaid = place((jacket, 1))
    paid = pay(place((jacket, 1)))
    collected = pay(place((jacket, 1), shipping=collect_at_shop()))
    partly_shipped = pay(place((jacket, 2)))
    create_shipment(order_id=partly_shipped.pk, request=ShipmentRequest(quantities={partly_shipped.lines.get().pk: 1}))
    shipped_then_refunded = paid_by_card(place((jacket, 2)))
    create_shipment(order_id=shipped_then_refunded.pk,
                    request=ShipmentRequest(quantities={shipped_then_refunded.lines.get().pk: 1}))
    refund_payment(payment_id=shipped_then_refunded.payments.get().pk, amount=Decimal("10.00"), user=None)
    shop = Location.objects.get(code="shop")
    this_year = unpaid.created_at.year

    def numbers(**query):
        return set(listed_numbers(staff.get(reverse(CHANGELIST), query)))

    assert numbers(payment_status="paid") == {paid.number, collected.number, partly_shipped.number}
    assert numbers(payment_status="unpaid") == {unpaid.number}
    # A partial refund leaves a partly shipped order in "partially shipped": a line still waits.
    assert numbers(payment_status="partially_refunded") == {shipped_then_refunded.number}
    assert numbers(fulfilment_status="partially_fulfilled") == {partly_shipped.number, shipped_then_refunded.number}
    assert numbers(fulfilment_status="unfulfilled") == {unpaid.number, paid.number, collected.number}
    assert numbers(pickup=str(shop.pk)) == {collected.number}
    assert numbers(pickup="delivery") == {unpaid.number, paid.number, partly_shipped.number,
                                          shipped_then_refunded.number}
    assert numbers(shipping_method_name="Click and collect") == {collected.number}
    assert numbers(created_at__year=str(this_year)) == {unpaid.number, paid.number, collected.number,
                                                       partly_shipped.number, shipped_then_refunded.number}
    assert numbers(created_at__year=str(this_year - 1)) == set()


def test_the_payment_state_follows_the_payments_ledger(staff, jacket):
    unpaid = place((jacket, 1))
    by_card = paid_by_card(place((jacket, 1)))
    by_hand = place((jacket, 1))
    staff.post(url("mark_paid", by_hand))  # a manual Payment row
    processing = place((jacket, 1))
    Payment.objects.create(order=processing, provider=Provider.DEMO, amount=processing.total, currency="USD",
                           status=Payment.Status.PROCESSING)
    partly = paid_by_card(place((jacket, 1)))
    refund_payment(payment_id=partly.payments.get().pk, amount=Decimal("10.00"), user=None)
    fully = paid_by_card(place((jacket, 1)))
    refund_payment(payment_id=fully.payments.get().pk, amount=fully.total, user=None)

    def numbers(state):
        return set(listed_numbers(staff.get(reverse(CHANGELIST), {"payment_status": state})))

    # A payment still processing has not paid the order: its own state shows in the payments inline.
    assert numbers("unpaid") == {unpaid.number, processing.number}
    assert numbers("paid") == {by_card.number, by_hand.number}
    assert numbers("partially_refunded") == {partly.number}
    assert numbers("refunded") == {fully.number}
    shown = {order.number: order.payment_status for order in staff.get(reverse(CHANGELIST)).context["cl"]
             .result_list}
    assert shown == {unpaid.number: "unpaid", by_card.number: "paid", by_hand.number: "paid",
                     processing.number: "unpaid", partly.number: "partially_refunded",
                     fully.number: "refunded"}


def test_a_surplus_payment_given_back_is_not_a_refund_of_the_order(staff, jacket):
    order = paid_by_card(place((jacket, 1)))
    second = Payment.objects.create(order=order, provider=Provider.DEMO, amount=order.total, currency="USD",
                                    status=Payment.Status.SUCCEEDED)
    refund_payment(payment_id=second.pk, amount=order.total, user=None, reason="Paid twice.")

    assert listed_numbers(staff.get(reverse(CHANGELIST), {"payment_status": "paid"})) == [order.number]


def test_search_finds_orders_by_number_email_and_name(staff, jacket):
    ada = place((jacket, 1), email="ada@example.com", name="Ada Lovelace")
    grace = place((jacket, 1), email="grace@example.com", name="Grace Brewster Hopper")

    def search(term):
        return listed_numbers(staff.get(reverse(CHANGELIST), {"q": term}))

    assert search(ada.number) == [ada.number]
    assert search(ada.number.replace("-", "").lower()) == [ada.number]
    assert search("GRACE@example.com") == [grace.number]
    assert search("hopper grace") == [grace.number]
    assert search("lovelace") == [ada.number]
    assert search("nobody") == []


def test_the_order_list_costs_the_same_queries_for_3_orders_as_for_30(staff, jacket, lamp):
    def make(count):
        for n in range(count):
            pickup = n % 3 == 0
            order = place((jacket, 1), *([] if pickup else [(lamp, 1)]),
                          shipping=collect_at_shop() if pickup else DELIVERY)
            if n % 2:
                pay(order)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = staff.get(reverse(CHANGELIST))
        assert response.status_code == 200
        return len(captured), len(response.context["cl"].result_list)

    make(3)
    few, shown_few = queries()
    make(27)
    many, shown_many = queries()

    assert (shown_few, shown_many) == (3, 30)
    assert many == few


# --- The order page ---

def test_the_order_page_shows_lines_totals_addresses_shipments_and_history(staff, superuser, jacket, lamp):
    order = pay(place((jacket, 2), (lamp, 1), tax_rate_for=lambda variant: Decimal("20")))
    jacket_line = order.lines.get(sku="JKT-M")
    create_shipment(order_id=order.pk, user=superuser, request=ShipmentRequest(
        quantities={jacket_line.pk: 1}, carrier="DHL", tracking_number="JD0142",
        tracking_url="https://dhl.example/JD0142",
    ))
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=superuser,
                              message="Customer asked for gift wrap.")

    response = staff.get(url("change", order))

    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Storm Jacket", "JKT-M", "Size: M", "Camp Lamp", "LAMP-1",  # lines
        "$80.00", "20%", "$26.66", "$160.00",  # the jacket line: unit price, tax rate, tax, line total
        "$195.00", "$4.95", "$32.49", "$199.95",  # subtotal, shipping, tax, total
        "12 Analytical Row", "10115 Berlin", "Germany", "Same as shipping",  # addresses
        "Partially shipped", "Paid",  # status and payment state
        "DHL", "JD0142", 'href="https://dhl.example/JD0142"', "1 × Storm Jacket",  # the shipment
    ):
        assert text in page, text
    history = response.context["history"]
    assert [row["kind"] for row in history][:2] == ["Note", "Shipment"]  # newest first
    assert history[0]["message"] == "Customer asked for gift wrap." and "boss" in history[0]["who"]
    assert history[-1]["message"] == "Order placed; stock reserved."
    assert html_tags(page, "form", id="note-form")
    assert html_tags(page, "a", id="packing-slip-link", href=url("packing_slip", order))
    assert html_tags(page, "a", id="invoice-link", href=url("invoice", order))


def test_nothing_on_the_order_page_is_an_input(staff, jacket):
    order = place((jacket, 1))

    page = staff.get(url("change", order)).content.decode()

    inside_admin_form = page.split('id="order_form"', 1)[1].split("</form>", 1)[0]
    assert not [tag for tag in html_tags(inside_admin_form, "input") if tag.get("type") not in ("hidden",)]
    assert not html_tags(inside_admin_form, "select") and not html_tags(inside_admin_form, "textarea")
    assert not html_tags(page, "input", name="_save")


def test_posting_the_order_form_cannot_edit_an_order(staff, jacket):
    order = place((jacket, 1))

    response = staff.post(url("change", order), {"email": "thief@example.com", "total": "0.01", "status": "paid"})

    order.refresh_from_db()
    assert response.status_code == 403
    assert (order.email, order.total, order.payment_status) == ("ada@example.com", Decimal("84.95"), P.UNPAID)


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("unpaid", {"mark-paid-form", "cancel-form"}),
        ("paid", {"ship-link"}),  # paid with no Payment in the ledger (as before manual payments): nothing to refund
        ("marked_paid", {"ship-link", "refund-link"}),  # a manual payment is refundable
        ("paid_by_card", {"ship-link", "refund-link"}),
        ("shipped", set()),
        ("cancelled", set()),
    ],
)
def test_buttons_appear_only_for_legal_moves(staff, jacket, state, shown):
    order = place((jacket, 1))
    if state in ("paid", "shipped"):
        pay(order)
    if state == "paid_by_card":
        paid_by_card(order)
    if state == "marked_paid":
        staff.post(url("mark_paid", order))
    if state == "shipped":
        create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={order.lines.get().pk: 1}))
    if state == "cancelled":
        staff.post(url("cancel", order))

    page = staff.get(url("change", order)).content.decode()

    ids = {"mark-paid-form", "cancel-form", "ship-link", "refund-link"}
    assert {tag["id"] for tag in html_tags(page, "form") + html_tags(page, "a") if tag.get("id") in ids} == shown


# --- Buttons ---

def test_mark_paid_records_a_manual_payment_by_the_staff_member(staff, superuser, jacket):
    order = place((jacket, 1))

    response = staff.post(url("mark_paid", order), follow=True)

    order.refresh_from_db()
    assert order.payment_status == P.PAID and order.paid_at is not None
    event = order.events.get(to_status=P.PAID)
    assert (event.actor, event.user, event.data["amount"]) == (OrderEvent.Actor.STAFF, superuser, "84.95")
    assert response.redirect_chain[-1][0] == url("change", order)
    assert messages_of(response) == [("success", f"Order {order.number} is marked paid ($84.95).")]
    payment = order.payments.get()
    assert (payment.provider, payment.status, payment.amount, payment.currency, payment.created_by) == (
        Provider.MANUAL, Payment.Status.SUCCEEDED, Decimal("84.95"), "USD", superuser)
    assert payment.succeeded_at is not None


def test_marking_paid_twice_records_one_manual_payment(staff, jacket):
    order = place((jacket, 1))

    staff.post(url("mark_paid", order))
    staff.post(url("mark_paid", order))

    assert order.payments.count() == 1
    assert order.events.filter(to_status=P.PAID).count() == 1


def test_a_late_manual_payment_whose_stock_is_gone_records_no_payment(staff, lamp):
    order = place((lamp, 50))
    expire_unpaid_orders(now=order.reservation_expires_at + timedelta(minutes=1))
    place((lamp, 50))  # another shopper takes the released stock

    response = staff.post(url("mark_paid", order), follow=True)

    order.refresh_from_db()
    assert order.fulfilment_status == FS.EXPIRED and not order.payments.exists()
    assert [level for level, _text in messages_of(response)] == ["error"]


def test_a_manual_payment_is_refunded_from_the_back_office_and_paid_back_by_hand(staff, superuser, jacket):
    order = place((jacket, 1))
    staff.post(url("mark_paid", order))
    payment = order.payments.get()

    form_page = staff.get(url("refund", order))
    response = staff.post(url("refund", order), {"payment": payment.pk, "amount": "84.95",
                                                 "reason": "Changed their mind."}, follow=True)

    assert html_tags(form_page.content, "input", name="amount", value="84.95")
    refund = Refund.objects.get()
    assert (refund.payment, refund.amount, refund.status, refund.created_by) == (
        payment, Decimal("84.95"), Refund.Status.SUCCEEDED, superuser)
    assert refund.provider_reference.startswith("manual_re_")
    assert refund.reason.startswith("Changed their mind.") and "by hand" in refund.reason
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED
    assert order.events.get(to_status=P.REFUNDED).user == superuser
    assert messages_of(response) == [("success", f"Refunded $84.95 of order {order.number}. It was a manual "
                                                 "payment: pay the money back to the customer yourself.")]


def test_create_shipment_ships_what_staff_chose_with_tracking(staff, superuser, jacket, lamp):
    order = pay(place((jacket, 2), (lamp, 1)))
    jacket_line, lamp_line = order.lines.get(sku="JKT-M"), order.lines.get(sku="LAMP-1")

    form_page = staff.get(url("ship", order))
    response = staff.post(url("ship", order), {
        f"line_{jacket_line.pk}": "1", f"line_{lamp_line.pk}": "0",
        "carrier": "UPS", "tracking_number": "1Z999", "tracking_url": "https://ups.example/1Z999",
    }, follow=True)

    assert form_page.status_code == 200
    assert html_tags(form_page.content, "input", name=f"line_{jacket_line.pk}", value="2")
    order.refresh_from_db()
    shipment = Shipment.objects.get(order=order)
    assert order.fulfilment_status == FS.PARTIALLY_FULFILLED
    assert (shipment.carrier, shipment.tracking_number, shipment.created_by) == ("UPS", "1Z999", superuser)
    assert list(shipment.lines.values_list("line__sku", "quantity")) == [("JKT-M", 1)]
    assert StockLevel.objects.get(variant=jacket, location__code="warehouse").on_hand == 99
    assert messages_of(response) == [("success", f"Shipment of 1 item created for order {order.number}.")]

    # The rest goes in a second parcel; the form offers only what is left.
    second = staff.get(url("ship", order))
    assert html_tags(second.content, "input", name=f"line_{jacket_line.pk}", value="1")
    staff.post(url("ship", order), {f"line_{jacket_line.pk}": "1", f"line_{lamp_line.pk}": "1"})
    order.refresh_from_db()
    assert order.fulfilment_status == FS.FULFILLED


def test_a_shipment_form_with_too_many_units_changes_nothing(staff, jacket):
    order = pay(place((jacket, 2)))
    line = order.lines.get()

    response = staff.post(url("ship", order), {f"line_{line.pk}": "3"})

    assert response.status_code == 200
    assert response.context["form"].errors[f"line_{line.pk}"]
    assert not Shipment.objects.exists()
    order.refresh_from_db()
    assert order.payment_status == P.PAID


def test_cancel_releases_the_stock_of_an_unpaid_order(staff, superuser, jacket):
    order = place((jacket, 3))

    response = staff.post(url("cancel", order), {"reason": "Customer called to cancel."}, follow=True)

    order.refresh_from_db()
    assert order.fulfilment_status == FS.CANCELLED
    event = order.events.get(to_status=FS.CANCELLED)
    assert (event.user, event.message) == (superuser, "Customer called to cancel.")
    assert sum(StockLevel.objects.filter(variant=jacket).values_list("reserved", flat=True)) == 0
    assert messages_of(response) == [("success", f"Order {order.number} is cancelled and its stock released.")]


def test_a_full_refund_goes_through_the_provider_and_refunds_the_order(staff, superuser, jacket):
    order = paid_by_card(place((jacket, 1)))
    payment = order.payments.get()

    form_page = staff.get(url("refund", order))
    response = staff.post(url("refund", order), {"payment": payment.pk, "amount": "84.95",
                                                 "reason": "Arrived damaged."}, follow=True)

    assert html_tags(form_page.content, "input", name="amount", value="84.95")
    refund = Refund.objects.get()
    assert (refund.payment, refund.amount, refund.status, refund.created_by, refund.reason) == (
        payment, Decimal("84.95"), Refund.Status.SUCCEEDED, superuser, "Arrived damaged.")
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED
    assert order.events.get(to_status=P.REFUNDED).user == superuser
    assert messages_of(response) == [("success", f"Refunded $84.95 of order {order.number}.")]
    page = staff.get(url("change", order)).content.decode()
    for text in ("Refunded", payment.provider_payment_id, refund.provider_reference, "Arrived damaged."):
        assert text in page, text


def test_partial_refunds_add_up_to_a_full_one(staff, jacket):
    order = paid_by_card(place((jacket, 1)))
    payment = order.payments.get()

    staff.post(url("refund", order), {"payment": payment.pk, "amount": "20.00", "reason": "Late delivery."})
    order.refresh_from_db()
    assert order.payment_status == P.PARTIALLY_REFUNDED
    second_form = staff.get(url("refund", order))
    assert html_tags(second_form.content, "input", name="amount", value="64.95")  # what is left
    staff.post(url("refund", order), {"payment": payment.pk, "amount": "64.95"})

    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [Decimal("20.00"), Decimal("64.95")]


def test_refunding_more_than_was_paid_changes_nothing(staff, jacket):
    order = paid_by_card(place((jacket, 1)))

    response = staff.post(url("refund", order), {"payment": order.payments.get().pk, "amount": "100.00"})

    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["At most $84.95 can be refunded from this payment."]
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.payment_status == P.PAID


def test_a_refund_the_provider_refuses_shows_its_error_and_records_nothing(staff, jacket, monkeypatch):
    from payments.exceptions import ProviderUnavailable
    from payments.providers.demo import DemoProvider

    def refuse(self, refund):
        raise ProviderUnavailable(detail="card network down")

    monkeypatch.setattr(DemoProvider, "refund", refuse)
    order = paid_by_card(place((jacket, 1)))

    response = staff.post(url("refund", order), {"payment": order.payments.get().pk, "amount": "84.95"})

    assert response.status_code == 200
    assert messages_of(response) == [("error", str(ProviderUnavailable()))]
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.payment_status == P.PAID


def test_a_payment_of_the_wrong_amount_can_be_given_back(staff, jacket):
    order = place((jacket, 1))
    payment = Payment.objects.create(order=order, provider=Provider.DEMO, amount=Decimal("80.00"), currency="USD")
    pay_with_demo_card(payment_id=payment.pk, card_number=CARD_SUCCEEDS)  # not the total: the order stays unpaid

    page = staff.get(url("change", order)).content
    response = staff.post(url("refund", order), {"payment": payment.pk, "amount": "80.00"}, follow=True)

    assert html_tags(page, "a", id="refund-link")
    order.refresh_from_db()
    assert order.is_awaiting_payment
    assert Refund.objects.get().amount == Decimal("80.00")
    assert order.events.filter(kind=OrderEvent.Kind.REFUND).exists()
    assert messages_of(response) == [("success", f"Refunded $80.00 of order {order.number}.")]


def test_a_note_is_added_to_the_history_with_its_author(staff, superuser, jacket):
    order = place((jacket, 1))

    response = staff.post(url("note", order), {"message": "Called the customer about the size."}, follow=True)

    note = order.events.get(kind=OrderEvent.Kind.NOTE)
    assert (note.message, note.user, note.actor) == ("Called the customer about the size.", superuser,
                                                     OrderEvent.Actor.STAFF)
    assert response.context["history"][0]["message"] == "Called the customer about the size."
    assert messages_of(response) == [("success", f"Note added to order {order.number}.")]


def test_an_empty_note_is_refused(staff, jacket):
    order = place((jacket, 1))

    response = staff.post(url("note", order), {"message": "  "}, follow=True)

    assert not order.events.filter(kind=OrderEvent.Kind.NOTE).exists()
    assert [level for level, _text in messages_of(response)] == ["error"]


# --- Illegal moves: an error, and nothing changes ---

def _snapshot(order: Order):
    order.refresh_from_db()
    return order.payment_status, order.fulfilment_status, order.events.count(), Shipment.objects.filter(order=order).count(), sum(
        StockLevel.objects.filter(allocations__line__order=order).values_list("reserved", flat=True)
    )


def test_shipping_an_unpaid_order_is_refused(staff, jacket):
    order = place((jacket, 1))
    before = _snapshot(order)

    response = staff.post(url("ship", order), {f"line_{order.lines.get().pk}": "1"}, follow=True)

    assert _snapshot(order) == before
    assert messages_of(response) == [
        ("error", f"Order {order.number} is not paid and not shipped, so it cannot be shipped. Nothing was changed.")
    ]


def test_cancelling_a_paid_order_is_refused(staff, jacket):
    order = pay(place((jacket, 1)))
    before = _snapshot(order)

    response = staff.post(url("cancel", order), follow=True)

    assert _snapshot(order) == before
    assert messages_of(response) == [
        ("error", f"Order {order.number} is paid and not shipped, so it cannot be cancelled. Nothing was changed.")
    ]


def test_marking_a_cancelled_order_paid_is_refused_without_an_alert(staff, jacket):
    order = place((jacket, 1))
    staff.post(url("cancel", order), follow=True)  # follow: its message is shown and gone
    before = _snapshot(order)

    response = staff.post(url("mark_paid", order), follow=True)

    assert _snapshot(order) == before
    assert [level for level, _text in messages_of(response)] == ["error"]


def test_refunding_an_order_without_a_payment_is_refused(staff, jacket):
    order = place((jacket, 1))
    before = _snapshot(order)

    response = staff.get(url("refund", order), follow=True)

    assert _snapshot(order) == before
    assert messages_of(response) == [("error", f"Order {order.number} has no payment that can be refunded.")]


def test_buttons_only_take_post(staff, jacket):
    order = place((jacket, 1))

    assert staff.get(url("mark_paid", order)).status_code == 405
    assert staff.get(url("cancel", order)).status_code == 405
    order.refresh_from_db()
    assert order.is_awaiting_payment


def test_buttons_need_the_csrf_token(superuser, jacket):
    order = place((jacket, 1))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)

    response = browser.post(url("mark_paid", order))

    order.refresh_from_db()
    assert response.status_code == 403
    assert order.is_awaiting_payment


# --- Permissions ---

def test_support_sees_the_order_read_only_and_cannot_act(client, staff_groups, jacket):
    unpaid = place((jacket, 1))
    paid = pay(place((jacket, 1)))
    staff_in(client, "Support")

    listing = client.get(reverse(CHANGELIST))
    page = client.get(url("change", unpaid))

    assert listing.status_code == 200 and set(listed_numbers(listing)) == {unpaid.number, paid.number}
    assert page.status_code == 200
    content = page.content.decode()
    assert "Storm Jacket" in content and "Order placed; stock reserved." in content
    assert not html_tags(content, "form", id="mark-paid-form") and not html_tags(content, "form", id="cancel-form")
    assert not html_tags(content, "form", id="note-form")
    assert client.get(url("packing_slip", unpaid)).status_code == 200
    assert client.get(url("invoice", unpaid)).status_code == 200
    for name, order in (("mark_paid", unpaid), ("cancel", unpaid), ("ship", paid), ("refund", paid),
                        ("note", unpaid)):
        assert client.post(url(name, order), {"message": "hi", f"line_{order.lines.get().pk}": "1"}).status_code \
            == 403, name
    assert client.get(url("ship", paid)).status_code == 403
    assert client.get(url("refund", paid)).status_code == 403
    assert _snapshot(unpaid)[:4] == (P.UNPAID, FS.UNFULFILLED, 1, 0)
    assert _snapshot(paid)[:4] == (P.PAID, FS.UNFULFILLED, 2, 0)


def test_an_order_manager_can_act(client, staff_groups, jacket):
    order = place((jacket, 1))
    manager = staff_in(client, "Order managers")

    page = client.get(url("change", order)).content
    client.post(url("mark_paid", order))
    client.post(url("note", order), {"message": "Paid by bank transfer."})

    assert html_tags(page, "form", id="mark-paid-form") and html_tags(page, "form", id="note-form")
    order.refresh_from_db()
    assert order.payment_status == P.PAID
    assert order.events.get(kind=OrderEvent.Kind.NOTE).user == manager


def test_a_user_without_order_permissions_cannot_see_orders(client, jacket):
    order = place((jacket, 1))
    client.force_login(get_user_model().objects.create_user("clerk", is_staff=True))

    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(url("change", order)).status_code == 403
    assert client.get(url("packing_slip", order)).status_code == 403
    assert client.post(url("mark_paid", order)).status_code == 403


# --- Printed documents ---

def test_the_packing_slip_lists_items_and_address_without_prices(staff, jacket, lamp):
    order = pay(place((jacket, 2), (lamp, 1)))

    response = staff.get(url("packing_slip", order))

    assert response.status_code == 200
    page = response.content.decode()
    for text in (order.number, "Packing slip", "Storm Jacket", "Size: M", "JKT-M", "Camp Lamp", "Ada Lovelace",
                 "12 Analytical Row", "10115 Berlin", "Germany", "@media print"):
        assert text in page, text
    assert "$" not in page  # no prices, no totals
    assert response.context["units"] == 3
    assert [(line.sku, line.quantity) for line in response.context["lines"]] == [("JKT-M", 2), ("LAMP-1", 1)]


def test_a_slip_for_an_order_that_must_not_ship_says_so_and_a_paid_one_does_not(staff, jacket):
    unpaid = place((jacket, 1))
    cancelled = place((jacket, 1))
    cancel_order(order_id=cancelled.pk, actor="staff", reason="Customer asked")
    paid = pay(place((jacket, 1)))

    def hold(order):
        response = staff.get(url("packing_slip", order))
        page = response.content.decode()
        assert bool(html_tags(page, "p", id="packing-hold")) == bool(response.context["hold"])
        return response.context["hold"] if response.context["hold"] in page else None

    assert hold(unpaid) == "Not paid yet: do not ship until the payment is in."
    assert hold(cancelled) == "Cancelled: do not pack or ship."
    assert hold(paid) == ""


def test_the_invoice_shows_seller_lines_tax_totals_and_billing_address(staff, jacket, settings):
    settings.STORE_NAME = "Northwind Supply GmbH"
    order = pay(place((jacket, 2), tax_rate_for=lambda variant: Decimal("19"),
                      billing_address={"name": "Lovelace Ltd", "line1": "1 Ledger Lane", "city": "London",
                                       "postal_code": "EC1A 1BB", "country": "GB"}))

    response = staff.get(url("invoice", order))

    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Northwind Supply GmbH", "Invoice", order.number, "Storm Jacket", "JKT-M",
                 "$80.00", "19%", "$25.54", "$160.00",  # unit price, rate, tax on 2 units, line total
                 "$134.46", "$4.95", "$164.95",  # net subtotal, shipping, total
                 "Lovelace Ltd", "1 Ledger Lane<br>London<br>EC1A 1BB<br>United Kingdom", "@media print"):
        assert text in page, text
    assert "12 Analytical Row" not in page  # the billing address, not the shipping one
    assert response.context["tax_total"] == "$25.54"


@pytest.mark.parametrize(("refunded", "left"), [(None, "84.95"), ("30.00", "54.95"), ("0.10", "84.85")])
def test_the_refund_form_shows_its_default_amount_like_money(admin_app, jacket, refunded, left):
    # The amount left comes from a sum over the refunds: SQLite adds decimals as floating point
    # numbers, and the form showed "119.900000000000".
    order = paid_by_card(place((jacket, 1)))
    payment = order.payments.get()
    if refunded is not None:
        refund_payment(payment_id=payment.pk, amount=Decimal(refunded), user=None)

    form = admin_app.get(url("refund", order)).forms["refund-form"]

    assert form["amount"].value == left
    form.submit()  # as shown: all that is left goes back
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED
    assert sum(Refund.objects.filter(payment=payment).values_list("amount", flat=True)) == order.total


def test_the_order_page_shows_both_states_and_each_ones_history(staff, jacket):
    order = paid_by_card(place((jacket, 2)))
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={order.lines.get().pk: 1}))
    refund_payment(payment_id=order.payments.get().pk, amount=Decimal("10.00"), user=None)

    page = staff.get(url("change", order)).content.decode()

    assert "Partially refunded" in page and "Partially shipped" in page
    assert "Payment: Paid → Partially refunded" in page
    assert "Fulfilment: Not shipped → Partially shipped" in page
    assert html_tags(page, "a", id="ship-link")  # a line still waits to ship, and it may
