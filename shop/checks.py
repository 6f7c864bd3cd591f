"""`manage.py check --deploy`: settings that run without complaint in production and are wrong there.

Each of these works on one developer's machine and fails quietly under gunicorn with several
workers, or sends shoppers somewhere wrong. Errors are settings under which the store misbehaves
for every shopper (stale prices, a sign-in throttle that counts per worker, links to the wrong
address, mail that never leaves, orders "paid" without money); warnings are settings that work
but lose something an operator may have decided to do without (a test Stripe account on a
staging site, a web process that also runs the tasks). Only with DEBUG off: debug mode is one
process on one machine, where the defaults are right.

A deliberate exception (a public demo that takes no money) goes in SILENCED_SYSTEM_CHECKS.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.http.request import validate_host

# Cache backends whose entries live in one process (or nowhere): each gunicorn worker would keep
# its own catalog version, page cache and sign-in counters.
PRIVATE_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
# Email backends that never deliver: sign-up needs a verified address, orders need their emails.
UNDELIVERED_EMAIL = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


def _production() -> bool:
    return not settings.DEBUG


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs=None, **kwargs) -> list:
    if not _production():
        return []
    problems = []
    for alias, config in settings.CACHES.items():
        backend = config.get("BACKEND", "")
        if backend in PRIVATE_CACHES:
            problems.append(Error(
                f"The {alias!r} cache ({backend.rsplit('.', 1)[-1]}) is private to each process. Under gunicorn "
                "with several workers each keeps its own copy: pages show an old price after a change, and the "
                "sign-in limits count per worker.",
                hint="Set REDIS_URL (e.g. redis://127.0.0.1:6379/0), or CACHE_URL to a cache every process shares "
                     "(redis://…, pymemcache://…, or filecache:///path for processes on one machine).",
                id="shop.E001",
            ))
    return problems


@register(deploy=True)
def check_site_url(app_configs=None, **kwargs) -> list:
    """SITE_URL starts every link in emails and Stripe's return address (shop/site.py)."""
    if not _production():
        return []
    site_url = settings.SITE_URL
    if not site_url:
        return [Error(
            "SITE_URL is not set: links in emails, Stripe's return address, canonical links and sitemaps need "
            "the store's public address.",
            hint="Set SITE_URL to the https address shoppers use, e.g. SITE_URL=https://shop.example.com",
            id="shop.E002",
        )]
    parts = urlsplit(site_url)
    problems = []
    if parts.scheme != "https":
        problems.append(Error(
            f"SITE_URL ({site_url}) is not an https address: links in emails would go over plain HTTP, and "
            "the store redirects to HTTPS anyway.",
            hint="Set SITE_URL to the https address shoppers use, e.g. SITE_URL=https://shop.example.com",
            id="shop.E003",
        ))
    host = parts.hostname or ""
    if not validate_host(host, settings.ALLOWED_HOSTS):
        problems.append(Error(
            f"SITE_URL's host ({host or 'none'}) is not in ALLOWED_HOSTS ({', '.join(settings.ALLOWED_HOSTS)}): "
            "every link in the emails would be answered with 400 Bad Request.",
            hint="Set SITE_URL to the address shoppers use, and list its host in ALLOWED_HOSTS.",
            id="shop.E004",
        ))
    return problems


@register(deploy=True)
def check_email_delivery(app_configs=None, **kwargs) -> list:
    if not _production() or settings.EMAIL_BACKEND not in UNDELIVERED_EMAIL:
        return []
    return [Error(
        f"Email is not sent ({settings.EMAIL_BACKEND.rsplit('.', 2)[-2]} backend): no shopper can verify an "
        "address to sign up, and order, shipping and refund emails never arrive.",
        hint="Set EMAIL_URL, e.g. smtp://user:password@mail.example.com:587/?tls=True",
        id="shop.E005",
    )]


@register(deploy=True)
def check_celery(app_configs=None, **kwargs) -> list:
    if not _production():
        return []
    if not settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_BROKER_URL:
        return [Error(
            "CELERY_TASK_ALWAYS_EAGER is off but no broker is set: Celery would send every task to its "
            "built-in default (amqp://localhost) and emails, renditions and stock work would never run.",
            hint="Set REDIS_URL (or CELERY_BROKER_URL), or leave CELERY_TASK_ALWAYS_EAGER unset.",
            id="shop.E006",
        )]
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # A warning: the store works, one process at a time. An operator may accept the cost.
        return [Warning(
            "Tasks run inside the web requests (no broker): emails and image renditions are made while the "
            "shopper waits, and nothing runs the schedule (expiring unpaid orders, which releases their stock; "
            "retrying failed emails; nightly customer scores).",
            hint="Set REDIS_URL and run a worker with beat: `celery -A shop worker --beat` (`make worker`).",
            id="shop.W001",
        )]
    return []


@register(deploy=True)
def check_payments(app_configs=None, **kwargs) -> list:
    if not _production():
        return []
    if not settings.STRIPE_SECRET_KEY:
        return [Error(
            "No payment provider is set, so the demo provider takes payments: anyone can pay any order with "
            "the test card 4242 4242 4242 4242 and no money moves.",
            hint="Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET. A public demo that takes no money may add "
                 "shop.E007 to SILENCED_SYSTEM_CHECKS.",
            id="shop.E007",
        )]
    problems = []
    if not settings.STRIPE_WEBHOOK_SECRET:
        problems.append(Error(
            "STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: every webhook is refused, so no order is "
            "ever marked paid, and paid orders expire and release their stock.",
            hint="Set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…) from Stripe's dashboard.",
            id="shop.E008",
        ))
    if settings.STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_")):
        problems.append(Warning(
            "STRIPE_SECRET_KEY is a test-mode key: Stripe takes test cards and no money moves.",
            hint="Use the live key (sk_live_…) for a store that sells; a staging site may keep the test key.",
            id="shop.W002",
        ))
    return problems


@register(deploy=True)
def check_sender(app_configs=None, **kwargs) -> list:
    if not _production():
        return []
    from email.utils import parseaddr

    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2].lower()
    if domain in ("localhost", "localhost.localdomain", "example.com") or "." not in domain:
        return [Warning(
            f"DEFAULT_FROM_EMAIL ({settings.DEFAULT_FROM_EMAIL}) is not an address of the store's domain: mail "
            "servers reject such mail or file it as spam.",
            hint="Set DEFAULT_FROM_EMAIL, e.g. DEFAULT_FROM_EMAIL=Northwind Supply <orders@shop.example.com>",
            id="shop.W003",
        )]
    return []
