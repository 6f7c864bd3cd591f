"""Catalog test fixtures shared by several modules."""
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings


@pytest.fixture(scope="module")
def seeded_demo_module(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo catalog's first 60 products with their pictures, as `make run` shows them.

    Seeded once per test module (a second or two); the database is emptied after it (the
    migrations' rows put back), so only for tests that leave the catalog as it is (what they
    write in their own transaction is rolled back as usual).
    """
    from conftest import empty_the_database

    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("demo-media")):
        call_command("seed_demo", "--products", "60", "--customers", "0", stdout=StringIO())
    yield
    with django_db_blocker.unblock():
        # Everything seed_demo wrote, not only the catalog: its chat FAQ and canned replies left
        # behind made a later module's "seeding adds 1 FAQ entry" fail on the same worker.
        empty_the_database()
