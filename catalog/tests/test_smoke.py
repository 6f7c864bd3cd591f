import pytest

from catalog.models import Product

from .factories import CategoryFactory, product_with_stock

pytestmark = pytest.mark.django_db


def test_product_page_renders_price_and_sanitised_description(client):
    product = product_with_stock(title="Rain Jacket", description='<p>Dry</p><script>alert("x")</script>')

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert b"$25.00" in response.content
    assert b"alert(" not in response.content


def test_products_under_a_hidden_parent_category_are_not_published(client):
    # given an active product in an active category whose parent is hidden
    parent = CategoryFactory(is_active=False)
    child = CategoryFactory(parent=parent)
    product = product_with_stock(category=child)

    # then neither the listing queryset nor the product page shows it
    assert not Product.objects.published().filter(pk=product.pk).exists()
    assert client.get(product.get_absolute_url()).status_code == 404


def test_meta_description_drops_script_contents_written_around_save(client):
    product = product_with_stock(description="<p>Warm</p>")
    Product.objects.filter(pk=product.pk).update(description="<p>Warm</p><script>steal()</script>")

    body = client.get(product.get_absolute_url()).content.decode()

    assert "steal()" not in body
