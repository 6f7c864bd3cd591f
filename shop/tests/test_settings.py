"""Production settings: `check --deploy` is clean, and a missing secret or host list stops start-up.

`PRODUCTION` is a complete production configuration; the store's own deploy checks each spoil
one part of it in test_checks.py.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET = "k3v9-Qz7_wX2pL8nR4tY6uB1mC5oE0aS-dF3gH7jK9lZ2xV4bN6mQ8wE1rT5yU7iO"
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": SECRET,
    "ALLOWED_HOSTS": "shop.example.com,www.shop.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "true",
    # Nothing connects during a check: these only have to be the right kind of setting.
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SITE_URL": "https://shop.example.com",
    "EMAIL_URL": "smtp://mailer:secret@mail.example.com:587/?tls=True",
    "DEFAULT_FROM_EMAIL": "Northwind Supply <orders@shop.example.com>",
    "STRIPE_SECRET_KEY": "sk_live_0123456789",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter with production settings plus `env`.

    Every production variable is given explicitly, so a developer's `.env` cannot change the answer.
    So is DJANGO_ALLOW_ASYNC_UNSAFE, empty (unset for Django): a developer who runs the browser
    tests may have it exported (Playwright's sync API needs it), and Django's own deploy check
    (async.E001) rightly fails a production environment that has it.
    """
    environment = {
        **{name: value for name, value in os.environ.items() if name not in ("CACHE_URL", "PORT")},
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "",
        **PRODUCTION,
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )


def test_deploy_check_passes_with_no_warnings_in_production_mode(monkeypatch):
    # as in the shell of a developer who runs the browser tests
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    result = _manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr + result.stdout


def test_the_readme_production_without_a_shared_cache_fails_the_deploy_check():
    # gunicorn shop.wsgi -w 4 with nothing but the local-memory cache: every worker its own prices
    result = _manage("check", "--deploy", REDIS_URL="")

    assert result.returncode != 0  # an Error: fails without --fail-level
    output = result.stderr + result.stdout
    assert "shop.E001" in output and "REDIS_URL" in output and "CACHE_URL" in output


def test_a_cache_url_every_process_shares_passes_the_deploy_check(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", REDIS_URL="",
                     CELERY_BROKER_URL="redis://127.0.0.1:6379/0", CACHE_URL=f"filecache://{tmp_path}")

    assert result.returncode == 0, result.stdout + result.stderr


def test_site_url_follows_port_in_debug_mode_and_has_no_default_in_production():
    code = "from django.conf import settings; print(repr(settings.SITE_URL))"

    debug = _manage("shell", "-c", code, DJANGO_DEBUG="true", SITE_URL="", PORT="8311")
    debug_default = _manage("shell", "-c", code, DJANGO_DEBUG="true", SITE_URL="")
    given = _manage("shell", "-c", code, DJANGO_DEBUG="true", SITE_URL="https://shop.example.com", PORT="8311")
    production = _manage("shell", "-c", code, SITE_URL="", PORT="8311")

    assert debug.stdout.split()[-1] == "'http://127.0.0.1:8311'", debug.stderr
    assert debug_default.stdout.split()[-1] == "'http://127.0.0.1:8000'"
    assert given.stdout.split()[-1] == "'https://shop.example.com'"
    assert production.stdout.split()[-1] == "''"  # and check --deploy says so (shop.E002)


def test_make_run_and_make_worker_pass_the_port_on():
    # `make -n` prints the commands without running them (nothing is installed or started)
    for target, program in (("run", "manage.py runserver 127.0.0.1:8311"), ("worker", "celery -A shop worker")):
        result = subprocess.run(
            ["make", "-n", target, "PORT=8311"], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
            env={**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/0"},
        )
        [command] = [line for line in result.stdout.splitlines() if program in line]
        assert command.startswith("PORT=8311 "), command


def test_the_deploy_check_can_fail():
    # Proof the check above would catch a weakened setting, and async safety turned off in the
    # production environment itself.
    result = _manage("check", "--deploy", "--fail-level", "WARNING", SECURE_HSTS_SECONDS="0",
                     DJANGO_ALLOW_ASYNC_UNSAFE="true")

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "async.E001" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
    ],
    ids=["no_secret_key", "short_secret_key", "insecure_secret_key", "no_allowed_hosts"],
)
def test_production_mode_refuses_to_start_without_secret_key_or_allowed_hosts(env, message):
    result = _manage("check", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    assert "DJANGO_DEBUG=false" in result.stderr  # says why it is needed


def test_debug_mode_starts_with_nothing_set():
    result = _manage("check", DJANGO_DEBUG="true", SECRET_KEY="", ALLOWED_HOSTS="")

    assert result.returncode == 0, result.stderr


def _example_env() -> dict[str, str]:
    """The variables of `.env.example`, as a newcomer who copies it to `.env` gets them."""
    values = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def test_a_copy_of_env_example_runs_like_the_defaults():
    # Empty values there mean "use the default": a blank SECRET_KEY in debug mode must not make
    # every request fail, and a blank CELERY_TASK_ALWAYS_EAGER must not turn eager mode off.
    code = (
        "from django.conf import settings; "
        "print(bool(settings.SECRET_KEY), settings.CELERY_TASK_ALWAYS_EAGER, repr(settings.CELERY_BROKER_URL))"
    )

    plain = _manage("shell", "-c", code, **_example_env())
    with_redis = _manage("shell", "-c", code, **{**_example_env(), "REDIS_URL": "redis://127.0.0.1:6379/0"})

    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[-1].split() == ["True", "True", "''"]
    assert with_redis.stdout.splitlines()[-1].split() == ["True", "False", "'redis://127.0.0.1:6379/0'"]


def test_a_shared_file_cache_has_room_for_the_stores_pages(monkeypatch):
    # With Django's default of 300 entries a file cache culled a third of the page cache whenever
    # the 301st page arrived: the bench's 2,000 URLs were mostly cold renders.
    import importlib

    import shop.settings

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("CACHE_URL", "filecache:///tmp/shop-settings-test-cache")
    try:
        assert importlib.reload(shop.settings).CACHES["default"]["OPTIONS"]["MAX_ENTRIES"] == 50_000
        monkeypatch.setenv("CACHE_URL", "filecache:///tmp/shop-settings-test-cache?max_entries=500")
        assert importlib.reload(shop.settings).CACHES["default"]["OPTIONS"]["MAX_ENTRIES"] == 500
    finally:
        monkeypatch.undo()
        importlib.reload(shop.settings)
