from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from customers import models


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = models.Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Buyer{n}")


class AddressFactory(DjangoModelFactory):
    class Meta:
        model = models.Address

    customer = factory.SubFactory(CustomerFactory)
    name = "Ada Lovelace"
    line1 = "12 Analytical Row"
    city = "Springfield"
    region = "IL"
    postal_code = "62701"
    country = "US"


class NoteFactory(DjangoModelFactory):
    class Meta:
        model = models.Note

    customer = factory.SubFactory(CustomerFactory)
    body = "Called about a late parcel."


class TagFactory(DjangoModelFactory):
    class Meta:
        model = models.Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


def paid_order_for(customer: models.Customer, *, total: Decimal = Decimal("50.00"), **fields):
    """A paid order of `customer` (no lines, no stock): enough for stats, RFM and segments."""
    from django.utils import timezone

    from orders.models import Order
    from orders.tests.factories import OrderFactory

    fields.setdefault("paid_at", timezone.now())
    return OrderFactory(customer=customer, email=customer.email, user=customer.user, payment_status=Order.PaymentStatus.PAID,
                        subtotal=total, total=total, **fields)
