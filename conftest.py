"""Suite-wide test set-up: which tests need which server, and what happens when one is missing.

- On SQLite, tests marked `postgres` do not apply and are deselected (the summary says so).
- Without REDIS_URL, tests marked `redis` are deselected the same way.
- When a server *is* configured but cannot be reached, or Chromium is missing, the test is
  skipped with the reason locally and fails under CI=true, where everything must be present.
"""
from __future__ import annotations

import os

import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"


def _database_vendor() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return "postgresql" if url.startswith(("postgres://", "postgresql://", "pgsql://")) else "sqlite"


_deselected: dict[str, int] = {}


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        reason = None
        if item.get_closest_marker("postgres") and _database_vendor() != "postgresql":
            reason = "need PostgreSQL (set DATABASE_URL; `make test-services` runs them)"
        elif item.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
            reason = "need Redis (set REDIS_URL; `make test-services` runs them)"
        if reason:
            drop.append(item)
            _deselected[reason] = _deselected.get(reason, 0) + 1
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    for reason, count in _deselected.items():
        terminalreporter.write_line(f"deselected {count} test(s) that {reason}")


def missing_service(reason: str) -> None:
    """A server the test needs is not there: fail on CI, skip with the reason elsewhere."""
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: every service must be available)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    """Uploaded files go to a throw-away folder, never into var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
