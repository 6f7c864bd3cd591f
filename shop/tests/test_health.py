"""GET /healthz: 200 or 503 for everyone; what was checked only for staff and this machine.

Django's test client comes from 127.0.0.1 (this machine) unless a test says otherwise.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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


OUTSIDE = "203.0.113.7"


def test_the_public_answer_is_up_or_down_only(client):
    response = client.get("/healthz", REMOTE_ADDR=OUTSIDE)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_the_public_answer_when_something_is_down_is_503_and_nothing_more(client, monkeypatch):
    from shop import health

    def no_database():
        raise ConnectionError("database at 10.0.0.5 is down")

    monkeypatch.setitem(health.CHECKS, "database", no_database)

    response = client.get("/healthz", REMOTE_ADDR=OUTSIDE)

    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})


def test_staff_signed_in_see_the_details_from_anywhere(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="ops", is_staff=True))

    response = client.get("/healthz", REMOTE_ADDR=OUTSIDE)

    assert set(response.json()["checks"]) == {"database", "cache", "broker"}


def test_a_signed_in_shopper_sees_only_the_status(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="ada"))

    assert client.get("/healthz", REMOTE_ADDR=OUTSIDE).json() == {"status": "ok"}


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_this_machine_sees_the_details(client, address):
    assert "checks" in client.get("/healthz", REMOTE_ADDR=address).json()


@pytest.mark.parametrize(
    ("proxies", "headers", "details"),
    [
        # a proxy on this machine relays an outside request, and the settings do not know it is there
        (0, {"HTTP_X_FORWARDED_FOR": OUTSIDE}, False),
        (0, {"HTTP_X_FORWARDED_PROTO": "https"}, False),
        # one proxy, as configured: the address it appended is the client's
        (1, {"HTTP_X_FORWARDED_FOR": OUTSIDE}, False),
        (1, {"HTTP_X_FORWARDED_FOR": f"127.0.0.1, {OUTSIDE}"}, False),  # a forged first entry
        (1, {"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, True),  # a probe on this machine through the proxy
        (1, {}, True),  # straight to the app server from this machine
        (2, {"HTTP_X_FORWARDED_FOR": OUTSIDE}, False),  # fewer entries than proxies: not trusted
    ],
    ids=["unknown_proxy_xff", "unknown_proxy_proto", "proxied_outside", "forged_localhost", "proxied_local",
         "direct_local", "short_header"],
)
def test_a_proxied_request_from_outside_is_not_this_machine(client, settings, proxies, headers, details):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies

    body = client.get("/healthz", REMOTE_ADDR="127.0.0.1", **headers).json()

    assert ("checks" in body) is details


def test_head_tells_up_or_down_by_its_status(client, monkeypatch):
    from shop import health

    assert client.head("/healthz", REMOTE_ADDR=OUTSIDE).status_code == 200
    monkeypatch.setitem(health.CHECKS, "cache", lambda: {"ok": False})
    assert client.head("/healthz", REMOTE_ADDR=OUTSIDE).status_code == 503


def _silent_server() -> socket.socket:
    """Accepts connections (the kernel does, from the backlog) and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


def test_a_broker_that_refuses_fails_the_check_at_once(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False

    started = time.perf_counter()
    response = client.get("/healthz")
    elapsed = time.perf_counter() - started

    assert response.status_code == 503
    assert elapsed < 1.5, f"{elapsed:.1f} s: kombu's retry (2 s) is back"


def test_a_redis_that_never_answers_fails_healthz_within_seconds_not_never():
    # A fresh interpreter with the settings module's own Redis options, cache and broker both at
    # a server that accepts and stays silent (a hung or overloaded Redis).
    with _silent_server() as server:
        port = server.getsockname()[1]
        code = (
            "import time; from django.test import Client; started = time.perf_counter(); "
            "response = Client().get('/healthz'); "
            "print(response.status_code, round(time.perf_counter() - started, 1))"
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "DJANGO_DEBUG": "true"},
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )

    status, seconds = result.stdout.split()[-2:]
    assert status == "503", result.stdout + result.stderr
    assert float(seconds) < 8


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
