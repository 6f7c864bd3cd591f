"""A phone order from draft to paid, through the admin forms as a browser submits them
(django-webtest), then the shopper paying the emailed link with the demo card."""
import re
from decimal import Decimal

import pytest
from django.core import mail

from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from customers.models import Customer
from orders.models import Order
from payments.models import Payment
from stafforders.models import DraftOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus


@pytest.fixture
def catalog_items():
    warehouse = f.LocationFactory(code="warehouse", name="Warehouse", position=0)
    shop = f.LocationFactory(code="uptown", name="Uptown shop", kind=Location.Kind.SHOP, pickup_allowed=True,
                             position=1, country="US")
    jacket = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    lamp = f.VariantFactory(sku="LAMP-1", price=Decimal("35.00"), product__title="Camp Lamp")
    f.StockLevelFactory(variant=jacket, location=warehouse, on_hand=5)
    f.StockLevelFactory(variant=lamp, location=warehouse, on_hand=5)
    f.StockLevelFactory(variant=lamp, location=shop, on_hand=2)
    return jacket, lamp, shop


def _reserved(variant) -> int:
    return sum(StockLevel.objects.filter(variant=variant).values_list("reserved", flat=True))


def _type_draft(admin_app, jacket, lamp, **fields):
    """The add form as a person fills it: customer, two lines, delivery, a discount with its reason."""
    page = admin_app.get("/admin/stafforders/draftorder/add/")
    form = page.forms["draftorder_form"]
    for name, value in {"email": "grace@example.com", "customer_name": "Grace Hopper", "phone": "+1 555 0100",
                        "company": "Navy Labs", "purchase_order": "PO-77", "shipping_name": "Courier",
                        "shipping_price": "10.00", "address_line1": "1 Pier Road", "city": "Arlington",
                        "postal_code": "22201", "country": "US", "discount_amount": "15.00",
                        "discount_reason": "Loyal B2B customer", **fields}.items():
        form[name] = value
    # The variant box is an autocomplete: its script adds the chosen option and selects it.
    form["lines-0-variant"].force_value(str(jacket.pk))
    form["lines-0-quantity"] = "2"
    from conftest import add_inline_form

    index = add_inline_form(form, "lines")
    form[f"lines-{index}-variant"].force_value(str(lamp.pk))
    form[f"lines-{index}-quantity"] = "1"
    response = form.submit("_continue")
    return response.follow() if response.status_code == 302 else response


def _place(draft_page, payment: str):
    place = draft_page.click(description="Place order…")
    form = place.forms["place_draft_form"]
    form["payment"] = payment
    return form.submit()


def test_a_draft_reserves_nothing_and_placing_it_reserves_and_prices_on_the_server(
        admin_app, catalog_items, django_capture_on_commit_callbacks):
    jacket, lamp, _shop = catalog_items
    draft_page = _type_draft(admin_app, jacket, lamp)

    draft = DraftOrder.objects.get()
    assert draft.status == DraftOrder.Status.DRAFT and draft.lines.count() == 2
    assert _reserved(jacket) == _reserved(lamp) == 0 and not Order.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        placed = _place(draft_page, "link").follow()

    order = Order.objects.get()
    assert f"Order {order.number} placed; stock reserved." in placed.text
    assert _reserved(jacket) == 2 and _reserved(lamp) == 1
    assert order.channel_id == "phone" and order.sold_by.username == "webtest-admin"
    # 160 + 35 = 195 at catalog prices, less 15 split 160:35 to the cent, plus 10 shipping.
    assert order.subtotal == Decimal("180.00") and order.total == Decimal("190.00")
    assert order.discount_total == Decimal("15.00")
    assert sorted(line.discount_total for line in order.lines.all()) == [Decimal("2.69"), Decimal("12.31")]
    assert all(line.discounts[0]["name"] == "Staff discount: Loyal B2B customer" for line in order.lines.all())
    assert order.shipping_address["line1"] == "1 Pier Road" and order.shipping_method_name == "Courier"
    assert order.customer.email == "grace@example.com"
    assert order.events.filter(message__contains="Manual discount 15.00: Loyal B2B customer").exists()
    draft.refresh_from_db()
    assert draft.status == DraftOrder.Status.PLACED and draft.order == order

    # A second submit of the same page (Back, then "Place order" again) places nothing more.
    again = admin_app.get(f"/admin/stafforders/draftorder/{draft.pk}/place/", expect_errors=True)
    assert again.status_code == 403
    assert Order.objects.count() == 1


