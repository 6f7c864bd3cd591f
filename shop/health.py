"""GET /healthz: is the store able to serve? Database, cache and broker, each checked for real.

Anyone gets the answer, up or down: 200 `{"status": "ok"}` or 503 `{"status": "unavailable"}`.
What was checked (database vendor, cache backend, broker mode, timings, errors) is for staff
signed in to the back office and for requests from this machine: it tells an attacker what the
store runs on. "This machine" is the client address as the sign-in limits see it
(TRUSTED_PROXY_COUNT, X-Forwarded-For): behind a proxy every request arrives from the proxy, often
on 127.0.0.1, so a request that went through a proxy the settings do not count is not local.

Each check is bounded: a broker or Redis that accepts connections and never answers fails it
within about a second instead of holding the request (and a load balancer's probe) open.
"""
from __future__ import annotations

import ipaddress
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# Seconds to connect to the broker, and to wait for each answer from it.
BROKER_TIMEOUT = 1.0
# Headers a reverse proxy adds; X-Forwarded-Proto is needed in production for HTTPS detection.
PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP", "Forwarded")


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_cache() -> dict:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    ok = cache.get(key) == "1"
    cache.delete(key)
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {"ok": ok, "backend": backend} if ok else {"ok": False, "backend": backend, "error": "read-back failed"}


def check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_BROKER_URL:
        return {"ok": True, "mode": "eager"}
    from shop.celery import app

    # No retry (kombu's default waits 2 s before the second try) and short socket timeouts.
    options = {"connect_timeout": BROKER_TIMEOUT, "transport_options": {"socket_timeout": BROKER_TIMEOUT}}
    with app.connection_for_write(**options) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    return {"ok": True, "mode": "broker"}


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def may_see_details(request: HttpRequest) -> bool:
    """Staff signed in to the back office, or a request from this machine that no proxy relayed."""
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return True
    if settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0 and any(header in request.headers for header in PROXY_HEADERS):
        return False  # relayed by a proxy the settings do not know about: the real client is unknown
    from allauth.account.adapter import get_adapter

    try:
        address = get_adapter(request).get_client_ip(request)
        return ipaddress.ip_address(address).is_loopback
    except (PermissionDenied, ImproperlyConfigured, ValueError):  # no address, or a header too short
        return False


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:  # any failure of a dependency is the answer, not a crash
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    healthy = all(result["ok"] for result in results.values())
    body = {"status": "ok" if healthy else "unavailable"}
    if may_see_details(request):
        body["checks"] = results
    return JsonResponse(body, status=200 if healthy else 503)
