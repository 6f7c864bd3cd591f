"""The store's own deploy checks (shop/checks.py), run in process with production-like settings.

The settings below are what a correct production sets; each test spoils one thing. That the
checks run from `manage.py check --deploy` in a fresh interpreter, with the settings module
reading the environment, is in test_settings.py.
"""
import pytest
from django.core import checks

GOOD = {
    "DEBUG": False,
    "ALLOWED_HOSTS": ["shop.example.com", "www.shop.example.com"],
    "SITE_URL": "https://shop.example.com",
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                           "LOCATION": "redis://127.0.0.1:6379/0"}},
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CELERY_TASK_ALWAYS_EAGER": False,
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "DEFAULT_FROM_EMAIL": "Northwind Supply <orders@shop.example.com>",
    "STRIPE_SECRET_KEY": "sk_live_0123456789",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789",
}


@pytest.fixture
def production(settings):
    for name, value in GOOD.items():
        setattr(settings, name, value)
    return settings


def shop_findings() -> dict[str, checks.CheckMessage]:
    found = checks.run_checks(include_deployment_checks=True)
    return {
        message.id: message for message in found
        if (message.id or "").startswith("shop.") and not message.is_silenced()  # as `manage.py check` does
    }


def test_a_correct_production_passes(production):
    assert shop_findings() == {}


@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "dummy.DummyCache"])
def test_a_cache_private_to_each_process_is_an_error_that_says_what_to_set(production, backend):
    production.CACHES = {"default": {"BACKEND": f"django.core.cache.backends.{backend}", "LOCATION": "shop"}}

    found = shop_findings()

    assert set(found) == {"shop.E001"}
    assert found["shop.E001"].level == checks.ERROR
    assert "REDIS_URL" in found["shop.E001"].hint and "CACHE_URL" in found["shop.E001"].hint
    assert "sign-in" in found["shop.E001"].msg  # why: the throttle counts per worker too


@pytest.mark.parametrize("location", ["redis://127.0.0.1:6379/0", "/var/tmp/shop-cache"])
def test_a_shared_cache_passes(production, location):
    backend = "redis.RedisCache" if location.startswith("redis") else "filebased.FileBasedCache"
    production.CACHES = {"default": {"BACKEND": f"django.core.cache.backends.{backend}", "LOCATION": location}}

    assert shop_findings() == {}


def test_debug_mode_is_not_checked(production):
    production.DEBUG = True
    production.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    production.SITE_URL = ""

    assert shop_findings() == {}


@pytest.mark.parametrize(
    ("site_url", "expected"),
    [
        ("", {"shop.E002"}),
        ("http://shop.example.com", {"shop.E003"}),
        ("http://127.0.0.1:8000", {"shop.E003", "shop.E004"}),
        ("https://elsewhere.example.org", {"shop.E004"}),
        ("https://www.shop.example.com/", set()),
    ],
    ids=["unset", "plain_http", "left_at_the_development_address", "host_not_allowed", "good"],
)
def test_site_url_must_be_the_https_address_the_store_answers_to(production, site_url, expected):
    production.SITE_URL = site_url

    found = shop_findings()

    assert set(found) == expected
    assert all(message.level == checks.ERROR for message in found.values())
    assert all("SITE_URL" in message.hint for message in found.values())


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", "filebased"])
def test_email_that_never_leaves_is_an_error(production, backend):
    production.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"

    found = shop_findings()

    assert set(found) == {"shop.E005"} and "EMAIL_URL" in found["shop.E005"].hint


def test_tasks_without_a_broker_or_eager_mode_are_an_error(production):
    production.CELERY_BROKER_URL = ""

    assert set(shop_findings()) == {"shop.E006"}


def test_eager_tasks_are_a_warning(production):
    production.CELERY_BROKER_URL = ""
    production.CELERY_TASK_ALWAYS_EAGER = True

    found = shop_findings()

    assert set(found) == {"shop.W001"} and found["shop.W001"].level == checks.WARNING
    assert "unpaid orders" in found["shop.W001"].msg


@pytest.mark.parametrize(
    ("secret", "webhook", "expected"),
    [
        ("", "", {"shop.E007"}),
        ("sk_live_0123456789", "", {"shop.E008"}),
        ("sk_test_0123456789", "whsec_0123456789", {"shop.W002"}),
    ],
    ids=["demo_payments", "no_webhook_secret", "test_mode_key"],
)
def test_payments_that_take_no_money_or_are_never_confirmed(production, secret, webhook, expected):
    production.STRIPE_SECRET_KEY, production.STRIPE_WEBHOOK_SECRET = secret, webhook

    assert set(shop_findings()) == expected


@pytest.mark.parametrize("sender", ["Shop <shop@localhost>", "orders@example.com", "shop@server"])
def test_a_sender_address_without_the_stores_domain_is_a_warning(production, sender):
    production.DEFAULT_FROM_EMAIL = sender

    found = shop_findings()

    assert set(found) == {"shop.W003"} and found["shop.W003"].level == checks.WARNING


def test_a_finding_can_be_silenced(production):
    production.STRIPE_SECRET_KEY = ""
    production.SILENCED_SYSTEM_CHECKS = ["shop.E007"]

    assert set(shop_findings()) == set()