def test_the_shopper_pays_the_link_with_the_demo_card(admin_app, django_app, catalog_items,
                                                      django_capture_on_commit_callbacks):
    jacket, lamp, _shop = catalog_items
    draft_page = _type_draft(admin_app, jacket, lamp)
    with django_capture_on_commit_callbacks(execute=True):
        _place(draft_page, "link")
    order = Order.objects.get()
    assert order.reservation_expires_at is not None  # held STAFF_ORDER_PAYMENT_DAYS, then expires as usual

    (email,) = [m for m in mail.outbox if m.subject.startswith("Pay for your order")]
    assert "$190.00" in email.subject
    link = re.search(r"http://\S+/orders/\S+/", email.body)[0]
    shopper = django_app
    shopper.reset()
    order_page = shopper.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    card_page = order_page.forms["pay-now-form"].submit().follow()
    form = next(form for form in card_page.forms.values() if "number" in form.fields)
    form["number"] = "4242 4242 4242 4242"
    form["expiry"] = "12/40"
    form["cvc"] = "123"
    form["name"] = "Grace Hopper"
    with django_capture_on_commit_callbacks(execute=True):
        form.submit()

    order.refresh_from_db()
    assert order.payment_status == P.PAID
    assert Payment.objects.get(order=order, status=Payment.Status.SUCCEEDED).amount == Decimal("190.00")
    # The link's email was the order's confirmation; the next one says the money arrived.
    assert [m.subject for m in mail.outbox if m.to == ["grace@example.com"]] == [
        f"Pay for your order {order.number} ($190.00)", f"Payment received for order {order.number}"]


def test_offline_payment_and_invoice(admin_app, catalog_items, django_capture_on_commit_callbacks):
    jacket, lamp, _shop = catalog_items
    with django_capture_on_commit_callbacks(execute=True):
        _place(_type_draft(admin_app, jacket, lamp), "offline")
    paid = Order.objects.get()
    assert paid.payment_status == P.PAID
    assert Payment.objects.get(order=paid).provider == "manual"

    with django_capture_on_commit_callbacks(execute=True):
        _place(_type_draft(admin_app, jacket, lamp, email="ops@example.com"), "invoice")
    invoice = Order.objects.exclude(pk=paid.pk).get()
    assert invoice.payment_status == P.UNPAID and invoice.reservation_expires_at is None  # never expires
    assert not Payment.objects.filter(order=invoice).exists()
    assert _reserved(jacket) == 4


