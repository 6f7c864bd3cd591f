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
