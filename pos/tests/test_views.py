"""The sell screen as a browser submits it (django-webtest: the rendered forms, filled and sent)."""
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import StockLevel
from catalog.tests import factories as f
from customers.tests.factories import CustomerFactory, UserFactory
from orders.models import Order
from pos.models import Sale

pytestmark = pytest.mark.usefixtures("stock_ledger_checked")


@pytest.fixture
def screen(counter, django_app):
    django_app.set_user(counter.staff)
    return django_app


def sell_url(counter):
    return reverse("pos:sell", kwargs={"session_id": counter.session.pk})


def scan(page, code):
    form = page.forms[0]  # the scan box comes first
    form["code"] = code
    return form.submit().follow()


def pay_form(page):
    return next(form for form in page.forms.values() if "cash_tendered" in form.fields)


def test_only_staff_with_the_sell_permission_reach_the_screen(counter, django_app):
    assert django_app.get(sell_url(counter)).status_code == 302  # signed out: to sign in
    django_app.set_user(UserFactory(is_staff=True))
    assert django_app.get(sell_url(counter), status=403).status_code == 403
    assert django_app.get(reverse("pos:registers"), status=403).status_code == 403


def test_the_shop_staff_group_may_sell(counter, django_app):
    from django.contrib.auth.models import Group

    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name="Shop staff"))
    django_app.set_user(clerk)
    assert django_app.get(sell_url(counter)).status_code == 200


def test_scan_then_cash_with_change_then_receipt(counter, screen):
    page = screen.get(sell_url(counter))
    page = scan(page, "4006381333931")
    page = scan(page, "shirt-m")  # the SKU, any case: one more of the same
    assert "Linen shirt" in page.text and page.html.select_one("#sale-total").text == "$39.98"

    form = pay_form(page)
    form["cash_tendered"] = "50"
    receipt = form.submit().follow()

    assert receipt.html.select_one("#receipt-total").text == "$39.98"
    assert receipt.html.select_one("#receipt-change").text == "$10.02"
    order = Order.objects.get()
    assert order.channel_id == counter.channel.pk
    assert StockLevel.objects.get(variant=counter.shirt, location=counter.shop).on_hand == 1
    # the same form sent again (the answer was lost): the same receipt, nothing recorded twice
    again = form.submit().follow()
    assert again.request.path == receipt.request.path
    assert Sale.objects.count() == 1


def test_a_name_lists_the_matches_and_nothing_found_says_so(counter, screen):
    page = scan(screen.get(sell_url(counter)), "zzz-nothing")
    assert "Nothing sold here matches" in page.text
    f.VariantFactory(sku="SHIRT-L", product=counter.shirt.product)
    page = screen.post(reverse("pos:scan", kwargs={"session_id": counter.session.pk}),
                       {"code": "linen", "csrfmiddlewaretoken": page.forms[0]["csrfmiddlewaretoken"].value})
    assert "SHIRT-L" in page.text and "SHIRT-M" in page.text


def test_not_enough_tendered_is_refused_plainly_and_changes_nothing(counter, screen):
    page = scan(screen.get(sell_url(counter)), "4006381333931")
    form = pay_form(page)
    form["cash_tendered"] = "5"
    refused = form.submit(status=400)
    assert "$19.99 is still to pay" in refused.text
    assert not Order.objects.exists()


def test_customer_looked_up_by_phone(counter, screen):
    customer = CustomerFactory(email="ana@example.com", phone="+44 20 7946 0018")
    page = screen.get(sell_url(counter))
    form = next(form for form in page.forms.values() if "q" in form.fields)
    form["q"] = "020 7946 0018"
    page = form.submit().follow()
    assert page.html.select_one("#sale-customer").text.startswith("ana@example.com")
    page = scan(page, "4006381333931")
    form = pay_form(page)
    form["cash_tendered"] = "19.99"
    form.submit().follow()
    assert Order.objects.get().customer_id == customer.pk


