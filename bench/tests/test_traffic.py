"""The realistic-traffic benchmark's own logic (bench/traffic.py): which URLs it loads and how it
reads wrk's figures. The load itself needs gunicorn and wrk: `make bench` runs it."""
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import traffic
from bench.traffic import CatalogSample, CategorySample, MixResult, WrkResult

COLOURS = ("Red", "Blue", "Green", "Black", "White", "Olive", "Navy", "Sand", "Rust", "Plum", "Teal", "Stone")
KINDS = ("Hiking", "Rain", "Winter", "Denim", "Fleece", "Shell", "Parka", "Trail", "Storm", "Alpine")
# Each title also has a word of its own (a model name), as real titles do: "Blue Rain jacket Bacd".
TITLES = tuple(
    f"{COLOURS[n % len(COLOURS)]} {KINDS[n % len(KINDS)]} jacket "
    + "".join("abcdefghij"[int(d)] for d in f"{n:04d}").capitalize()
    for n in range(300)
)
FACETS = (("brand", "acme"), ("brand", "nordic"), ("o_size", "m"), ("o_size", "l"), ("o_colour", "red"),
          ("a_material", "wool"), ("in_stock", "1"))


def big_sample() -> CatalogSample:
    return CatalogSample(
        products=tuple(f"/p/product-{n}/" for n in range(3000)),
        categories=(
            *(CategorySample(f"/c/outdoor/sub-{n}/", 100, FACETS) for n in range(30)),
            CategorySample("/c/outdoor/tents/", 10, (("a_material", "nylon"),)),
            CategorySample("/c/clothing/", 400, ()),
        ),
        titles=TITLES,
    )


def test_title_words_counts_titles_not_occurrences_and_drops_short_words_and_numbers():
    counts = traffic.title_words(["Red rain jacket, rain proof", "Jacket 2000 XL", "Été jacket"])

    assert counts["jacket"] == 3
    assert counts["rain"] == 1
    assert counts["proof"] == 1 and counts["été"] == 0  # three letters: too short to search for
    assert "2000" not in counts and "red" not in counts and "xl" not in counts


def test_build_urls_gives_the_count_asked_all_distinct_in_every_kind():
    urls = traffic.build_urls(big_sample(), count=2000)

    assert len(urls) == 2000 == len(set(urls))
    products = [u for u in urls if u.startswith("/p/")]
    categories = [urlsplit(u) for u in urls if u.startswith("/c/")]
    searches = [parse_qs(urlsplit(u).query) for u in urls if u.startswith("/search/")]
    # 40% products, 38% categories, 22% searches; 32 categories cannot give 38% of distinct
    # category URLs, so what they lack is made up with the other kinds.
    assert 700 <= len(products) <= 1000
    assert len(categories) >= 500
    assert len(searches) >= 400
    queries = [parse_qs(c.query) for c in categories]
    assert any(not q for q in queries), "plain category pages"
    assert any("brand" in q or "o_size" in q or "a_material" in q or "in_stock" in q for q in queries), "facets"
    assert any("sort" in q for q in queries) and any(q.get("page") == ["2"] for q in queries)
    assert {"/c/outdoor/tents/", "/c/clothing/", "/c/outdoor/sub-0/"} <= {c.path for c in categories}
    words = traffic.title_words(TITLES)
    assert searches and all(set(s["q"][0].split()) <= set(words) for s in searches), "searches use title words"
    assert any(len(s["q"][0].split()) == 2 for s in searches)
    assert any("sort" in s for s in searches) and any(s.get("page") == ["2"] for s in searches)


def test_build_urls_offers_page_2_only_where_there_is_one_and_facets_only_of_their_category():
    urls = traffic.build_urls(big_sample(), count=2000)
    words, paged = traffic.title_words(TITLES), set()

    for url in urls:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.path == "/c/outdoor/tents/":  # 10 products: one page
            assert "page" not in query
            assert set(query) <= {"a_material", "sort"}
        if parts.path == "/c/clothing/":  # no facets
            assert set(query) <= {"sort", "page"}
        if parts.path.startswith("/search/") and "page" in query:
            # only words in more titles than a page holds (24): "jacket", a colour (25), not a kind (30)
            assert words[query["q"][0]] > 24
            paged.add(query["q"][0])
    assert "jacket" in paged and not paged & {"aaaa", "aaab"}


