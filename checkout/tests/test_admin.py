"""Staff configure shipping and taxes in the admin."""
from decimal import Decimal

import pytest

from checkout.models import ShippingMethod, ShippingRateBand, ShippingZone, TaxRate

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser(username="boss", email="b@example.com", password="x"))
    return client


def test_the_checkout_admin_pages_open(staff_client, shipping):
    for url in ("/admin/checkout/shippingzone/", "/admin/checkout/shippingmethod/", "/admin/checkout/taxrate/",
                "/admin/checkout/shippingzone/add/", "/admin/checkout/taxrate/add/",
                f"/admin/checkout/shippingzone/{shipping.domestic.pk}/change/",
                f"/admin/checkout/shippingmethod/{shipping.heavy.pk}/change/"):
        assert staff_client.get(url).status_code == 200, url


def test_staff_add_a_zone_and_a_weight_band_method(staff_client):
    response = staff_client.post("/admin/checkout/shippingzone/add/", {
        "name": "Nordics", "countries": "se, no;dk", "position": "3",
        "methods-TOTAL_FORMS": "0", "methods-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content[:2000]
    zone = ShippingZone.objects.get(name="Nordics")
    assert zone.countries == "SE, NO, DK"

    response = staff_client.post("/admin/checkout/shippingmethod/add/", {
        "zone": zone.pk, "name": "Posti", "kind": "weight", "price": "0", "free_above": "", "is_active": "on",
        "position": "0", "bands-TOTAL_FORMS": "2", "bands-INITIAL_FORMS": "0",
        "bands-0-up_to": "2", "bands-0-price": "7.50", "bands-1-up_to": "20", "bands-1-price": "19.00",
    })
    assert response.status_code == 302, response.content[:2000]
    method = ShippingMethod.objects.get(name="Posti")
    assert list(ShippingRateBand.objects.filter(method=method).values_list("up_to", "price")) == [
        (Decimal("2.000"), Decimal("7.50")), (Decimal("20.000"), Decimal("19.00"))]


def test_a_bad_country_code_or_rate_is_refused(staff_client):
    response = staff_client.post("/admin/checkout/shippingzone/add/", {
        "name": "Bad", "countries": "USA", "position": "0", "methods-TOTAL_FORMS": "0", "methods-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200 and not ShippingZone.objects.filter(name="Bad").exists()
    response = staff_client.post("/admin/checkout/taxrate/add/", {"country": "de", "tax_class": "", "name": "VAT",
                                                                  "rate": "19"})
    assert response.status_code == 302 and TaxRate.objects.get().country == "DE"


def test_the_default_shipping_lets_a_fresh_store_sell_at_home(db):
    # Created by the data migration (checkout/migrations/0002_default_shipping.py).
    methods = ShippingMethod.objects.filter(zone__countries__contains="US", is_active=True)
    assert {m.name: (m.price, m.free_above) for m in methods} == {
        "Domestic standard (3–5 days)": (Decimal("5.00"), Decimal("75.00")),
        "Express (1–2 days)": (Decimal("15.00"), None),
    }
