"""Production settings: `check --deploy` is clean, and a missing secret or host list stops start-up."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET = "k3v9-Qz7_wX2pL8nR4tY6uB1mC5oE0aS-dF3gH7jK9lZ2xV4bN6mQ8wE1rT5yU7iO"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter with production settings plus `env`.

    Every production variable is given explicitly, so a developer's `.env` cannot change the answer.
    """
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "shop.example.com,www.shop.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_PRELOAD": "true",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )


def test_deploy_check_passes_with_no_warnings_in_production_mode():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr + result.stdout


def test_the_deploy_check_can_fail():
    # Proof the check above would catch a weakened setting.
    result = _manage("check", "--deploy", "--fail-level", "WARNING", SECURE_HSTS_SECONDS="0")

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


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
