"""What a cold render of each storefront page costs, in process, on a large catalog.

A script, not a test (issue 9, "a cold page is cheap"). It fills a *dedicated* SQLite database
(var/cold_render/cold.sqlite3, or --database-url) with the demo catalog once (`seed_demo`, with
pictures, so cards draw their srcset as in production; idempotent, so later runs reuse it), then
renders each page below with the test client, DEBUG off, the cache cleared before every render,
and prints the median wall time, the SQL queries and the median time spent in SQL:

    home · a top-level category · that category filtered by a colour and sorted by price ·
    its page 2 · a search · a product page (the one with the most variants)

    .venv/bin/python bench/cold_render.py                    # 10,000 products, 15 renders each
    .venv/bin/python bench/cold_render.py --repeat 31 --profile category
    .venv/bin/python bench/cold_render.py --save-html var/cold_render/before   # compare later
    .venv/bin/python bench/cold_render.py --compare-html var/cold_render/before

"Cold" means an empty cache only: imports, URL resolvers and compiled templates are warmed first,
as they are in a serving worker. The machine may be shared and noisy: compare medians from runs
made one after the other, not single renders.
"""
from __future__ import annotations

import argparse
import cProfile
import difflib
import os
import pstats
import re
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.databases import ensure_postgres_database  # noqa: E402

WORK_DIR = ROOT / "var" / "cold_render"
PYTHON = sys.executable


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database-url", default="", help="default: a SQLite file under var/cold_render/")
    parser.add_argument("--repeat", type=int, default=15, help="cold renders per page (the median is shown)")
    parser.add_argument("--profile", default="", help="profile one page by name (e.g. category) with cProfile")
    parser.add_argument("--save-html", default="", help="write each page's HTML to this directory")
    parser.add_argument("--compare-html", default="", help="diff each page's HTML against a --save-html directory")
    parser.add_argument("--only", default="", help="comma-separated page names to time")
    return parser.parse_args()


def environment(args: argparse.Namespace) -> dict[str, str]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings",
        DATABASE_URL=args.database_url or f"sqlite:///{WORK_DIR / 'cold.sqlite3'}",
        DJANGO_DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        MEDIA_ROOT=str(WORK_DIR / "media"),
        CELERY_TASK_ALWAYS_EAGER="true",
        CACHE_URL="locmemcache://cold-render",
        LOG_LEVEL="WARNING",
    )
    return env


def prepare(args: argparse.Namespace, env: dict[str, str]) -> None:
    def manage(*command: str) -> None:
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)

    ensure_postgres_database(env["DATABASE_URL"])
    manage("migrate", "--noinput", "-v0")
    manage("seed_demo", "--products", str(args.products), "--customers", "0", "-v0")
    # DEBUG off serves static files through the manifest storage, which needs collectstatic.
    env_static = env.get("STATIC_ROOT")
    if not env_static:
        manage("collectstatic", "--noinput", "-v0")


@dataclass
class Page:
    name: str
    path: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    queries: int = 0


def pick_pages() -> list[Page]:
    from django.db.models import Count

    from catalog import selectors
    from catalog.models import OptionValue, Product

    tree = selectors.category_tree()
    per_category = dict(
        selectors.published_products().values("category_id").annotate(n=Count("pk")).values_list("category_id", "n")
    )
    root = max(tree.roots, key=lambda node: sum(per_category.get(pk, 0) for pk in tree.descendant_ids(node)))
    colour = (
        OptionValue.objects.filter(option__changes_look=True, variants__product__category_id__in=tree.descendant_ids(root))
        .annotate(n=Count("variants")).order_by("-n", "pk").select_related("option").first()
    )
    product = Product.objects.published().annotate(n=Count("variants")).order_by("-n", "pk").only("slug").first()
    url = root.get_absolute_url()
    facet = f"?o_{colour.option.slug}={colour.slug}&sort=price_asc" if colour else "?sort=price_asc"
    return [
        Page("home", "/"),
        Page("category", url),
        Page("category+facet+sort", url + facet),
        Page("category page 2", url + "?page=2"),
        Page("search", f"/search/?q={quote('jacket')}"),
        Page("product", product.get_absolute_url()),
    ]


def measure(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    pages = pick_pages()
    if args.only:
        wanted = set(args.only.split(","))
        pages = [page for page in pages if page.name in wanted]
    client = Client()
    for page in pages:
        response = client.get(page.path)
        if response.status_code != 200:
            raise SystemExit(f"{page.path} answered {response.status_code}")
    html = {}
    # Interleaved rounds: a noisy neighbour slows every page a little rather than one page a lot.
    for _round in range(args.repeat):
        for page in pages:
            cache.clear()
            started, cpu_started = time.perf_counter(), time.process_time()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(page.path)
            page.wall.append((time.perf_counter() - started) * 1000)
            page.cpu.append((time.process_time() - cpu_started) * 1000)
            page.sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
            page.queries = len(queries)
            html[page.name] = response.content.decode()

    # CPU ms: this process's CPU time (SQLite runs in it too), which a busy neighbour inflates
    # far less than wall time; compare it when the machine is shared.
    print(f"\n{'page':<22} {'median ms':>10} {'min ms':>8} {'CPU ms':>8} {'queries':>8} {'SQL ms':>8}   path")
    for page in pages:
        print(
            f"{page.name:<22} {statistics.median(page.wall):>10.1f} {min(page.wall):>8.1f} "
            f"{statistics.median(page.cpu):>8.1f} {page.queries:>8} {statistics.median(page.sql):>8.1f}   {page.path}"
        )

    if args.save_html:
        target = Path(args.save_html)
        target.mkdir(parents=True, exist_ok=True)
        for name, text in html.items():
            (target / f"{name.replace(' ', '_').replace('+', '_')}.html").write_text(normalise(text))
        print(f"HTML written to {target}")
    if args.compare_html:
        source = Path(args.compare_html)
        for name, text in html.items():
            before = (source / f"{name.replace(' ', '_').replace('+', '_')}.html").read_text()
            diff = list(difflib.unified_diff(before.splitlines(), normalise(text).splitlines(), "before", "after", lineterm=""))
            print(f"{name}: {'same HTML' if not diff else f'{len(diff)} diff lines'}")
            for line in diff[:40]:
                print("   ", line)

    if args.profile:
        page = next(page for page in pages if page.name == args.profile)
        profiler = cProfile.Profile()
        for _ in range(5):
            cache.clear()
            profiler.enable()
            client.get(page.path)
            profiler.disable()
        print(f"\n--- {page.name}: 5 cold renders, top functions by cumulative time")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        print(f"--- {page.name}: the project's own functions (not the libraries'), by cumulative time")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(rf"^{re.escape(str(ROOT))}/(?!\.venv)", 30)


def normalise(html: str) -> str:
    """Blank out what differs on every response (CSRF tokens), so pages can be compared."""
    return re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+', r"\1-", html)


def main() -> int:
    args = parse_args()
    env = environment(args)
    if os.environ.get("_COLD_RENDER_CHILD") != "1":
        print(f"Preparing {env['DATABASE_URL']} with {args.products:,} products ...", flush=True)
        prepare(args, env)
        env["_COLD_RENDER_CHILD"] = "1"
        return subprocess.run([PYTHON, __file__, *sys.argv[1:]], cwd=ROOT, env=env).returncode
    sys.path.insert(0, str(ROOT))
    measure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
