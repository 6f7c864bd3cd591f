"""Staff verify a customer's phone number on the customer page, as a browser submits the forms,
and remove the verification; counter sales and WhatsApp senders then attach by that number."""
import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from customers.models import Activity, Customer
from customers.services import customer_for_order
from customers.tests.factories import CustomerFactory, UserFactory
from customers.tests.test_crm_admin import staff_groups  # noqa: F401  (the migrations' groups)

pytestmark = pytest.mark.django_db


def change_url(customer: Customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


@pytest.fixture
def manager_app(django_app, staff_groups):  # noqa: F811
    user = UserFactory(username="crm-manager", is_staff=True)
    user.groups.add(Group.objects.get(name="Customer managers"))
    django_app.set_user(user)
    return django_app


def test_a_manager_verifies_a_number_then_a_counter_order_giving_it_attaches(manager_app):
    ada = CustomerFactory(email="ada@example.com", phone="+44 20 7946 0018")
    page = manager_app.get(change_url(ada))
    form = page.forms["verify-phone-form"]
    assert form["phone"].value == "+44 20 7946 0018"  # the number the customer gave, to confirm
    form["note"] = "Passport seen at the Leeds counter"
    page = form.submit().follow()
    assert "Phone number verified." in page.text
    ada.refresh_from_db()
    assert ada.verified_phone and ada.phone_verified_at is not None
    assert "verified on" in page.html.select_one("#crm-phone").text
    activity = Activity.objects.get(customer=ada, kind=Activity.Kind.PHONE_VERIFIED)
    assert activity.data["note"] == "Passport seen at the Leeds counter"
    assert "Passport seen at the Leeds counter" in page.html.select_one("#crm-timeline").text
    # A counter order with a new email but this verified number is Ada's.
    assert customer_for_order(email="ada.work@example.com", phone="+44 20 7946 0018", phone_verified=True) == ada


def test_a_number_verified_for_someone_else_is_refused_and_changes_nothing(manager_app):
    CustomerFactory(email="first@example.com", verified_phone="+15550100100")
    second = CustomerFactory(email="second@example.com", phone="+1 555 010 0100")
    form = manager_app.get(change_url(second)).forms["verify-phone-form"]
    form["note"] = "Called back"
    page = form.submit().follow()
    assert "already verified for another customer" in page.text
    second.refresh_from_db()
    assert second.verified_phone == "" and second.phone_verified_at is None
    assert not Activity.objects.filter(customer=second, kind=Activity.Kind.PHONE_VERIFIED).exists()


def test_how_it_was_checked_is_required(manager_app):
    ada = CustomerFactory(email="ada@example.com", phone="+44 20 7946 0018")
    page = manager_app.get(change_url(ada)).forms["verify-phone-form"].submit().follow()
    assert "give the number and how it was checked" in page.text
    ada.refresh_from_db()
    assert ada.verified_phone == ""


def test_removing_the_verification_needs_a_reason_and_is_on_the_timeline(manager_app):
    ada = CustomerFactory(email="ada@example.com", verified_phone="+442079460018")
    page = manager_app.get(change_url(ada))
    page = page.forms["unverify-phone-form"].submit().follow()  # no reason
    assert "Say why the verification is removed." in page.text
    ada.refresh_from_db()
    assert ada.verified_phone == "+442079460018"
    form = page.forms["unverify-phone-form"]
    form["reason"] = "Number given up, customer called"
    page = form.submit().follow()
    assert "no longer verified" in page.text
    ada.refresh_from_db()
    assert ada.verified_phone == "" and ada.phone_verified_at is None
    activity = Activity.objects.get(customer=ada, kind=Activity.Kind.PHONE_UNVERIFIED)
    assert activity.message == "+442079460018" and activity.data["reason"] == "Number given up, customer called"
    # The number no longer leads to Ada.
    assert customer_for_order(email="new@example.com", phone="+442079460018", phone_verified=True) != ada


def test_staff_who_may_only_view_customers_see_no_form_and_are_refused(client, staff_groups):  # noqa: F811
    user = UserFactory(username="support-agent", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    ada = CustomerFactory(email="ada@example.com", phone="+44 20 7946 0018", verified_phone="+442079460018")
    page = client.get(change_url(ada))
    assert page.status_code == 200 and b"verify-phone-form" not in page.content
    assert b"unverify-phone-form" not in page.content
    for name, data in (("verify_phone", {"phone": "+44 20 7946 0019", "note": "x"}), ("unverify_phone", {"reason": "x"})):
        response = client.post(reverse(f"admin:customers_customer_{name}", args=[ada.pk]), data)
        assert response.status_code == 403
    ada.refresh_from_db()
    assert ada.verified_phone == "+442079460018"


def test_the_verify_url_refuses_get(manager_app):
    ada = CustomerFactory(email="ada@example.com")
    response = manager_app.get(reverse("admin:customers_customer_verify_phone", args=[ada.pk]), expect_errors=True)
    assert response.status_code == 405


def test_on_the_demo_store_a_customer_with_shipped_and_refunded_orders_is_verified_then_saved_unchanged(
        admin_app, demo_catalog):
    """The demo store `make run` seeds (products with pictures, customers whose orders were paid,
    shipped and refunded): the page opens, the number is verified, and the profile form saved as
    it stands still saves."""
    from customers.demo import seed_demo_customers
    from orders.models import Order
    from payments.models import Refund

    demo_catalog(products=8)
    seed_demo_customers(count=60)
    refunded = Refund.objects.values("payment__order__customer")
    customer = (Customer.objects.filter(pk__in=refunded, orders__shipments__isnull=False)
                .exclude(phone="").distinct().first())
    assert customer is not None and Order.objects.filter(customer=customer).count() >= 1

    page = admin_app.get(change_url(customer))
    form = page.forms["verify-phone-form"]
    form["note"] = "Driving licence seen at the counter"
    page = form.submit().follow()
    assert "Phone number verified." in page.text, page.html.select_one(".messagelist")
    customer.refresh_from_db()
    assert customer.verified_phone.startswith("+")

    saved = page.forms["customer_form"].submit("_continue").follow()
    assert "was changed successfully" in saved.text
    customer.refresh_from_db()
    assert customer.verified_phone and customer.phone_verified_at is not None
