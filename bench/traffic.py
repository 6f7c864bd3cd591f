"""Realistic traffic for `make bench`: wrk at random over thousands of storefront URLs.

bench/run.py calls this after its per-page table, on the same database and gunicorn:

1. `collect_sample()` reads, in process, what the running store offers: product and category
   paths from the sitemaps, each category's facet values as its page computes them
   (`selectors.facets`) and how many products it lists, and the words of product titles.
2. `build_urls()` (pure) turns that into at least 2,000 distinct paths: product pages; category
   pages plain, with one facet value, sorted, on page 2; searches for one or two title words,
   some sorted or on page 2. The file is written under var/bench/ for the Lua script.
3. `check_urls()` asks a sample of them without following redirects: each must answer 200, so
   that no mix measures cheap redirects or error pages.
4. Each mix: wrk with bench/random_urls.lua (a random path per request, percentiles from wrk's
   done() callback) for a few unmeasured seconds to warm up, then the bare Django view
   (/bench/bare/) with the same headers and the same side processes running, then the mix itself.
   The mix's share is its req/s over the bare view's, measured just before it.
   Between runs, `settle()` waits until gunicorn has served what the last run left queued.
   - anonymous: no cookie;
   - cart shopper: the Cookie header of a real session that added a product to its cart through
     the store (`shopper_cookie`: GET a product page, POST /cart/add/ with its CSRF token);
   - cart shopper + orders: the same, while bench/place_orders.py places one order per second
     (`--order-rate`) through `orders.services.placement.place_order`, in a process of its own.
5. Scale-out: the anonymous mix on 1, then 2 (`--scale-workers`) gunicorn workers, each on a fresh
   gunicorn, with the throughput each step adds.
"""
from __future__ import annotations

import http.cookies
import json
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "random_urls.lua"
BARE_PATH = "/bench/bare/"
PER_PAGE = 24  # catalog.views.PER_PAGE: a listing with more products has a page 2
SORTS = ("price_asc", "price_desc", "newest", "best_selling")
# Share of each kind of URL in the list (wrk picks uniformly from it, so these are the request mix).
MIX = (
    ("product", 0.40),
    ("category", 0.08),
    ("category_facet", 0.14),
    ("category_sort", 0.07),
    ("category_page2", 0.05),
    ("category_facet_sort", 0.04),
    ("search_word", 0.12),
    ("search_two_words", 0.05),
    ("search_sort_or_page2", 0.05),
)
WORD = re.compile(r"[^\W\d_]{4,}")
RESULT_LINE = re.compile(r"^WRK_RESULT (\{.*\})$", re.M)


# --- What the store offers, and the URLs made of it (pure) --------------------------------------


@dataclass(frozen=True)
class CategorySample:
    path: str
    products: int  # published products listed on the page (the category and its descendants)
    facets: tuple[tuple[str, str], ...] = ()  # (query parameter, value slug), e.g. ("o_size", "m")


@dataclass(frozen=True)
class CatalogSample:
    products: tuple[str, ...]
    categories: tuple[CategorySample, ...]
    titles: tuple[str, ...] = field(default=(), repr=False)


def title_words(titles: tuple[str, ...] | list[str]) -> Counter:
    """Words of four letters or more in product titles, lower-cased, with how many titles have each."""
    counts: Counter = Counter()
    for title in titles:
        counts.update({word.lower() for word in WORD.findall(title)})
    return counts


def _search(words: list[str], **extra: str) -> str:
    return "/search/?" + urllib.parse.urlencode({"q": " ".join(words), **extra})


def _with_query(path: str, **params: str) -> str:
    return f"{path}?{urllib.parse.urlencode(params)}"


