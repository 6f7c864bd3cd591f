"""Every checkout step runs under 25 queries, the same for a cart of one line and of ten.

Measured cold (cache cleared, so the category tree is read too), for a guest.
"""
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.tests import factories as f
from checkout.models import TaxRate
from orders.models import Order

from .conftest import address, fill_cart
from .test_views import KEY_INPUT

pytestmark = pytest.mark.django_db

# Placing: 25, whatever the number of lines, since a reservation also reads which products it sold
# out (one SELECT, catalog/invalidation.py: a sell-out changes cards and listings, a sale only the
# page); a sell-out also updates its categories' listing index rows in place (two more);
# and the live promotions are read, cold, in the order's transaction (one query when there are
# none; five active ones and a code: promotions/tests/test_query_budgets.py).
BUDGET = 28


@pytest.fixture
def ten_variants(db):
    category = f.CategoryFactory(name="Tools", slug="tools")
    warehouse = f.LocationFactory(code="warehouse")
    shop = f.LocationFactory(code="shop", name="Shop", pickup_allowed=True)
    size = f.OptionFactory(name="Size", slug="size")
    skus = []
    for n in range(10):
        product = f.ProductFactory(title=f"Widget {n}", slug=f"widget-{n}", category=category)
        variant = f.VariantFactory(product=product, sku=f"W-{n}", price=Decimal(10 + n), weight=Decimal("0.2"),
                                   option_values=[f.OptionValueFactory(option=size, slug=f"s{n}", value=f"S{n}")])
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=50)
        f.StockLevelFactory(variant=variant, location=shop, on_hand=5)
        skus.append(variant.sku)
    TaxRate.objects.create(country="US", rate=Decimal("8.25"))
    TaxRate.objects.create(country="US", tax_class="tools", rate=Decimal("5"))
    return skus


def step_costs(client, shipping, skus: list[str], delivery: str | None = None) -> dict[str, int]:
    fill_cart(client, *[(sku, 2) for sku in skus])
    costs = {}

    def measure(name, call):
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = call()
        assert response.status_code in (200, 302), (name, response.status_code)
        costs[name] = len(queries)
        return response

    measure("details", lambda: client.get("/checkout/"))
    measure("delivery_options", lambda: client.get("/checkout/delivery-options/", {"shipping-country": "US"}))
    delivery = delivery or f"method:{shipping.heavy.pk}"
    measure("details_post", lambda: client.post("/checkout/", address(delivery=delivery)))
    review = measure("review", lambda: client.get("/checkout/review/"))
    key = KEY_INPUT.search(review.content.decode())[1]
    placed = measure("place", lambda: client.post("/checkout/place/", {"idempotency_key": key}))
    assert placed["Location"].startswith("/payments/demo/")
    assert Order.objects.order_by("-pk").first().lines.count() == len(skus)
    return costs


@pytest.fixture
def costs(shipping, ten_variants):
    from django.test import Client

    return step_costs(Client(), shipping, ten_variants[:1]), step_costs(Client(), shipping, ten_variants)


def test_each_checkout_page_costs_the_same_for_one_line_and_ten_and_stays_in_budget(costs):
    one, ten = costs
    for step in ("details", "delivery_options", "details_post", "review"):
        assert one[step] == ten[step] < BUDGET, (step, one, ten)


def test_placing_costs_the_same_whatever_the_number_of_lines(costs):
    # Order lines and allocations are inserted in one query each, however many there are.
    one, ten = costs
    assert ten["place"] == one["place"], (one, ten)


def test_placing_stays_in_budget_whatever_the_number_of_lines(costs):
    one, ten = costs
    assert one["place"] == ten["place"] < BUDGET, (one, ten)


def test_placing_a_pickup_order_stays_in_budget_whatever_the_number_of_lines(shipping, ten_variants):
    # A pick-up reads the shops holding the cart instead of the delivery methods, and counts the
    # stock left for the low-stock alert with a query (its reservation locks one shop's rows only).
    from django.test import Client

    from catalog.models import Location

    pickup = f"pickup:{Location.objects.get(code='shop').pk}"
    one = step_costs(Client(), shipping, ten_variants[:1], delivery=pickup)
    ten = step_costs(Client(), shipping, ten_variants, delivery=pickup)
    assert Order.objects.filter(shipping_method_name__startswith="Pick up").count() == 2
    assert one["place"] == ten["place"] < BUDGET, (one, ten)


def test_placing_as_a_signed_in_customer_stays_in_budget(shipping, ten_variants):
    from django.test import Client

    from customers.tests.factories import CustomerFactory, UserFactory

    user = UserFactory(email="sam@example.com")
    CustomerFactory(email="sam@example.com", user=user)
    client = Client()
    client.force_login(user)
    costs = step_costs(client, shipping, ten_variants)
    assert Order.objects.get(user=user).customer.user == user
    assert costs["place"] < BUDGET, costs