def test_open_and_close_a_register_through_the_forms(counter, screen):
    from pos.models import Register

    till = Register.objects.create(name="Till 2", location=counter.shop)
    page = screen.get(reverse("pos:registers"))
    form = next(form for form in page.forms.values() if form.action.endswith(f"/registers/{till.pk}/open/"))
    form["opening_float"] = "80.00"
    sell_page = form.submit().follow()
    close = sell_page.click("Close register")
    form = close.forms[1] if len(close.forms) > 1 else close.forms[0]
    form["counted_cash"] = "75.50"
    closed = form.submit().follow()
    assert closed.html.select_one("#difference").text == "-$4.50"


def test_sell_screen_query_budget_does_not_grow_with_the_cart(counter, screen, django_assert_max_num_queries):
    variants = [f.VariantFactory(price=Decimal("3.00")) for _ in range(8)]
    for variant in variants:
        f.StockLevelFactory(variant=variant, location=counter.shop, on_hand=2)
    screen.get(sell_url(counter))  # starts the sale
    session = screen.session
    key = f"pos:sale:{counter.session.pk}"
    cart = session[key]
    cart["lines"] = [[v.pk, 1, False] for v in variants] + [[counter.mug.pk, 1, True]]
    session[key] = cart
    session.save()

    with django_assert_max_num_queries(10) as queries:
        page = screen.get(sell_url(counter))
    assert page.text.count("on the shelf") == 8, len(queries)


def test_endless_aisle_through_the_screen(counter, screen):
    page = scan(screen.get(sell_url(counter)), "MUG")  # none on the shelf, 4 in the warehouse
    assert "Not enough on the shelf: ship it from the warehouse?" in page.text
    assert page.html.select_one("button.pos-complete").has_attr("disabled")
    ship = next(form for form in page.forms.values() if len(form.fields.get("action", ())) > 1)
    page = ship.submit("action", value="ship").follow()
    assert "Shipped from the warehouse" in page.text
    assert not page.html.select_one("button.pos-complete").has_attr("disabled")

    form = pay_form(page)
    form["cash_tendered"] = "10"
    form["email"] = "ana@example.com"
    form["name"] = "Ana Lima"
    refused = form.submit(status=400)
    assert "shipping address" in refused.html.select_one('.pos-messages').text
    form = pay_form(refused)
    form["line1"], form["city"], form["postal_code"], form["country"] = "1 High St", "London", "N1 1AA", "gb"
    receipt = form.submit().follow()

    assert "to be shipped" in receipt.text and "$2.00" in receipt.html.select_one("#receipt-change").text
    order = Order.objects.get()
    assert order.shipping_address["country"] == "GB" and order.email == "ana@example.com"
    assert order.lines.get().allocations.get().stock_level.location_id == counter.warehouse.pk
    assert order.fulfilment_status == "unfulfilled" and order.payment_status == "paid"


def test_split_payment_with_a_gift_card_code_typed_at_the_counter(counter, screen):
    from giftcards.services import issue_gift_card

    _card, code = issue_gift_card(amount=Decimal("5.00"), user=counter.staff, reason="test")
    page = scan(screen.get(sell_url(counter)), "4006381333931")
    form = pay_form(page)
    form["gift_card_code"] = code
    form["card_amount"] = "10.00"
    form["card_reference"] = "AUTH 991"
    form["cash_tendered"] = "5.00"
    receipt = form.submit().follow()

    assert receipt.html.select_one("#receipt-change").text == "$0.01"
    assert "Gift card" in receipt.text and "AUTH 991" in receipt.text


def test_a_verified_number_finds_its_customer_alone_and_unverified_matches_say_so(counter, screen):
    verified = CustomerFactory(email="ana@example.com", phone="+44 20 7946 0018", verified_phone="+442079460018")
    CustomerFactory(email="someone.else@example.com", phone="+44 20 7946 0018")  # typed the same number once
    page = screen.get(sell_url(counter))
    form = next(form for form in page.forms.values() if "q" in form.fields)
    form["q"] = "+44 20 7946 0018"
    page = form.submit().follow()
    customer = page.html.select_one("#sale-customer").text
    assert customer.startswith("ana@example.com") and "verified" in customer and "not verified" not in customer
    assert verified.pk == screen.session[f"pos:sale:{counter.session.pk}"]["customer_id"]

    # Without a verified owner the cashier chooses among the numbers' typers, marked unverified.
    page = screen.get(sell_url(counter))
    form = next(form for form in page.forms.values() if "q" in form.fields)
    form["q"] = "0113 496 0000"
    CustomerFactory(email="b1@example.com", phone="0113 496 0000")
    CustomerFactory(email="b2@example.com", phone="+44 113 496 0000")
    page = form.submit()
    choices = [button.text for button in page.html.select("button[name=customer]")]
    assert len(choices) == 2 and all("(not verified)" in text for text in choices)