def build_urls(sample: CatalogSample, *, count: int = 2000, seed: int = 1) -> list[str]:
    """At least `count` distinct storefront paths (fewer only when the catalog cannot give that
    many), in the proportions of MIX, shuffled. The same sample and seed give the same list."""
    rng = random.Random(seed)
    words = title_words(sample.titles)
    vocabulary = sorted(words)
    # A search with a page 2: words in more titles than one page holds.
    common = sorted(word for word, n in words.items() if n > PER_PAGE)
    categories = list(sample.categories)
    with_facets = [c for c in categories if c.facets]
    with_page2 = [c for c in categories if c.products > PER_PAGE]

    def make(kind: str) -> str | None:
        if kind == "product":
            return rng.choice(sample.products) if sample.products else None
        if kind == "category":
            return rng.choice(categories).path if categories else None
        if kind == "category_facet":
            if not with_facets:
                return None
            category = rng.choice(with_facets)
            key, value = rng.choice(category.facets)
            return _with_query(category.path, **{key: value})
        if kind == "category_sort":
            return _with_query(rng.choice(categories).path, sort=rng.choice(SORTS)) if categories else None
        if kind == "category_page2":
            return _with_query(rng.choice(with_page2).path, page="2") if with_page2 else None
        if kind == "category_facet_sort":
            if not with_facets:
                return None
            category = rng.choice(with_facets)
            key, value = rng.choice(category.facets)
            return _with_query(category.path, **{key: value, "sort": rng.choice(SORTS)})
        if kind == "search_word":
            return _search([rng.choice(vocabulary)]) if vocabulary else None
        if kind == "search_two_words":
            return _search(rng.sample(vocabulary, 2)) if len(vocabulary) >= 2 else None
        if kind == "search_sort_or_page2":
            if common and rng.random() < 0.5:
                return _search([rng.choice(common)], page="2")
            return _search([rng.choice(vocabulary)], sort=rng.choice(SORTS)) if vocabulary else None
        raise ValueError(kind)

    urls: list[str] = []
    seen: set[str] = set()
    for kind, share in MIX:
        wanted = round(count * share)
        made, attempts = 0, 0
        # Small catalogs run out of distinct URLs of a kind: give up on it after enough repeats.
        while made < wanted and attempts < wanted * 20:
            attempts += 1
            url = make(kind)
            if url is None:
                break
            if url not in seen:
                seen.add(url)
                urls.append(url)
                made += 1
    # Rounding, or kinds a small catalog could not fill: top up with whatever kind still gives new ones.
    attempts = 0
    while len(urls) < count and attempts < count * 20:
        attempts += 1
        url = make(rng.choice([kind for kind, _ in MIX]))
        if url is not None and url not in seen:
            seen.add(url)
            urls.append(url)
    rng.shuffle(urls)
    return urls


def url_kind(path: str) -> str:
    """Which kind of page a path is, for the summary line of the URL list."""
    if path.startswith("/p/"):
        return "product"
    if path.startswith("/c/"):
        return "category"
    if path.startswith("/search/"):
        return "search"
    return "other"


# --- wrk's results (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_text(self) -> str:
        """wrk's error counts that are not zero, e.g. "status 3, timeout 1"; "" when none."""
        return ", ".join(f"{name} {n}" for name, n in self.errors.items() if n)


def parse_wrk_result(output: str) -> WrkResult:
    """The figures random_urls.lua's done() printed in wrk's output."""
    match = RESULT_LINE.search(output)
    if match is None:
        raise ValueError("wrk printed no WRK_RESULT line (was it run with bench/random_urls.lua?):\n" + output)
    data = json.loads(match.group(1))
    return WrkResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors={name: int(n) for name, n in data["errors"].items()},
    )


@dataclass
class MixResult:
    name: str
    store: WrkResult
    bare: WrkResult
    note: str = ""

    @property
    def share(self) -> float:
        bare = self.bare.requests_per_second
        return self.store.requests_per_second / bare if bare else 0.0


def format_mixes(results: list[MixResult]) -> str:
    header = f"{'mix':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bare req/s':>11} {'vs bare':>8}"
    lines = [header, "-" * len(header)]
    for result in results:
        store = result.store
        lines.append(
            f"{result.name:<34} {store.requests_per_second:>8.0f} {store.p50_ms:>8.1f} {store.p99_ms:>8.1f} "
            f"{result.bare.requests_per_second:>11.0f} {result.share:>8.1%}"
        )
        problems = "; ".join(
            text for text in (
                f"store: {store.error_text}" if store.error_text else "",
                f"bare: {result.bare.error_text}" if result.bare.error_text else "",
                result.note,
            ) if text
        )
        if problems:
            lines.append(f"    {problems}")
    return "\n".join(lines)


