"""GET /healthz: 200 with the state of database, cache and broker; 503 when one is down."""
import os
import socket

import pytest
from django.core.cache.backends.locmem import LocMemCache

import conftest

pytestmark = pytest.mark.django_db


class BrokenCache(LocMemCache):
    """A cache whose writes vanish, as when the cache server is gone or full."""

    def set(self, *args, **kwargs):
        raise ConnectionError("cache server went away")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # free once closed: nothing listens there


def test_healthz_reports_every_dependency(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["vendor"] in ("sqlite", "postgresql")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_without_a_broker_reports_eager_mode(client, settings):
    settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = client.get("/healthz")

    assert response.json()["checks"]["broker"]["mode"] == "eager"


def test_healthz_is_503_when_the_broker_is_down(client, settings):
    port = _closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert str(port) in body["checks"]["broker"]["error"]  # the broker the settings name was tried
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_the_cache_fails(client, settings):
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.BrokenCache", "LOCATION": "broken"}}

    response = client.get("/healthz")

    assert response.status_code == 503
    cache_state = response.json()["checks"]["cache"]
    assert cache_state["ok"] is False
    assert "cache server went away" in cache_state["error"]


def test_healthz_is_503_when_the_database_fails(client, monkeypatch):
    from shop import health

    def no_database():
        raise ConnectionError("database is down")

    monkeypatch.setitem(health.CHECKS, "database", no_database)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "ConnectionError: database is down",
                                                     "ms": response.json()["checks"]["database"]["ms"]}


def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.redis
def test_healthz_checks_the_real_redis_broker_and_cache(client, settings):
    import redis

    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        conftest.missing_service(f"Redis at REDIS_URL is not reachable ({exc})")
    assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]

    response = client.get("/healthz")

    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks["broker"] == {"ok": True, "mode": "broker", "ms": checks["broker"]["ms"]}
    assert checks["cache"]["backend"] == "RedisCache" and checks["cache"]["ok"] is True
