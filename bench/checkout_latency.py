"""How long each personal page takes, in process, on a 10,000-product catalog (issue 9).

A script, not a test. `bench/checkout.py` runs it after its throughput and query tables (and
`make bench-checkout` so); it runs alone too:

    .venv/bin/python bench/checkout_latency.py                  # 15 rounds, medians
    .venv/bin/python bench/checkout_latency.py --repeat 31 --profile place

It fills a *dedicated* SQLite database (var/checkout_latency/latency.sqlite3) with the demo
catalog once (`seed_demo --no-images`, as bench/run.py and bench/cold_render.py do; later runs
reuse it), gives ten of its variants plenty of stock, then, for a guest and for a signed-in
customer, times through Django's test client (DEBUG off, real URLs, middleware and sessions):

    the cart page with 10 lines · checkout details (GET) · the details form (POST) · review (GET) ·
    place order (POST) · the account home · the order list (20 orders) · one order page

and prints each page's median wall time against its target (issue 9: cart, details and review
under 15 ms each, placing under 40 ms; the account pages under 15 ms too), with the median CPU
time of the request's thread beside it: on a shared, busy machine the wall clock also counts
waiting for a core, the thread's CPU time does not (nor the email the background thread sends
after an order). A guest has no
account: its order page is the signed link its emails carry. Rounds are interleaved, so a noisy
neighbour slows every page a little rather than one page a lot; the cache is warm (category tree,
store settings), as in a serving worker, and nothing personal is cached. Compare medians from
runs made one after the other, not single runs.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = ROOT / "var" / "checkout_latency"
PYTHON = sys.executable
TARGETS = {  # milliseconds, issue 9
    "cart (10 lines)": 15, "details GET": 15, "details POST": 15, "review GET": 15, "place POST": 40,
    "account home": 15, "order list (20)": 15, "order page": 15,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database-url", default="", help="default: a SQLite file under var/checkout_latency/")
    parser.add_argument("--repeat", type=int, default=15, help="rounds (the median is shown)")
    parser.add_argument("--profile", default="",
                        help="profile one step with cProfile: cart, details, details_post, review, place, "
                             "account, history, order")
    parser.add_argument("--save-html", default="",
                        help="write each page's last HTML to this directory (CSRF tokens and keys blanked)")
    parser.add_argument("--callees", default="", help="with --profile: also print what functions matching this call")
    parser.add_argument("--who", default="guest", choices=("guest", "customer"), help="whose step --profile profiles")
    return parser.parse_args()


def environment(args: argparse.Namespace) -> dict[str, str]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "ROOT_URLCONF")}
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings",
        DATABASE_URL=args.database_url or f"sqlite:///{WORK_DIR / 'latency.sqlite3'}",
        DJANGO_DEBUG="false", SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false", CELERY_TASK_ALWAYS_EAGER="true",
        LOG_LEVEL="WARNING", EMAIL_URL="memorymail://", _CHECKOUT_LATENCY_CHILD="1",
    )
    return env


def prepare(args: argparse.Namespace, env: dict[str, str]) -> None:
    def manage(*command: str) -> None:
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)

    manage("migrate", "--noinput", "-v0")
    # Idempotent: a second run finds the products there and adds none.
    manage("seed_demo", "--products", str(args.products), "--no-images", "--customers", "0", "-v0")
    manage("collectstatic", "--noinput", "-v0")


# --- In the child process ------------------------------------------------------------------------


def bench_catalog():
    """Ten published variants of ten products, each with plenty of stock in one warehouse (every
    round places orders and nothing ships), and a US shipping method and tax rate."""
    from decimal import Decimal

    from catalog.models import Location, StockLevel, Variant
    from checkout.models import ShippingMethod, ShippingZone, TaxRate

    warehouse = (Location.objects.filter(kind=Location.Kind.WAREHOUSE).order_by("pk").first()
                 or Location.objects.create(code="bench-warehouse", name="Bench warehouse"))
    variants, products = [], set()
    for variant in (Variant.objects.filter(product__status="active", is_active=True)
                    .select_related("product").order_by("pk")[:200]):
        if variant.product_id in products:
            continue
        products.add(variant.product_id)
        variants.append(variant)
        if len(variants) == 10:
            break
    for variant in variants:
        StockLevel.objects.update_or_create(variant=variant, location=warehouse, defaults={"on_hand": 10_000_000})
    zone = ShippingZone.objects.filter(countries__contains="US").order_by("position", "name").first()
    if zone is None:
        zone = ShippingZone.objects.create(name="Bench domestic", countries="US")
    method = ShippingMethod.objects.filter(zone=zone, is_active=True).order_by("position", "name").first()
    if method is None:
        method = ShippingMethod.objects.create(zone=zone, name="Bench standard", price=Decimal("5.00"))
    TaxRate.objects.get_or_create(country="US", tax_class="", defaults={"rate": Decimal("8.25")})
    return variants, method


def customer(email: str):
    """A signed-up, verified customer (allauth's EmailAddress), as after the confirmation link."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from customers.services import customer_for_user

    user = get_user_model().objects.filter(email=email).first()
    if user is None:
        user = get_user_model().objects.create_user(username=email.split("@")[0], email=email, password=None)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    customer_for_user(user=user)
    return user


def child(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    from bench import setup_django

    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.checkout import ADDRESS, KEY_INPUT, add
    from orders.links import signed_order_url
    from orders.models import Order

    variants, method = bench_catalog()
    shopper, historian = customer("bench-shopper@example.com"), customer("bench-history@example.com")
    # One client per persona, made once (a new Client() loads the middleware again: WhiteNoise's
    # start-up scan would be measured). The guest's cookies are cleared for each new guest.
    guest, signed_in, history = Client(), Client(), Client()
    signed_in.force_login(shopper)
    history.force_login(historian)

    def place_order(client) -> Order:
        for variant in variants:
            add(client, variant)
        client.post("/checkout/", {**ADDRESS, "delivery": f"method:{method.pk}"})
        key = KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]
        placed = client.post("/checkout/place/", {"idempotency_key": key})
        assert placed.status_code == 302 and "/payments/" in placed["Location"], placed.status_code
        return Order.objects.get(idempotency_key=key)

    # The account pages' customer has exactly 20 orders (the list shows 10 a page).
    for _ in range(20 - Order.objects.filter(customer__user=historian).count()):
        place_order(history)
    last = Order.objects.filter(customer__user=historian).order_by("-pk").first()
    guest_order = place_order(guest)
    guest.cookies.clear()

    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    queries: dict[tuple[str, str], int] = {}
    profiler = cProfile.Profile()
    profiled = [0]

    def timed(who: str, step: str, name: str, call, expect=(200,)):
        with CaptureQueriesContext(connection) as captured:
            if args.profile == step and args.who == who:
                profiler.enable()
            started, cpu_started = time.perf_counter(), time.thread_time()
            response = call()
            elapsed = (time.perf_counter() - started) * 1000
            cpu.setdefault((who, name), []).append((time.thread_time() - cpu_started) * 1000)
            if args.profile == step and args.who == who:
                profiler.disable()
                profiled[0] += 1
        assert response.status_code in expect, (who, name, response.status_code)
        wall.setdefault((who, name), []).append(elapsed)
        queries[(who, name)] = len(captured)
        if args.save_html and response.status_code == 200:
            target = Path(args.save_html)
            target.mkdir(parents=True, exist_ok=True)
            html = re.sub(r'(name="(?:csrfmiddlewaretoken|idempotency_key)" value=")[^"]+', r"\1-",
                          response.content.decode())
            (target / f"{who}-{step}.html").write_text(html)
        return response

    def checkout_round(who: str, client) -> None:
        for variant in variants:
            add(client, variant)
        timed(who, "cart", "cart (10 lines)", lambda: client.get("/cart/"))
        timed(who, "details", "details GET", lambda: client.get("/checkout/"))
        posted = timed(who, "details_post", "details POST",
                       lambda: client.post("/checkout/", {**ADDRESS, "delivery": f"method:{method.pk}"}), expect=(302,))
        assert posted["Location"] == "/checkout/review/", posted["Location"]
        review = timed(who, "review", "review GET", lambda: client.get("/checkout/review/"))
        key = KEY_INPUT.search(review.content.decode())[1]
        placed = timed(who, "place", "place POST",
                       lambda: client.post("/checkout/place/", {"idempotency_key": key}), expect=(302,))
        assert "/payments/" in placed["Location"], placed["Location"]

    guest_link = signed_order_url(guest_order)
    # Warm-up round: imports, URL resolvers and compiled templates, as in a serving worker.
    for round_ in range(args.repeat + 1):
        guest.cookies.clear()
        checkout_round("guest", guest)
        timed("guest", "order", "order page", lambda: guest.get(guest_link))
        checkout_round("customer", signed_in)
        timed("customer", "account", "account home", lambda: history.get("/account/"))
        timed("customer", "history", "order list (20)", lambda: history.get("/orders/"))
        timed("customer", "order", "order page", lambda: history.get(f"/orders/number/{last.number}/"))
        if round_ == 0:
            wall.clear()
            cpu.clear()

    print(f"\n== Personal pages on {connection.vendor} ({Path(settings.DATABASES['default']['NAME']).name}), "
          f"{args.repeat} rounds, in process, warm cache ==")
    print(f"{'page':<20}{'guest ms':>14}{'customer ms':>14}{'target':>8}{'queries g/c':>13}")
    print(f"{'':<20}{'wall / CPU':>14}{'wall / CPU':>14}")
    ok = True
    for name, target in TARGETS.items():
        cells, counts, flags = [], [], []
        for who in ("guest", "customer"):
            if (who, name) not in wall:
                cells.append("-")
                counts.append("-")
                continue
            median, median_cpu = statistics.median(wall[(who, name)]), statistics.median(cpu[(who, name)])
            cells.append(f"{median:.1f} / {median_cpu:.1f}")
            counts.append(str(queries[(who, name)]))
            flags.append("ok" if median < target else "ok (CPU)" if median_cpu < target else "OVER")
        flag = "OVER" if "OVER" in flags else "ok (CPU)" if "ok (CPU)" in flags else "ok"
        ok &= flag != "OVER"
        print(f"{name:<20}{cells[0]:>14}{cells[1]:>14}{'< ' + str(target):>8}{'/'.join(counts):>13}   {flag}")
    print("(wall: median elapsed; CPU: median CPU time of the request's thread, what a busy shared machine does not "
          "inflate; \"ok (CPU)\": over on the wall clock only)")
    print("(guest order page: the signed link of its emails; account pages: a customer with 20 orders, "
          "the list shows 10 a page)")
    if args.profile:
        print(f"\n--- {args.who} {args.profile}: {profiled[0]} calls, top functions by cumulative time")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(str(ROOT), 40)
        if args.callees:
            pstats.Stats(profiler).sort_stats("cumulative").print_callees(args.callees)
            pstats.Stats(profiler).sort_stats("cumulative").print_callers(args.callees)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return 0 if ok else 1


def main() -> int:
    args = parse_args()
    if os.environ.get("_CHECKOUT_LATENCY_CHILD") == "1":
        return child(args)
    env = environment(args)
    if "bench" not in env["DATABASE_URL"] and "latency" not in env["DATABASE_URL"]:
        sys.exit(f"Refusing to use {env['DATABASE_URL']}: the database's name must contain 'bench' or 'latency'.")
    print(f"Preparing {env['DATABASE_URL']} with {args.products:,} products ...", flush=True)
    prepare(args, env)
    command = [PYTHON, str(Path(__file__).resolve()), "--products", str(args.products), "--repeat", str(args.repeat),
               "--profile", args.profile, "--who", args.who, "--save-html", args.save_html, "--callees", args.callees]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
