import pytest

from shop.pytest_plugin import redis_url_for_worker


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/1", 0, "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/1", 1, "redis://127.0.0.1:6379/2"),
        ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/1"),
        ("redis://:secret@cache.example:6380/3?socket_timeout=2", 2, "redis://:secret@cache.example:6380/5?socket_timeout=2"),
        ("rediss://cache.example/0", 1, "rediss://cache.example/1"),
    ],
)
def test_each_worker_gets_its_own_redis_database(url, worker, expected):
    assert redis_url_for_worker(url, worker) == expected


def test_a_worker_past_the_last_database_is_refused():
    with pytest.raises(pytest.UsageError):
        redis_url_for_worker("redis://127.0.0.1:6379/15", 1)


def _migration_rows():
    from django.contrib.auth.models import Group

    from checkout.models import ShippingMethod
    from customers.models import Segment

    return (
        {(group.name, codename) for group in Group.objects.all()
         for codename in group.permissions.values_list("codename", flat=True)},
        set(Segment.objects.values_list("name", flat=True)),
        set(ShippingMethod.objects.values_list("name", "price")),
    )


@pytest.mark.django_db
def test_what_a_flush_takes_the_migrations_own_functions_put_back():
    # Under xdist a worker may run a transactional test (which empties every table) before tests
    # that rely on the staff groups or the default shipping; conftest restores them after it.
    from django.contrib.auth.models import Group

    from checkout.models import ShippingZone
    from conftest import restore_migration_data
    from customers.models import Segment

    made_by_migrate = _migration_rows()
    assert all(made_by_migrate)
    Group.objects.all().delete()
    Segment.objects.all().delete()
    ShippingZone.objects.all().delete()

    restore_migration_data()

    assert _migration_rows() == made_by_migrate