def test_the_cashier_verifies_the_chosen_customers_phone_and_it_is_recorded(counter, screen):
    from customers.models import Activity

    ana = CustomerFactory(email="ana@example.com", phone="+44 20 7946 0018")
    page = screen.get(sell_url(counter))
    form = next(form for form in page.forms.values() if "q" in form.fields)
    form["q"] = "ana@example.com"
    page = form.submit().follow()
    assert "not verified" in page.html.select_one("#sale-customer").text
    form = page.forms["verify-phone"]
    assert form["phone"].value == "+44 20 7946 0018"
    page = form.submit().follow()
    ana.refresh_from_db()
    assert ana.verified_phone and "verify-phone" not in page.forms
    activity = Activity.objects.get(customer=ana, kind=Activity.Kind.PHONE_VERIFIED)
    assert activity.data["by"] == counter.staff.pk and counter.session.register.location.name in activity.data["note"]


def test_verifying_without_a_customer_or_a_taken_number_changes_nothing(counter, screen):
    CustomerFactory(email="owner@example.com", verified_phone="+442079460018")
    ana = CustomerFactory(email="ana@example.com", phone="+44 20 7946 0018")
    page = screen.get(sell_url(counter))
    token = page.forms["verify-phone"]["csrfmiddlewaretoken"].value if "verify-phone" in page.forms else \
        next(iter(page.forms.values()))["csrfmiddlewaretoken"].value
    url = reverse("pos:verify_phone", kwargs={"session_id": counter.session.pk})
    response = screen.post(url, {"phone": "+44 20 7946 0018", "csrfmiddlewaretoken": token}, expect_errors=True)
    assert response.status_code == 400 and "Choose the customer" in response.text
    form = next(form for form in page.forms.values() if "q" in form.fields)
    form["q"] = "ana@example.com"
    page = form.submit().follow()
    response = page.forms["verify-phone"].submit(expect_errors=True)
    assert response.status_code == 400 and "already verified for another customer" in response.text
    ana.refresh_from_db()
    assert ana.verified_phone == ""


def test_endless_aisle_ships_only_from_a_warehouse_that_ships_online_orders(counter, screen):
    # The first warehouse's stock is for transfers to the shops only; a second one ships.
    counter.warehouse.ships_online_orders = False
    counter.warehouse.save()
    page = scan(screen.get(sell_url(counter)), "MUG")  # none on the shelf, 4 in the warehouse that does not ship
    assert "Not enough in stock." in page.text
    assert "Ship to customer" not in page.text

    shipper = f.LocationFactory(code="east", name="East warehouse", position=5)
    f.StockLevelFactory(variant=counter.mug, location=shipper, on_hand=2)
    page = screen.get(sell_url(counter))
    ship = next(form for form in page.forms.values() if len(form.fields.get("action", ())) > 1)
    page = ship.submit("action", value="ship").follow()
    assert "Shipped from the warehouse (2 there)" in page.text
    form = pay_form(page)
    form["cash_tendered"], form["email"], form["name"] = "10", "ana@example.com", "Ana Lima"
    form["line1"], form["city"], form["postal_code"], form["country"] = "1 High St", "London", "N1 1AA", "gb"
    form.submit().follow()

    allocation = Order.objects.get().lines.get().allocations.get()
    assert allocation.stock_level.location_id == shipper.pk  # never the warehouse that does not ship
    assert StockLevel.objects.get(variant=counter.mug, location=counter.warehouse).reserved == 0
