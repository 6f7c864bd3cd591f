"""services.accounts and services.addresses on their own: the cases the flows do not reach."""
from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.tests.factories import ProductFactory
from customers.models import Activity, Address, Customer, WishlistItem
from customers.services.accounts import AccountConflict, attach_customer, change_customer_email
from customers.services.addresses import save_checkout_address, set_default_address
from orders.tests.factories import OrderFactory

from .factories import AddressFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_attaching_again_only_takes_guest_orders_placed_since():
    user = UserFactory(email="again@example.com")
    customer = attach_customer(user=user, email="again@example.com")
    OrderFactory(customer=customer, email="again@example.com")

    attach_customer(user=user, email="Again@Example.com")
    attach_customer(user=user, email="again@example.com")

    assert customer.activities.filter(kind=Activity.Kind.GUEST_ORDERS_ATTACHED).count() == 1
    assert Customer.objects.filter(email="again@example.com").count() == 1


def test_orders_from_before_the_crm_with_the_same_email_attach_too():
    user = UserFactory(email="old@example.com")
    legacy = OrderFactory(customer=None, email="OLD@example.com")

    customer = attach_customer(user=user, email="old@example.com")

    legacy.refresh_from_db()
    assert legacy.user_id == user.pk and legacy.customer_id == customer.pk


def test_another_accounts_customer_is_never_taken_over():
    owner = UserFactory(email="owner@example.com")
    attach_customer(user=owner, email="owner@example.com")
    intruder = UserFactory(email="intruder@example.com")
    attach_customer(user=intruder, email="intruder@example.com")

    with pytest.raises(AccountConflict):
        attach_customer(user=UserFactory(), email="owner@example.com")
    with pytest.raises(AccountConflict):
        change_customer_email(user=intruder, new_email="owner@example.com")

    assert Customer.objects.get(email="owner@example.com").user_id == owner.pk
    assert Customer.objects.get(user=intruder).email == "intruder@example.com"


def test_a_merge_keeps_one_wishlist_row_per_product_and_adds_up_the_figures():
    user = UserFactory(email="me@example.com")
    me = attach_customer(user=user, email="me@example.com")
    guest = CustomerFactory(email="guest@example.com", order_count=2, total_spent=Decimal("80.00"))
    shared, other = ProductFactory(), ProductFactory()
    WishlistItem.objects.create(customer=me, product=shared, price_when_added=Decimal("10.00"))
    WishlistItem.objects.create(customer=guest, product=shared, price_when_added=Decimal("12.00"))
    WishlistItem.objects.create(customer=guest, product=other, price_when_added=Decimal("5.00"))

    change_customer_email(user=user, new_email="guest@example.com")

    me.refresh_from_db()
    assert sorted(me.wishlist.values_list("product_id", "price_when_added")) == sorted(
        [(shared.pk, Decimal("10.00")), (other.pk, Decimal("5.00"))])
    assert (me.order_count, me.total_spent) == (2, Decimal("80.00"))


def test_one_default_of_each_kind_and_checkout_saves_no_duplicates():
    customer = CustomerFactory()
    first = AddressFactory(customer=customer, is_default_shipping=True)
    second = AddressFactory(customer=customer, line1="2 Other St")

    set_default_address(address=second, kind="shipping")
    with pytest.raises(ValueError):
        set_default_address(address=first, kind="gift")

    assert list(Address.objects.filter(customer=customer, is_default_shipping=True)) == [second]
    again = save_checkout_address(customer=customer, address=first.as_order_address())
    assert again == first and Address.objects.filter(customer=customer).count() == 2
    assert save_checkout_address(customer=customer, address={"name": "Pick Up", "country": "US"}) is None


def test_an_account_never_gets_another_accounts_customer_by_its_email(client):
    # given: the owner's customer holds an address that a second account also has as its own
    # (its verification met an AccountConflict, so it has no customer of its own yet)
    from customers.services import customer_for_order, customer_for_user

    owner = UserFactory(email="shared@example.com")
    owners = attach_customer(user=owner, email="shared@example.com")
    AddressFactory(customer=owners, line1="1 Owner Street")
    other = UserFactory(email="shared@example.com")

    # when / then: neither its account pages nor its orders reach the owner's record
    assert customer_for_user(user=other).pk != owners.pk
    assert customer_for_order(email="shared@example.com", user=other).pk != owners.pk
    client.force_login(other)
    assert "1 Owner Street" not in client.get("/account/addresses/").content.decode()
    assert Customer.objects.get(pk=owners.pk).user_id == owner.pk