def format_scale(steps: list[tuple[int, MixResult]]) -> str:
    header = f"{'gunicorn workers':<17} {'req/s':>8} {'p99 ms':>8} {'x 1 worker':>11} {'bare req/s':>11} {'vs bare':>8}"
    lines = [header, "-" * len(header)]
    first = steps[0][1].store.requests_per_second if steps else 0
    for workers, result in steps:
        rate = result.store.requests_per_second
        growth = f"{rate / first:.2f}" if first else "-"
        lines.append(
            f"{workers:<17} {rate:>8.0f} {result.store.p99_ms:>8.1f} {growth:>11} "
            f"{result.bare.requests_per_second:>11.0f} {result.share:>8.1%}"
        )
        if result.store.error_text:
            lines.append(f"    store: {result.store.error_text}")
    return "\n".join(lines)


# --- Against the running store -------------------------------------------------------------------


def collect_sample() -> CatalogSample:
    """Read what the store offers (Django set up, the bench database). One facets computation per
    category, as its page does: a few queries each."""
    from django.db.models import Count

    from catalog import selectors
    from catalog.sitemaps import CategorySitemap, ProductSitemap

    products = ProductSitemap()
    product_items = list(products.items())
    tree = selectors.category_tree()
    per_category = dict(
        selectors.published_products().values("category_id").annotate(n=Count("pk")).values_list("category_id", "n")
    )
    no_filters = selectors.ListingFilters()
    categories = []
    for node in CategorySitemap().items():
        ids = tree.descendant_ids(node)
        listed = sum(per_category.get(pk, 0) for pk in ids)
        if not listed:
            continue
        base = selectors.published_products().filter(category_id__in=ids)
        facets = selectors.facets(base, no_filters)
        pairs = tuple((group.key, value.slug) for group in facets.groups for value in group.values if value.count)
        if facets.in_stock_count:
            pairs += (("in_stock", "1"),)
        categories.append(CategorySample(path=node.get_absolute_url(), products=listed, facets=pairs))
    titles = tuple(product.title for product in selectors.published_products().only("title"))
    return CatalogSample(
        products=tuple(products.location(item) for item in product_items), categories=tuple(categories), titles=titles,
    )


def write_urls(urls: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(urls) + "\n")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check_urls(base: str, urls: list[str], *, sample: int = 30, headers: dict | None = None) -> None:
    """Ask `sample` of the URLs (the first of each kind among them) without following redirects:
    each must answer 200, or the mix would measure redirects or error pages."""
    opener = urllib.request.build_opener(_NoRedirect)
    picked = urls[:sample]
    for path in picked:
        request = urllib.request.Request(base + path, headers=headers or {})
        try:
            with opener.open(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != 200:
            raise SystemExit(f"{path} answered {status}: the benchmark's URLs must all be pages that answer 200")


# DEBUG off, the store's cookies are Secure: in production a TLS proxy in front says the request
# came over HTTPS with this header (SECURE_PROXY_SSL_HEADER). Every mix sends it, as that proxy would.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def _set_cookies(response, cookies: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or ():
        parsed = http.cookies.SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            if morsel["max-age"] == "0" or not morsel.value:
                cookies.pop(name, None)
            else:
                cookies[name] = morsel.value


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in sorted(cookies.items()))


