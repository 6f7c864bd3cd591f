import pytest

from notifications import links
from orders.links import order_number_from_token

from .conftest import make_order

pytestmark = pytest.mark.django_db


def test_order_url_is_the_signed_order_page_on_the_public_site(email_settings):
    order = make_order()

    url = links.order_url(order)

    prefix = f"https://shop.example/orders/{order.number}:"
    assert url.startswith(prefix) and url.endswith("/")
    assert order_number_from_token(url.removeprefix("https://shop.example/orders/").rstrip("/")) == order.number


def test_order_url_falls_back_to_the_home_page_without_the_orders_pages(email_settings):
    email_settings.ROOT_URLCONF = "notifications.tests.urls_without_orders"

    assert links.order_url(make_order()) == "https://shop.example/"


@pytest.mark.parametrize("site_url", ["https://shop.example", "https://shop.example/"])
def test_absolute_url_joins_with_one_slash(settings, site_url):
    settings.SITE_URL = site_url

    assert links.absolute_url("/orders/x/") == "https://shop.example/orders/x/"
    assert links.absolute_url("") == "https://shop.example/"
