"""Test-run set-up that must happen before Django reads its settings (loaded with `-p` in pytest.ini).

Under pytest-xdist every worker gets a database of its own (pytest-django suffixes the test
database's name), but they would share one Redis database, and the suite clears the cache around
every test (FLUSHDB): one worker would wipe another's cache, sign-in counts and broker queue in
the middle of a test. So each worker uses the next database numbers after REDIS_URL's (gw0 keeps
it, gw1 the next one...), set in the environment before settings.py reads it, so subprocesses
that tests start (a second web process, a Celery worker) see the same one.
"""
from __future__ import annotations

import os
import re

import pytest


def _worker_number() -> int:
    match = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match[1]) if match else 0


def redis_url_for_worker(url: str, worker: int) -> str:
    """`url` with its database number moved up by `worker` (database 0 when it names none)."""
    if not worker:
        return url
    match = re.fullmatch(r"(?P<base>rediss?://[^/?#]*)(?:/(?P<db>\d*))?(?P<rest>[?#].*)?", url)
    if match is None:
        raise pytest.UsageError(f"REDIS_URL is not a redis:// address: {url!r}")
    database = int(match["db"] or 0) + worker
    if database > 15:
        raise pytest.UsageError(f"REDIS_URL's database {match['db'] or 0} leaves no room for {worker + 1} workers")
    return f"{match['base']}/{database}{match['rest'] or ''}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    worker = _worker_number()
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name):
            os.environ[name] = redis_url_for_worker(os.environ[name], worker)
    return (yield)
