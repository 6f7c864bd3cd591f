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

Then realistic traffic (bench/traffic.py, issue 9): wrk at random over --urls (2,000) storefront
URLs taken from the store (products, categories with facets, sorts and page 2, searches with
title words), as an anonymous visitor, as a shopper with a cart, and as that shopper while
bench/place_orders.py places --order-rate (1) orders per second; each mix next to the bare view
measured just before it, with the same cookie and side process. Then the anonymous mix on 1 and 2
gunicorn workers (--scale-workers) to show how throughput grows. With --celery (needs
--redis-url) a Celery worker runs beside gunicorn and tasks go through Redis to it, as in
production. `--no-pages` / `--no-traffic` / `--scale-workers ""` skip parts.

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
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.databases import ensure_postgres_database  # noqa: E402

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
    parser.add_argument("--no-pages", action="store_true", help="skip the per-page table")
    parser.add_argument("--no-traffic", action="store_true", help="skip the realistic traffic mixes and scale-out")
    parser.add_argument("--urls", type=int, default=2000, help="distinct URLs in the realistic mixes (default 2,000)")
    parser.add_argument("--traffic-seconds", type=int, default=20,
                        help="measured seconds of each realistic mix and scale-out step (default 20)")
    parser.add_argument("--bare-seconds", type=int, default=5,
                        help="seconds of the bare view measured before each mix (default 5)")
    parser.add_argument("--warmup-seconds", type=int, default=5,
                        help="unmeasured seconds of each mix before it is measured (default 5; 0 for none)")
    parser.add_argument("--order-rate", type=float, default=1.0, help="orders per second in the third mix (default 1)")
    parser.add_argument("--scale-workers", default="1,2",
                        help='gunicorn worker counts for the scale-out table (default "1,2"; "" skips it)')
    parser.add_argument("--celery", action="store_true",
                        help="run a Celery worker (with beat) and send tasks to it through Redis (needs --redis-url)")
    args = parser.parse_args()
    if args.celery and not args.redis_url:
        parser.error("--celery needs --redis-url (the broker)")
    try:
        args.scale_workers = [int(n) for n in args.scale_workers.split(",") if n.strip()]
    except ValueError:
        parser.error("--scale-workers takes worker counts separated by commas, e.g. 1,2,4")
    return args


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
        # Emails (the orders' confirmations) are sent into memory, not printed or mailed.
        EMAIL_URL="memorymail://",
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
        if args.celery:
            # Tasks are published to Redis (from each gunicorn worker's background thread) and run
            # by the Celery worker, not in the web processes. The broker is the cache's Redis
            # database, as in production by default (so the worker starts after the last flush).
            env["CELERY_TASK_ALWAYS_EAGER"] = "false"
    else:
        env["CACHE_URL"] = f"filecache://{BENCH_DIR / 'cache'}"
    return env


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


