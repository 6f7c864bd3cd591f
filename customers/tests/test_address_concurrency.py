"""Two tabs changing one address book at once (PostgreSQL, real threads, each its own
connection): they queue on the customer's row lock instead of one failing on the
one-default constraint."""
import pytest

from conftest import run_together
from customers.models import Address
from customers.services.addresses import create_address, set_default_address

from .factories import AddressFactory, CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_defaults_chosen_at_once_leave_exactly_one_default():
    customer = CustomerFactory()
    home = AddressFactory(customer=customer, is_default_shipping=True)
    work = AddressFactory(customer=customer, line1="1 Office Park")
    cabin = AddressFactory(customer=customer, line1="3 Lake Road")
    candidates = [work, cabin]

    results = run_together(lambda i: set_default_address(address=candidates[i], kind="shipping"), 2)

    assert not [r for r in results if isinstance(r, Exception)], results
    defaults = list(Address.objects.filter(customer=customer, is_default_shipping=True))
    assert len(defaults) == 1 and defaults[0] in (work, cabin) and defaults[0] != home


def test_two_new_default_addresses_added_at_once_both_land():
    customer = CustomerFactory()
    AddressFactory(customer=customer, is_default_billing=True)
    data = [{"name": "A", "line1": f"{n} Main St", "city": "Springfield", "region": "IL",
             "postal_code": "62701", "country": "US"} for n in (1, 2)]

    results = run_together(lambda i: create_address(customer=customer, data=data[i], default_billing=True), 2)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Address.objects.filter(customer=customer).count() == 3
    assert Address.objects.filter(customer=customer, is_default_billing=True).count() == 1
