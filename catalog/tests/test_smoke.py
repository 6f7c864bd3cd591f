import pytest

from .factories import product_with_stock

pytestmark = pytest.mark.django_db


def test_product_page_renders_price_and_sanitised_description(client):
    product = product_with_stock(title="Rain Jacket", description='<p>Dry</p><script>alert("x")</script>')

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert b"$25.00" in response.content
    assert b"alert(" not in response.content