def test_build_urls_is_repeatable_and_stops_when_a_small_catalog_runs_out():
    assert traffic.build_urls(big_sample(), count=500, seed=7) == traffic.build_urls(big_sample(), count=500, seed=7)

    small = CatalogSample(products=("/p/a/", "/p/b/"), categories=(CategorySample("/c/x/", 2),), titles=("Blue Shirt",))
    urls = traffic.build_urls(small, count=2000)

    assert len(urls) == len(set(urls)) < 2000
    assert {"/p/a/", "/p/b/", "/c/x/", "/search/?q=blue", "/search/?q=shirt"} <= set(urls)


WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8765
  2 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.17ms    8.28ms  82.19ms   96.88%
  2343 requests in 2.02s, 704.11KB read
  Non-2xx or 3xx responses: 779
Requests/sec:   1159.95
WRK_RESULT {"requests": 2343, "duration_us": 2019911, "bytes": 721008, "p50_us": 1102, "p90_us": 5049, \
"p99_us": 56320, "max_us": 82195, "errors": {"connect": 0, "read": 0, "write": 0, "status": 779, "timeout": 2}}
"""


def test_parse_wrk_result_reads_the_line_the_lua_script_prints():
    result = traffic.parse_wrk_result(WRK_OUTPUT)

    assert result.requests == 2343
    assert result.requests_per_second == pytest.approx(1159.95, abs=0.01)
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms) == (1.102, 5.049, 56.32, 82.195)
    assert result.error_text == "status 779, timeout 2"


def test_parse_wrk_result_says_what_is_missing_without_the_script():
    with pytest.raises(ValueError, match="random_urls.lua"):
        traffic.parse_wrk_result("Running 2s test @ http://127.0.0.1:8765\nRequests/sec: 10.0\n")


def test_the_lua_script_prints_every_field_the_parser_reads():
    script = traffic.LUA_SCRIPT.read_text()

    for name in ("requests", "duration_us", "p50_us", "p90_us", "p99_us", "max_us", "connect", "read", "write",
                 "status", "timeout"):
        assert f'"{name}": %' in script or f'"{name}": {{' in script, name
    assert "function done(summary, latency, requests)" in script
    assert "function response(" not in script  # it would slow wrk down on every response


def wrk(requests: int, seconds: float = 10.0, p99: float = 50.0, **errors: int) -> WrkResult:
    return WrkResult(requests=requests, seconds=seconds, p50_ms=5.0, p90_ms=20.0, p99_ms=p99, max_ms=90.0,
                     errors={"connect": 0, "status": 0, **errors})


def test_tables_show_the_share_of_the_bare_view_and_the_growth_from_one_worker():
    mixes = [
        MixResult("anonymous", store=wrk(1200), bare=wrk(8000)),
        MixResult("cart + orders at 1/s", store=wrk(300, status=4), bare=wrk(6000), note="orders placed: 20"),
    ]
    table = traffic.format_mixes(mixes)

    assert mixes[0].share == pytest.approx(0.15)
    lines = table.splitlines()
    assert lines[2].split()[-1] == "15.0%" and lines[2].split()[1] == "120"
    assert lines[3].split()[-1] == "5.0%"
    assert "store: status 4; orders placed: 20" in lines[4]

    scale = traffic.format_scale([(1, mixes[0]), (2, MixResult("2", store=wrk(2100), bare=wrk(9000)))])

    assert scale.splitlines()[2].split()[:4] == ["1", "120", "50.0", "1.00"]
    assert scale.splitlines()[3].split()[:4] == ["2", "210", "50.0", "1.75"]


def test_urls_collected_from_a_seeded_store_are_pages_that_answer_200(demo_catalog, client):
    # given the demo catalog, as `make bench` seeds it (smaller)
    demo_catalog(products=40)

    # when the bench reads the store and builds its URLs
    sample = traffic.collect_sample()
    urls = traffic.build_urls(sample, count=300)

    # then they are real storefront pages of every kind, answering 200 without a redirect
    assert len(sample.products) == 40 and sample.categories and sample.titles
    assert any(category.facets for category in sample.categories)
    assert {traffic.url_kind(url) for url in urls} == {"product", "category", "search"}
    assert any("?" in url and "sort=" not in url and "page=" not in url for url in urls if url.startswith("/c/"))
    picked = [next(url for url in urls if url.startswith(prefix)) for prefix in ("/p/", "/c/", "/search/")]
    picked += [url for url in urls if "page=2" in url][:1] + [url for url in urls if "/c/" in url and "=" in url][:3]
    for url in picked:
        assert client.get(url).status_code == 200, url
