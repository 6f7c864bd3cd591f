"""Page-cache path per kind of shopper, in process: requests/s and SQL queries per page.

A script, not a test. On a dedicated database filled with the demo catalog (`seed_demo`, as
`make bench` does), it times N requests with Django's test client for home, the biggest
category and a product page, as three kinds of visitor:

- anonymous, no cookie at all (the old fast path);
- a guest with a cart (a session cookie);
- a signed-in customer with a cart;

then prints requests/s, the mean time per request and the SQL queries of a warm request. The
cache is the local-memory default (this one process), so the figures measure the page-cache
path itself, not a network cache.

    .venv/bin/python bench/shoppers.py --products 10000 --requests 200
"""
from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench-shoppers"


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page and shopper (default 200)")
    parser.add_argument("--database-url", default="", help="default: a SQLite file under var/bench-shoppers/")
    return parser.parse_args()


def prepare(args: argparse.Namespace) -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="shop.settings")
    for command in (["migrate", "--noinput", "-v0"],
                    ["seed_demo", "--products", str(args.products), "--no-images", "--customers", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)


def main() -> int:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{BENCH_DIR / 'shoppers.sqlite3'}"
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)
    os.environ.update(DJANGO_DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false",
                      LOG_LEVEL="WARNING", CELERY_TASK_ALWAYS_EAGER="true")
    prepare(args)
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop.settings"
    import django

    django.setup()
    from django.conf import settings

    # DEBUG off would need collectstatic for the manifest storage; the figures do not depend on it.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from catalog import selectors
    from catalog.models import Product, Variant

    # Bulk inserts leave the planner without statistics; a store that ran a while has them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    counter = QueryCounter()
    tree = selectors.category_tree()
    per_category = dict(
        selectors.published_products().values("category_id").annotate(n=Count("pk")).values_list("category_id", "n")
    )
    root = max(tree.roots, key=lambda node: sum(per_category.get(pk, 0) for pk in tree.descendant_ids(node)))
    product = Product.objects.published().annotate(n=Count("variants")).order_by("-n", "pk").first()
    pages = [("home", "/"), (f"category {root.get_absolute_url()}", root.get_absolute_url()),
             ("product", product.get_absolute_url())]
    variant = Variant.objects.filter(product__in=Product.objects.published(), is_active=True,
                                     stock_levels__on_hand__gt=2).first()

    def guest_with_cart() -> Client:
        client = Client()
        client.get("/")
        client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
        assert "sessionid" in client.cookies
        return client

    user, _created = get_user_model().objects.get_or_create(username="bench-shopper",
                                                            defaults={"email": "bench@example.com"})

    def signed_in() -> Client:
        client = Client()
        client.force_login(user)
        client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
        return client

    shoppers = [("anonymous, no cookie", Client), ("guest with a cart", guest_with_cart),
                ("signed in, with a cart", signed_in)]
    print(f"{args.requests} requests per page, in process, local-memory cache, {Product.objects.count():,} products")
    print(f"{'shopper':<26} {'page':<24} {'req/s':>8} {'ms/req':>8} {'queries (warm)':>15}")
    for shopper_name, make in shoppers:
        client = make()
        for page_name, path in pages:
            for _warm in range(3):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            with connection.execute_wrapper(counter):
                client.get(path)
            started = time.perf_counter()
            for _i in range(args.requests):
                client.get(path)
            elapsed = time.perf_counter() - started
            print(f"{shopper_name:<26} {page_name:<24} {args.requests / elapsed:>8.0f} "
                  f"{elapsed / args.requests * 1000:>8.2f} {counter.take():>15}")
    # A flash message on a cached page: shown once, to its shopper.
    client = signed_in()
    added = client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
    shown = client.get(pages[2][1])
    again = client.get(pages[2][1])
    marker = b'class="message '
    print(f"flash message after add-to-cart ({added.status_code}): shown {shown.content.count(marker)} time(s), "
          f"then {again.content.count(marker)}")
    cache.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