def shopper_cookie(base: str, *, product_path: str, variant_id: int, product_id: int) -> str:
    """The Cookie header of a new shopper who put one item in their cart through the store: the
    product page, the add-to-cart form posted with its CSRF token, the redirect (the product page
    again, which shows the "added" message and so takes it out of the cookies) and the cart page
    to check the line. Cookies are kept by hand: they are Secure, and urllib's cookie jar would
    not send them over the loopback's plain HTTP."""
    from django.conf import settings

    opener = urllib.request.build_opener(_NoRedirect)
    cookies: dict[str, str] = {}

    def ask(path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            base + path, data=data, headers={**PROXY_HEADERS, "Cookie": _cookie_header(cookies), **(headers or {})}
        )
        try:
            response = opener.open(request, timeout=60)
        except urllib.error.HTTPError as error:  # the redirect after the POST, or a real error
            response = error
        with response:
            _set_cookies(response, cookies)
            return response.status, response.headers.get("Location", ""), response.read().decode()

    status, _, page = ask(product_path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise SystemExit(f"{product_path} answered {status} with no CSRF token: cannot add to cart")
    https_base = "https://" + urllib.parse.urlsplit(base).netloc
    form = urllib.parse.urlencode({
        "csrfmiddlewaretoken": token.group(1), "variant": variant_id, "product": product_id, "quantity": 1,
    }).encode()
    # Same-origin POST, as the browser sends it (Django's CSRF check compares Origin with the host).
    status, location, _ = ask("/cart/add/", form, {"Origin": https_base, "Referer": https_base + product_path})
    if status != 302:
        raise SystemExit(f"Adding to cart answered {status}")
    ask(urllib.parse.urlsplit(location).path)  # back to the product page, which shows the "added" message
    status, _, cart_page = ask("/cart/")
    if settings.SESSION_COOKIE_NAME not in cookies:
        raise SystemExit("Adding to cart gave no session cookie")
    if status != 200 or "/cart/lines/" not in cart_page:
        raise SystemExit(f"The cart page ({status}) shows no line after adding to cart")
    return _cookie_header(cookies)


def cart_item() -> tuple[str, int, int]:
    """A product page and one of its variants in stock: what the shopper puts in their cart."""
    from catalog import selectors
    from catalog.models import Variant

    variant = (
        Variant.objects.filter(
            is_active=True, product__in=selectors.published_products().values("pk"),
            stock_levels__location__is_active=True,
        )
        .filter(stock_levels__on_hand__gt=10)
        .select_related("product")
        .order_by("pk")
        .first()
    )
    if variant is None:
        raise SystemExit("No variant in stock to add to a cart")
    return variant.product.get_absolute_url(), variant.pk, variant.product_id


def run_wrk(base: str, urls_file: Path, *, seconds: float, connections: int, threads: int,
            headers: dict | None = None) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
               "-s", str(LUA_SCRIPT)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command += [base, "--", str(urls_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise SystemExit(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return parse_wrk_result(result.stdout)


def settle(base: str, *, connections: int) -> None:
    """Wait until gunicorn has worked through what the last wrk run left behind.

    When wrk stops, the requests its connections had sent are still queued at gunicorn's sync
    workers (cold pages can take a second each on a busy machine), and would be served during the
    next measure. Sent together, `connections` requests for the bare view queue up behind them;
    when all have answered, so has the backlog.
    """
    from concurrent.futures import ThreadPoolExecutor

    def ask(_):
        request = urllib.request.Request(base + BARE_PATH, headers=PROXY_HEADERS)
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()

    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(ask, range(connections)))


class OrderStream:
    """bench/place_orders.py in a process of its own, placing orders while a mix runs."""

    def __init__(self, env: dict[str, str], *, rate: float):
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "place_orders.py"), "--rate", str(rate)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        ready = self.process.stdout.readline()  # "ready" once Django is set up and the variants chosen
        if not ready.startswith("ready"):
            self.process.kill()
            raise SystemExit(f"bench/place_orders.py did not start: {ready!r}")
        self.started = time.monotonic()

    def stop(self) -> str:
        """Stop it; what it placed, as a note for the table."""
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        seconds = time.monotonic() - self.started
        try:
            figures = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return f"orders: the side process printed no figures ({out!r})"
        return (
            f"orders placed: {figures['placed']} in {seconds:.0f} s ({figures['placed'] / seconds:.2f}/s), "
            f"refused: {figures['refused']}, late ticks: {figures['late']}, "
            f"placement p50 {figures['p50_ms']:.0f} ms, max {figures['max_ms']:.0f} ms"
        )
