"""`make bench`: the storefront under load, next to a bare Django view served the same way.

    .venv/bin/python bench/run.py --products 10000
    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/shop_bench
    .venv/bin/python bench/run.py --redis-url redis://127.0.0.1:6379/14   # flushed: use a spare db

Steps: a dedicated database (a SQLite file under var/bench/ unless --database-url; a PostgreSQL
database is created if missing) is migrated and filled with the demo catalog (`seed_demo
--no-images`, idempotent, so a second run reuses it). SQL queries per page are counted in this
process with CaptureQueriesContext, once on a cold cache and once on a warm one. Then gunicorn
serves the store (DEBUG off, sync workers, the production static files storage) on loopback, and
`wrk` loads the bare view, home, a category page, a product page and a search in turn, in
--rounds interleaved rounds, keeping each page's best. Gunicorn is stopped at the end whatever
happens.

The page cache is shared between the workers through a file cache under var/bench/ (or Redis
with --redis-url): the default local-memory cache would give each worker its own.

The target (issue 2): every page at one third of the bare view's requests/s or better.

Then, on the same database, the checkout: add-to-cart and orders per second and the SQL queries
of each checkout step for a cart of 1 line and of 10 (bench/checkout.py, which `make
bench-checkout` runs alone; in process, one worker; the target, issue 3: every step under 25
queries whatever the number of lines). `--no-checkout` skips it.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
PYTHON = sys.executable
TARGET_RATIO = 1 / 3


@dataclass
class Page:
    name: str
    path: str
    queries_cold: int | None = None
    queries_warm: int | None = None
    cold_ms: float | None = None  # one render on a cold cache, in process
    requests_per_second: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: str = ""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000, help="catalog size (default 10,000)")
    parser.add_argument("--database-url", default="", help="default: a SQLite file under var/bench/")
    parser.add_argument(
        "--redis-url", default="",
        help="share the page cache through Redis instead of files; use a database of its own: it is flushed",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per page in all (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds the duration is split into (default 2)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--profile", action="store_true", help="also profile each page on a cold cache, in process")
    parser.add_argument("--no-checkout", action="store_true", help="skip the checkout measures")
    parser.add_argument("--checkout-seconds", type=float, default=5.0,
                        help="per checkout throughput measure (default 5)")
    parser.add_argument("--checkout-lines", type=int, default=3, help="cart lines per order measured (default 3)")
    return parser.parse_args()


def bench_environment(args: argparse.Namespace) -> dict[str, str]:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings",
        DATABASE_URL=args.database_url or f"sqlite:///{BENCH_DIR / 'bench.sqlite3'}",
        DJANGO_DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        # "testserver" is the test client's host, used to count queries in this process.
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECURE_SSL_REDIRECT="false",
        ROOT_URLCONF="bench.urls",
        MEDIA_ROOT=str(BENCH_DIR / "media"),
        CELERY_TASK_ALWAYS_EAGER="true",
        LOG_LEVEL="WARNING",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        env["CACHE_URL"] = f"filecache://{BENCH_DIR / 'cache'}"
    return env


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist yet."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(scheme="postgresql", path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"Created database {name}")


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)


def prepare(args: argparse.Namespace, env: dict[str, str]) -> None:
    if env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        ensure_postgres_database(env["DATABASE_URL"])
    print("Migrating ...", flush=True)
    manage(env, "migrate", "--noinput", "-v0")
    print(f"Seeding {args.products:,} products (no images) ...", flush=True)
    manage(env, "seed_demo", "--products", str(args.products), "--no-images")
    # DEBUG off serves static files through the manifest storage, which needs collectstatic.
    manage(env, "collectstatic", "--noinput", "-v0")


def pick_pages(*, search_word: str = "jacket") -> list[Page]:
    """The pages to load: the heaviest of each kind a shopper would plausibly open."""
    from django.db.models import Count

    from catalog import selectors
    from catalog.models import Product

    tree = selectors.category_tree()
    per_category = dict(
        selectors.published_products().values("category_id").annotate(n=Count("pk")).values_list("category_id", "n")
    )
    # The top-level category with the most products: its page lists and counts facets over all of them.
    root = max(tree.roots, key=lambda node: sum(per_category.get(pk, 0) for pk in tree.descendant_ids(node)))
    product = (
        Product.objects.published().annotate(n=Count("variants")).order_by("-n", "pk").only("slug").first()
    )
    if product is None:
        raise SystemExit("The catalog has no published product; seeding failed?")
    return [
        Page("bare view", "/bench/bare/"),
        Page("home", "/"),
        Page(f"category ({root.name})", root.get_absolute_url()),
        Page("product", product.get_absolute_url()),
        Page(f"search ({search_word})", f"/search/?q={quote(search_word)}"),
    ]


def count_queries(pages: list[Page], *, profile: bool) -> None:
    """SQL queries per page on a cold cache, then on a warm one, counted in this process."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    for page in pages:
        # Imports, URL resolvers and compiled templates are warm in a serving worker: warm them
        # here too, so "cold" means an empty cache only.
        client.get(page.path)
    for page in pages:
        cache.clear()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as cold:
            response = client.get(page.path)
        page.cold_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{page.path} answered {response.status_code}; fix that before benchmarking")
        with CaptureQueriesContext(connection) as warm:
            client.get(page.path)
        page.queries_cold, page.queries_warm = len(cold), len(warm)
        if profile and page.path != "/bench/bare/":
            cache.clear()
            profiler = cProfile.Profile()
            profiler.enable()
            client.get(page.path)
            profiler.disable()
            print(f"\n--- {page.name}: cold-cache render, top functions by cumulative time")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"(catalog|shop|templates)/", 15)
    cache.clear()
    connection.close()  # gunicorn's workers must not wait on this process's SQLite connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], *, port: int, workers: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(PYTHON).parent)) or "gunicorn"
    return subprocess.Popen(
        [gunicorn, "shop.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", "sync", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )


def wait_until_serving(base: str, server: subprocess.Popen, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/bench/bare/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start serving in time")


def stop(server: subprocess.Popen) -> None:
    """Stop gunicorn and its workers: TERM to its process group, KILL if it lingers."""
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)
    except ProcessLookupError:
        pass


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def load(page: Page, base: str, args: argparse.Namespace, seconds: int) -> None:
    """Load one page with wrk; keep the figures if this round beat the page's earlier ones."""
    url = base + page.path
    urllib.request.urlopen(url, timeout=30).read()  # fill the page cache before measuring
    result = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    problems = [m.group(0).strip() for m in re.finditer(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", out)]
    if problems:
        page.errors = "; ".join(problems)
    if page.requests_per_second is None or rate > page.requests_per_second:
        page.requests_per_second = rate
        page.p50_ms = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        page.p99_ms = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))


def report(pages: list[Page], args: argparse.Namespace, env: dict[str, str]) -> bool:
    from django.db import connection

    bare = pages[0].requests_per_second or 0
    cache = "Redis" if env.get("REDIS_URL") else "file cache"
    print(
        f"\n{args.products:,} products on {connection.vendor}, page cache: {cache}, gunicorn {args.workers} sync "
        f"workers, wrk -t{args.threads} -c{args.connections}, best of {args.rounds} rounds of "
        f"{round_seconds(args)} s, {os.cpu_count()} CPUs\n"
    )
    header = (
        f"{'page':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'SQL cold':>9} {'SQL warm':>9} "
        f"{'cold ms':>8} {'vs bare':>8}"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for page in pages:
        is_bare = page is pages[0]
        ratio = (page.requests_per_second or 0) / bare if bare else 0
        met = is_bare or ratio >= TARGET_RATIO
        all_met &= met
        mark = "" if is_bare else ("  ok" if met else "  below 1/3")
        print(
            f"{page.name:<26} {page.requests_per_second:>8.0f} {page.p50_ms:>8.2f} {page.p99_ms:>8.2f} "
            f"{page.queries_cold:>9} {page.queries_warm:>9} {page.cold_ms:>8.1f} {ratio:>7.0%}{mark}"
        )
        if page.errors:
            print(f"    ! {page.errors}")
    print(
        "\nreq/s, p50 and p99 come from each page's best round (other work on the machine only ever "
        "slows a round down).\n'cold ms' is one render with an empty cache, in process; the load itself "
        "is served from the page cache."
    )
    print("URLs: " + ", ".join(page.path for page in pages[1:]))
    print("Every page at 1/3 of the bare view or better." if all_met else "Some pages are below 1/3 of the bare view.")
    return all_met


def round_seconds(args: argparse.Namespace) -> int:
    return max(1, round(args.duration / args.rounds))


def main() -> int:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    env = bench_environment(args)
    prepare(args, env)

    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    pages = pick_pages()
    count_queries(pages, profile=args.profile)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A TERM (or Ctrl-C) must still reach the `finally` that stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = start_gunicorn(env, port=port, workers=args.workers)
    try:
        wait_until_serving(base, server)
        # Rounds interleave the pages, so a burst of other work on the machine hits one round
        # of each rather than all of one page; each page keeps its best round.
        for number in range(1, args.rounds + 1):
            for page in pages:
                print(f"Round {number}/{args.rounds}: {page.name} for {round_seconds(args)} s ...", flush=True)
                load(page, base, args, round_seconds(args))
    finally:
        stop(server)
    report(pages, args, env)
    if args.no_checkout:
        return 0
    print("\nCheckout ...", flush=True)
    from bench import checkout

    # Its own process, on this database (already migrated and collected): the storefront's
    # ROOT_URLCONF and page cache are not part of the checkout's figures.
    return checkout.measure(env["DATABASE_URL"], seconds=args.checkout_seconds, lines=args.checkout_lines,
                            prepared=True)


if __name__ == "__main__":
    sys.exit(main())
