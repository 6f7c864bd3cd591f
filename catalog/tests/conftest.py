"""Catalog test fixtures shared by several modules."""
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings


@pytest.fixture(scope="module")
def demo_catalog(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo catalog's first 60 products with their pictures, as `make run` shows them.

    Seeded once per test module (a second or two) and removed after it, so only for tests that
    leave the catalog as it is (what they write in their own transaction is rolled back as usual).
    """
    from catalog.models import Attribute, Brand, Category, Location, Option, Product, ProductImage

    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("demo-media")):
        call_command("seed_demo", "--products", "60", "--customers", "0", stdout=StringIO())
    yield
    with django_db_blocker.unblock():
        ProductImage.objects.all().delete()
        Product.objects.all().delete()
        while Category.objects.exists():  # leaves first: a parent is protected by its children
            Category.objects.filter(children__isnull=True).delete()
        for model in (Brand, Option, Attribute, Location):
            model.objects.all().delete()
