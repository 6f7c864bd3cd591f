"""Latency of product search (catalog.search.search) on a large generated catalog.

A script, not a test. It fills a *dedicated* database with N products (its own generator, bulk
inserts, so the search triggers index them as they would any write), then times `search()` for
a fixed set of realistic queries (exact words, a full title, brand, typos, prefixes, a word only
descriptions have, a word nothing has) and prints p50/p99 per query and over all of them.

    # PostgreSQL (create the database once: createdb -h 127.0.0.1 -U postgres shop_searchbench)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_searchbench .venv/bin/python bench/search_latency.py
    # SQLite (the default: var/search_bench.sqlite3)
    .venv/bin/python bench/search_latency.py --products 10000

The database's name must contain "bench": the script deletes every product in it. A database
that already holds exactly N products from an earlier run is reused (--refill forces a new fill).
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'search_bench.sqlite3'}")

ADJECTIVES = [
    "classic", "slim", "relaxed", "waterproof", "lightweight", "insulated", "organic", "vintage",
    "essential", "premium", "everyday", "technical", "heritage", "packable", "quilted", "brushed",
    "stretch", "recycled", "oversized", "cropped", "tailored", "ribbed", "padded", "breathable",
]
COLOURS = [
    "black", "navy", "red", "olive", "grey", "white", "blue", "green", "brown", "beige", "burgundy",
    "mustard", "teal", "charcoal", "ivory", "rust", "pink", "sand",
]
MATERIALS = [
    "cotton", "wool", "linen", "leather", "denim", "cashmere", "silk", "fleece", "nylon", "canvas",
    "suede", "corduroy", "bamboo", "hemp", "merino", "jersey",
]
NOUNS = [
    "jacket", "shirt", "t-shirt", "sweater", "hoodie", "jeans", "trousers", "shorts", "dress", "skirt",
    "coat", "parka", "gilet", "scarf", "hat", "beanie", "gloves", "socks", "boots", "sneakers",
    "sandals", "backpack", "tote", "belt", "wallet", "cardigan", "blazer", "chinos", "leggings",
    "vest", "pyjamas", "raincoat", "anorak", "poncho", "mittens", "slippers", "loafers", "overshirt",
    "polo", "blouse",
]
SYLLABLES = [
    "nor", "dal", "vik", "sten", "ber", "ka", "lund", "fjel", "ma", "ro", "tin", "sol", "an", "gar", "holm", "ste",
]
# Description prose: common words are very common, most words are rare (roughly Zipf).
PROSE = (
    "made from soft durable fabric with a comfortable fit for everyday wear and easy care machine "
    "washable keeps you warm dry cool in any weather designed to last season after season finished "
    "with reinforced seams adjustable cuffs hidden pockets a clean modern look that pairs well with "
    "jeans chinos dresses skirts or layered under a coat responsibly sourced fibres dyed without "
    "harmful chemicals packed in recycled paper tested for colourfastness shrinkage and pilling"
).split()
# The long tail: ~16,000 made-up words drawn with Zipf weights, so the vocabulary grows with
# the catalog as real product copy does.
RARE = [f"{a}{b}{c}{d}" for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES for d in ("", "a", "en", "is")]
RARE_WEIGHTS = list(itertools.accumulate(1 / rank for rank in range(1, len(RARE) + 1)))

QUERIES = {
    "exact word": ["jacket", "sweater", "cardigan"],
    "two words": ["wool scarf", "leather boots"],
    "three words": ["navy cotton shirt"],
    "full title": [],  # filled with a real product's title
    "brand": [],  # filled with a real brand name
    "description word": ["pilling", "fabric"],
    "typo": ["jaket", "sweter", "lether boots", "cashmire", "backapck", "trosers"],
    "prefix": ["jack", "swe", "leat", "cardi", "waterpr"],
    "no match": ["xylophone"],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30, help="timed runs of each query (default 30)")
    parser.add_argument("--refill", action="store_true", help="delete and regenerate the products")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--optimize", action="store_true", help="compact the index (optimize_index) before timing")
    return parser.parse_args()


def description(rng: random.Random, title: str) -> str:
    words = rng.choices(PROSE, k=rng.randint(25, 60)) + rng.choices(RARE, cum_weights=RARE_WEIGHTS, k=8)
    rng.shuffle(words)
    half = len(words) // 2
    return (
        f"<p>The <strong>{title.lower()}</strong> is {' '.join(words[:half])}.</p>"
        f"<ul><li>{' '.join(words[half:half + 6])}</li><li>{' '.join(words[half + 6:])}</li></ul>"
        '<p><a href="https://example.com/care">Care guide</a></p>'
    )


def fill(count: int, seed: int) -> None:
    from django.db import connection, transaction

    from catalog.cache import bump_catalog_version_on_commit
    from catalog.models import Brand, Category, Product

    rng = random.Random(seed)
    with transaction.atomic(), connection.cursor() as cursor:
        # Straight SQL: the ORM would load and signal 100,000 deletions one by one.
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE catalog_product, catalog_category, catalog_brand CASCADE")
        else:
            for table in ["catalog_product", "catalog_category", "catalog_brand"]:
                cursor.execute(f"DELETE FROM {table}")
        categories = Category.objects.bulk_create(
            Category(name=f"Category {n}", slug=f"category-{n}", position=n, is_active=n % 25 != 24)
            for n in range(50)
        )
        brand_names = sorted({(rng.choice(SYLLABLES) + rng.choice(SYLLABLES)).capitalize() for _ in range(400)})
        brands = Brand.objects.bulk_create(Brand(name=name, slug=name.lower()) for name in brand_names)
    started = time.perf_counter()
    batch = 2_000
    for start in range(0, count, batch):
        rows = []
        for n in range(start, min(start + batch, count)):
            parts = [rng.choice(ADJECTIVES) if rng.random() < 0.7 else "", rng.choice(COLOURS),
                     rng.choice(MATERIALS) if rng.random() < 0.8 else "", rng.choice(NOUNS)]
            title = " ".join(p for p in parts if p).capitalize()
            rows.append(Product(
                title=title, slug=f"p-{n}", category=rng.choice(categories), brand=rng.choice(brands),
                description=description(rng, title),
                status=Product.Status.ACTIVE if rng.random() < 0.9 else Product.Status.DRAFT,
            ))
        with transaction.atomic():
            Product.objects.bulk_create(rows)
        done = min(start + batch, count)
        if done % 20_000 == 0 or done == count:
            print(f"  {done:>7,} products, {time.perf_counter() - started:6.1f} s", flush=True)
    bump_catalog_version_on_commit()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Brand, Product
    from catalog.search import optimize_index, search

    name = str(connection.settings_dict["NAME"])
    if "bench" not in Path(name).name:
        sys.exit(f"Refusing to fill {name!r}: use a dedicated database whose name contains 'bench'.")
    print(f"Database: {connection.vendor} {name}")
    call_command("migrate", verbosity=0)
    if args.refill or Product.objects.count() != args.products:
        print(f"Filling {args.products:,} products ...", flush=True)
        fill(args.products, args.seed)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        print(f"Reusing {args.products:,} products (--refill to regenerate).")
    if args.optimize:
        started = time.perf_counter()
        optimize_index()
        print(f"Index compacted in {time.perf_counter() - started:.1f} s.")

    queries = {kind: list(items) for kind, items in QUERIES.items()}
    rng = random.Random(args.seed)
    queries["full title"] = [Product.objects.published().order_by("pk")[rng.randrange(1000)].title]
    queries["brand"] = [Brand.objects.order_by("pk")[rng.randrange(50)].name]

    rows, everything = [], []
    for kind, items in queries.items():
        for query in items:
            with CaptureQueriesContext(connection) as captured:
                result = search(query)  # warm-up, and the figures shown next to the timings
            samples = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                search(query)
                samples.append((time.perf_counter() - started) * 1000)
            everything += samples
            rows.append((kind, query, len(result.ids), result.corrected or "", len(captured),
                         percentile(samples, 0.5), percentile(samples, 0.99)))

    print(f"\n{'kind':<17} {'query':<26} {'hits':>5} {'corrected':<14} {'SQL':>3} {'p50 ms':>7} {'p99 ms':>7}")
    for kind, query, hits, corrected, sql, p50, p99 in rows:
        print(f"{kind:<17} {query[:26]:<26} {hits:>5} {corrected[:14]:<14} {sql:>3} {p50:>7.1f} {p99:>7.1f}")
    print(f"\nall {len(everything)} searches ({args.products:,} products, {connection.vendor}): "
          f"p50 {percentile(everything, 0.5):.1f} ms, p99 {percentile(everything, 0.99):.1f} ms, "
          f"max {max(everything):.1f} ms, mean {statistics.fmean(everything):.1f} ms")


if __name__ == "__main__":
    main()