def test_an_existing_customer_and_a_pickup_shop(admin_app, catalog_items, django_capture_on_commit_callbacks):
    jacket, lamp, shop = catalog_items
    customer = Customer.objects.create(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    page = admin_app.get("/admin/stafforders/draftorder/add/")
    form = page.forms["draftorder_form"]
    form["customer"].force_value(str(customer.pk))
    form["pickup_location"] = str(shop.pk)
    form["lines-0-variant"].force_value(str(lamp.pk))
    form["lines-0-quantity"] = "2"
    with django_capture_on_commit_callbacks(execute=True):
        _place(form.submit("_continue").follow(), "invoice")

    order = Order.objects.get()
    assert order.customer == customer and order.email == "ada@example.com"
    assert order.pickup_location == shop and order.shipping_total == Decimal("0.00")
    assert StockLevel.objects.get(variant=lamp, location=shop).reserved == 2


def test_bad_drafts_are_refused_with_a_reason_and_change_nothing(admin_app, catalog_items):
    jacket, lamp, _shop = catalog_items
    too_much = _place(_type_draft(admin_app, jacket, lamp, discount_amount="500.00"), "link")
    assert too_much.status_code == 200 and "is more than the items cost" in too_much.text

    no_address = _place(_type_draft(admin_app, jacket, lamp, address_line1="", email="b@example.com"), "link")
    assert "Type the address to ship to" in no_address.text

    StockLevel.objects.filter(variant=jacket).update(on_hand=1)  # sold meanwhile (no ledger: restored below)
    short = _place(_type_draft(admin_app, jacket, lamp, email="c@example.com"), "link")
    assert "Not enough stock, nothing was reserved" in short.text
    StockLevel.objects.filter(variant=jacket).update(on_hand=5)

    assert not Order.objects.exists() and _reserved(jacket) == _reserved(lamp) == 0
    assert set(DraftOrder.objects.values_list("status", flat=True)) == {DraftOrder.Status.DRAFT}


def test_a_discount_without_a_reason_is_refused_by_the_form(admin_app, catalog_items):
    jacket, lamp, _shop = catalog_items
    page = _type_draft(admin_app, jacket, lamp, discount_reason="")
    assert page.status_code == 200 and "errornote" in page.text
    assert DraftOrder.objects.filter(discount_reason="").count() == 0


def test_drafts_are_in_the_data_download_and_lose_the_person_on_erasure(admin_app, catalog_items):
    from customers.services.data_export import export_customer_data
    from customers.services.privacy import erase_customer

    jacket, lamp, _shop = catalog_items
    _type_draft(admin_app, jacket, lamp, note="Grace Hopper called from +1 555 0100")
    customer = Customer.objects.create(email="grace@example.com", first_name="Grace", last_name="Hopper",
                                       phone="+1 555 0100")

    data = export_customer_data(customer=customer)
    (draft,) = data["draft_orders"]
    assert (draft["email"], draft["company"], draft["purchase_order"]) == ("grace@example.com", "Navy Labs", "PO-77")

    erase_customer(customer=customer, actor=None)

    erased = DraftOrder.objects.get()
    assert (erased.email, erased.customer_name, erased.phone, erased.address_line1, erased.company) == ("",) * 5
    assert erased.country == "US" and "Grace" not in erased.note and "555 0100" not in erased.note
    assert erased.discount_amount == Decimal("15.00")


def test_the_customer_gets_one_email_when_the_order_is_placed_whatever_the_payment(
        admin_app, catalog_items, django_capture_on_commit_callbacks):
    jacket, lamp, shop = catalog_items
    f.StockLevelFactory(variant=jacket, location=shop, on_hand=4)  # three orders of two jackets
    sent = {}
    for payment in ("link", "offline", "invoice"):
        email = f"{payment}@example.com"
        with django_capture_on_commit_callbacks(execute=True):
            _place(_type_draft(admin_app, jacket, lamp, email=email), payment)
        order = Order.objects.get(email=email)
        sent[payment] = [(m.subject, m.body) for m in mail.outbox if m.to == [email]]
        assert len(sent[payment]) == 1, (payment, [subject for subject, _body in sent[payment]])
        assert order.number in sent[payment][0][0]

    (link_subject, link_body), = sent["link"]
    assert link_subject.startswith("Pay for your order") and "Thank you for your order" in link_body
    assert re.search(r"http://\S+/orders/\S+/", link_body)
    (paid_subject, paid_body), = sent["offline"]
    assert paid_subject.startswith("Payment received for order") and "$190.00" in paid_body
    (invoice_subject, invoice_body), = sent["invoice"]
    assert invoice_subject.startswith("Thank you for your order")
    assert "You pay it on invoice: $190.00 is due" in invoice_body and "Your order is not paid yet" not in invoice_body


def test_an_order_on_invoice_ships_before_it_is_paid_and_says_what_is_due(
        admin_app, catalog_items, django_capture_on_commit_callbacks):
    from orders.links import signed_order_url

    jacket, lamp, _shop = catalog_items
    with django_capture_on_commit_callbacks(execute=True):
        page = _place(_type_draft(admin_app, jacket, lamp), "invoice").follow()
    order = Order.objects.get()
    assert order.payment_terms == Order.PaymentTerms.INVOICE and order.payment_status == P.UNPAID
    assert page.html.select_one("#amount-due").text == "$190.00, on invoice"
    shopper_page = admin_app.get(signed_order_url(order)).text  # not "Awaiting payment": nothing to pay yet
    assert "On invoice, being prepared" in shopper_page
    assert "You pay this order on invoice: $190.00 is due" in shopper_page
    assert "order-status-spinner" not in shopper_page and "pay-now-form" not in shopper_page  # nothing to wait for

    slip = page.click(href="/packing-slip/")
    assert not slip.html.select_one("#packing-hold")  # no "do not ship until paid"
    assert "On invoice: $190.00 due" in slip.html.select_one("#amount-due").text
    invoice = page.click(href="/invoice/")
    assert invoice.html.select_one("#payment-terms").text == "On invoice"
    assert invoice.html.select_one("#invoice-amount-due").text == "$190.00"

    form = page.click(description="Create shipment…").forms["shipment-form"]
    form["carrier"] = "DHL"
    with django_capture_on_commit_callbacks(execute=True):
        shipped = form.submit().follow()
    order.refresh_from_db()
    assert (order.payment_status, order.fulfilment_status) == (P.UNPAID, Order.FulfilmentStatus.FULFILLED)
    assert _reserved(jacket) == _reserved(lamp) == 0

    # The invoice is paid after delivery: staff record it on the shipped order.
    with django_capture_on_commit_callbacks(execute=True):
        paid = shipped.forms["mark-paid-form"].submit().follow()
    order.refresh_from_db()
    assert order.payment_status == P.PAID and paid.html.select_one("#amount-due") is None


def test_an_unpaid_order_not_on_invoice_still_does_not_ship(admin_app, catalog_items,
                                                            django_capture_on_commit_callbacks):
    jacket, lamp, _shop = catalog_items
    with django_capture_on_commit_callbacks(execute=True):
        page = _place(_type_draft(admin_app, jacket, lamp), "link").follow()
    order = Order.objects.get()
    assert order.payment_terms == Order.PaymentTerms.PREPAID
    assert "Create shipment…" not in page.text and page.html.select_one("#amount-due").text == "$190.00"

    refused = admin_app.get(f"/admin/orders/order/{order.pk}/ship/").follow()

    assert "so it cannot be shipped" in refused.text
    assert not order.shipments.exists()
    slip = page.click(href="/packing-slip/")
    assert "do not ship until the payment is in" in slip.html.select_one("#packing-hold").text