def test_a_signed_in_shopper_without_a_customer_orders_as_their_account_not_as_the_typed_email():
    # A guest's record with the email typed at checkout is not the signed-in shopper's.
    from customers.services import customer_for_order

    guest = CustomerFactory(email="someone.else@example.com")
    user = UserFactory(email="me@example.com")

    customer = customer_for_order(email="someone.else@example.com", user=user)

    assert customer.pk != guest.pk and customer.user_id == user.pk and customer.email == "me@example.com"


def test_a_merge_keeps_the_guest_records_campaign_emails():
    # The campaign emails a guest record received are part of its history (and of the campaign's
    # figures): the merge moves them, one per campaign and customer as the constraint wants.
    from marketing.models import Campaign, CampaignMessage

    user = UserFactory(email="merge.owner@example.com")
    account = attach_customer(user=user, email="merge.owner@example.com")
    guest = CustomerFactory(email="merge.guest@example.com")
    spring, summer = (Campaign.objects.create(name=n, subject=n, html_body="<p>x</p>", text_body="x")
                      for n in ("Spring", "Summer"))
    CampaignMessage.objects.create(campaign=spring, customer=account, email=account.email)
    CampaignMessage.objects.create(campaign=spring, customer=guest, email=guest.email)
    CampaignMessage.objects.create(campaign=summer, customer=guest, email=guest.email)

    change_customer_email(user=user, new_email="merge.guest@example.com")

    assert not Customer.objects.filter(pk=guest.pk).exists()
    assert sorted(CampaignMessage.objects.filter(customer=account).values_list("campaign__name", "email")) == [
        ("Spring", "merge.owner@example.com"), ("Summer", "merge.guest@example.com"),
    ]


def test_an_account_takes_over_a_guest_record_only_with_its_address_verified(client):
    # Accounts that sign in without allauth's verification (staff made with createsuperuser or
    # in the admin) have an email nobody proved: it must not hand them a guest's record.
    from allauth.account.models import EmailAddress

    from customers.services import customer_for_user

    guest = CustomerFactory(email="guest.buyer@example.com")
    AddressFactory(customer=guest, line1="7 Guest Row")
    OrderFactory(customer=guest, email="guest.buyer@example.com")
    staff = UserFactory(email="Guest.Buyer@example.com", is_staff=True)

    mine = customer_for_user(user=staff)
    client.force_login(staff)
    page = client.get("/account/addresses/").content.decode()

    assert mine.pk != guest.pk and "7 Guest Row" not in page
    assert Customer.objects.get(pk=guest.pk).user_id is None

    # Once the address is proved, the same call joins the guest record, as verification does.
    proved = UserFactory(email="proved@example.com")
    proved_guest = CustomerFactory(email="proved@example.com")
    EmailAddress.objects.create(user=proved, email="proved@example.com", verified=True, primary=True)
    assert customer_for_user(user=proved).pk == proved_guest.pk


def test_an_account_on_a_placeholder_record_takes_its_address_once_verified():
    # An account that got a placeholder record (its address not proved yet) joins the guest
    # record with that address when it verifies it, as a sign-up's verification does.
    from allauth.account.models import EmailAddress

    from customers.services import customer_for_user
    from customers.signals import on_email_confirmed

    guest = CustomerFactory(email="late.proof@example.com")
    order = OrderFactory(customer=guest, email="late.proof@example.com")
    user = UserFactory(email="late.proof@example.com")
    placeholder = customer_for_user(user=user)
    assert placeholder.email.endswith("@invalid")

    address = EmailAddress.objects.create(user=user, email="late.proof@example.com", verified=True, primary=True)
    on_email_confirmed(sender=EmailAddress, request=None, email_address=address)

    customer = Customer.objects.get(user=user)
    order.refresh_from_db()
    assert customer.email == "late.proof@example.com" and not Customer.objects.filter(pk=guest.pk).exists()
    assert (order.customer_id, order.user_id) == (customer.pk, user.pk)