def start_gunicorn(env: dict[str, str], *, port: int, workers: int, worker_class: str = "sync",
                   threads: int = 1) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(PYTHON).parent)) or "gunicorn"
    return subprocess.Popen(
        [gunicorn, "shop.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", worker_class, "--threads", str(threads), "--log-level", "warning"],
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


WRK_MISSING = (
    "wrk is not installed, and `make bench` drives it. On Debian or Ubuntu: sudo apt-get install wrk "
    "(elsewhere: https://github.com/wg/wrk)."
)


def start_celery(env: dict[str, str]) -> subprocess.Popen:
    """A Celery worker with beat embedded, as `make worker` runs it, on the bench's broker."""
    celery = shutil.which("celery", path=str(Path(PYTHON).parent)) or "celery"
    return subprocess.Popen(
        [celery, "-A", "shop", "worker", "--beat", "--schedule", str(BENCH_DIR / "celerybeat-schedule"),
         "--concurrency", "1", "--loglevel", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )


@dataclass
class Traffic:
    """What the realistic mixes need, collected before gunicorn starts (SQLite: one writer)."""

    urls_file: Path
    urls: list[str]
    cart_item: tuple[str, int, int]


def prepare_traffic(args: argparse.Namespace) -> Traffic:
    from collections import Counter

    from django.db import connection

    from bench import traffic

    print("Collecting storefront URLs ...", flush=True)
    sample = traffic.collect_sample()
    urls = traffic.build_urls(sample, count=args.urls)
    kinds = Counter(traffic.url_kind(url) for url in urls)
    print(f"{len(urls):,} URLs: " + ", ".join(f"{n:,} {kind}" for kind, n in sorted(kinds.items())), flush=True)
    if len(urls) < args.urls:
        print(f"  ! the catalog gives only {len(urls):,} distinct URLs of {args.urls:,} asked", flush=True)
    urls_file = BENCH_DIR / "urls.txt"
    traffic.write_urls(urls, urls_file)
    item = traffic.cart_item()
    connection.close()
    return Traffic(urls_file=urls_file, urls=urls, cart_item=item)


def measure_mix(name: str, base: str, prepared: Traffic, args: argparse.Namespace, *,
                headers: dict | None = None, connections: int | None = None):
    """Warm up, the bare view, then the mix: one row of the table."""
    from bench import traffic

    connections = connections or args.connections
    bare_file = BENCH_DIR / "bare.txt"
    traffic.write_urls([traffic.BARE_PATH], bare_file)
    common = dict(connections=connections, threads=args.threads, headers=headers)
    # Each run starts once gunicorn has served what the previous one left queued.
    if args.warmup_seconds:
        print(f"{name}: warming up for {args.warmup_seconds} s ...", flush=True)
        traffic.run_wrk(base, prepared.urls_file, seconds=args.warmup_seconds, **common)
        traffic.settle(base, connections=connections)
    print(f"{name}: bare view for {args.bare_seconds} s ...", flush=True)
    bare = traffic.run_wrk(base, bare_file, seconds=args.bare_seconds, **common)
    print(f"{name}: {args.traffic_seconds} s ...", flush=True)
    store = traffic.run_wrk(base, prepared.urls_file, seconds=args.traffic_seconds, **common)
    traffic.settle(base, connections=connections)
    return traffic.MixResult(name=name, store=store, bare=bare)


def run_mixes(base: str, prepared: Traffic, args: argparse.Namespace, env: dict[str, str]) -> list:
    from bench import traffic

    anonymous = dict(traffic.PROXY_HEADERS)
    traffic.check_urls(base, prepared.urls, headers=anonymous)
    product_path, variant_id, product_id = prepared.cart_item
    cookie = {**anonymous, "Cookie": traffic.shopper_cookie(base, product_path=product_path, variant_id=variant_id,
                                                            product_id=product_id)}
    traffic.check_urls(base, prepared.urls, sample=10, headers=cookie)
    results = [measure_mix("anonymous", base, prepared, args, headers=anonymous)]
    results.append(measure_mix("shopper with a cart", base, prepared, args, headers=cookie))
    stream = traffic.OrderStream(env, rate=args.order_rate)
    try:
        result = measure_mix(f"cart + orders at {args.order_rate:g}/s", base, prepared, args, headers=cookie)
    finally:
        result_note = stream.stop()
    result.note = result_note
    results.append(result)
    return results


def run_scale_out(prepared: Traffic, args: argparse.Namespace, env: dict[str, str]) -> list:
    """The anonymous mix on a fresh gunicorn of each size in --scale-workers."""
    from bench import traffic

    steps = []
    for workers in args.scale_workers:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_gunicorn(env, port=port, workers=workers)
        try:
            wait_until_serving(base, server)
            # Enough connections to keep every worker busy.
            result = measure_mix(f"{workers} worker(s), anonymous", base, prepared, args,
                                 headers=dict(traffic.PROXY_HEADERS), connections=max(args.connections, 2 * workers))
        finally:
            stop(server)
        steps.append((workers, result))
    return steps


def report_traffic(mixes: list, steps: list, prepared: Traffic, args: argparse.Namespace,
                   env: dict[str, str]) -> None:
    from django.db import connection

    from bench import traffic

    postgres = connection.vendor == "postgresql"
    cache = "Redis" if env.get("REDIS_URL") else "file cache"
    tasks = "Celery worker through Redis" if args.celery else "in each web process's background thread"
    print(
        f"\nRealistic traffic: {args.products:,} products on {connection.vendor}, page cache: {cache}, tasks: {tasks}, "
        f"wrk -t{args.threads} at random over {len(prepared.urls):,} URLs, {args.traffic_seconds} s per mix after "
        f"{args.warmup_seconds} s of warm-up; the bare view for {args.bare_seconds} s just before each, "
        f"with the same cookie and side process; {os.cpu_count()} CPUs\n"
    )
    if mixes:
        print(f"gunicorn {args.workers} sync workers, wrk -c{args.connections}")
        print(traffic.format_mixes(mixes))
        limit = 150 if postgres else 100
        met = all(mix.share >= 0.10 and mix.store.p99_ms <= limit and not mix.store.error_text for mix in mixes)
        print(
            f"Target (issue 9): every mix at 10% of the bare view or better, p99 at most {limit} ms: "
            + ("met." if met else "not met.")
        )
    if steps:
        print("\nScale-out, anonymous mix, a fresh gunicorn per row:")
        print(traffic.format_scale(steps))
    print(f"URLs: {prepared.urls_file} (one path a line)")


def main() -> int:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit(WRK_MISSING)
    env = bench_environment(args)
    prepare(args, env)

    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    pages = [] if args.no_pages else pick_pages()
    if pages:
        count_queries(pages, profile=args.profile)
    prepared = None if args.no_traffic else prepare_traffic(args)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A TERM (or Ctrl-C) must still reach the `finally` that stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    celery = None
    mixes, steps = [], []
    try:
        server = start_gunicorn(env, port=port, workers=args.workers)
        try:
            wait_until_serving(base, server)
            # Rounds interleave the pages, so a burst of other work on the machine hits one round
            # of each rather than all of one page; each page keeps its best.
            for number in range(1, args.rounds + 1) if pages else ():
                for page in pages:
                    print(f"Round {number}/{args.rounds}: {page.name} for {round_seconds(args)} s ...", flush=True)
                    load(page, base, args, round_seconds(args))
            if prepared:
                from django.core.cache import cache

                # Every mix starts from the same place: an empty cache, filled by the warm-ups and
                # the load. Flushing Redis also empties the broker's queues and bindings, so the
                # Celery worker starts after it.
                cache.clear()
                celery = start_celery(env) if args.celery else None
                mixes = run_mixes(base, prepared, args, env)
        finally:
            stop(server)
        if prepared and args.scale_workers:
            steps = run_scale_out(prepared, args, env)
    finally:
        if celery is not None:
            stop(celery)
    if pages:
        report(pages, args, env)
    if prepared:
        report_traffic(mixes, steps, prepared, args, env)
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
