"""Build the demo catalog: categories, brands, options, products with variants, stock and pictures.

Every product is derived from (seed, index) alone, so product #42 is the same on every run and on
every machine; a run adds whichever of products 0..N-1 are missing (by slug) and touches nothing
else. Rows are written in batches (bulk_create where ids are needed, plain multi-row INSERTs for
stock and link rows), one transaction per batch, so an interrupted run leaves only whole products
behind and the next run completes it.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from inventory.models import Reason, StockMovement
from shop.db import analyze

from .. import images as renditions
from ..cache import bump_catalog_version
from ..listing_index import invalidate_categories
from ..models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    Location,
    Option,
    OptionValue,
    Product,
    ProductImage,
    StockLevel,
    Variant,
)
from . import data, pictures

ROMAN = ["", " II", " III", " IV", " V", " VI", " VII", " VIII", " IX", " X"]
PICTURE_DIR = "products/demo"
# Every colour of a product gets its picture (products come in at most four).
MAX_PICTURES_PER_PRODUCT = 4
# The pictures are flat artwork: libwebp's fastest effort costs a few hundred bytes a file and
# makes the first `make run` several seconds faster.
PICTURE_WEBP_METHOD = 0


@dataclass
class SeedReport:
    requested: int
    created: int = 0
    variants: int = 0
    stock_levels: int = 0
    images: int = 0
    pictures_drawn: int = 0
    seconds: float = 0.0

    @property
    def already_present(self) -> int:
        return self.requested - self.created


@dataclass
class VariantSpec:
    sku: str
    barcode: str
    price: Decimal
    compare_at_price: Decimal | None
    weight: Decimal
    size: tuple[str, str] | None  # (scale, slug)
    colour: str | None
    stock: dict[str, tuple[int, int]]  # location code -> (on hand, reserved)


@dataclass(frozen=True)
class Listing:
    """What identifies demo product `index`: cheap to compute for every index on every run."""

    index: int
    type: data.ProductType
    title: str
    slug: str


@dataclass
class ProductSpec:
    listing: Listing
    brand: str
    materials: list[str]
    colours: list[str]  # picture colours (the variant colours when colour is an option)
    description: str
    status: str
    is_featured: bool
    units_sold: int
    age: timedelta
    variants: list[VariantSpec] = field(default_factory=list)


@dataclass
class Reference:
    """Primary keys of the rows every product points at."""

    categories: dict[str, int]  # leaf slug -> id
    brands: dict[str, int]  # slug -> id
    sizes: dict[tuple[str, str], int]  # (scale, slug) -> option value id
    colours: dict[str, int]  # slug -> option value id
    materials: dict[str, int]  # name -> attribute value id
    locations: dict[str, int]  # code -> id


# --- Reference data -----------------------------------------------------------------------------


@transaction.atomic
def ensure_reference_data() -> Reference:
    """Create the categories, brands, options, attribute values and locations that are missing.

    Existing rows (perhaps edited by staff since) are found by slug or code and left as they are.
    """
    categories: dict[str, int] = {}
    for root_position, (name, slug, children) in enumerate(data.CATEGORIES):
        root, _ = Category.objects.get_or_create(
            parent=None, slug=slug,
            defaults={"name": name, "position": root_position, "description": data.CATEGORY_DESCRIPTIONS.get(slug, "")},
        )
        for position, (child_name, child_slug, leaves) in enumerate(children):
            child, _ = Category.objects.get_or_create(
                parent=root, slug=child_slug, defaults={"name": child_name, "position": position}
            )
            for leaf_position, (leaf_name, leaf_slug) in enumerate(leaves):
                leaf, _ = Category.objects.get_or_create(
                    parent=child, slug=leaf_slug, defaults={"name": leaf_name, "position": leaf_position}
                )
                categories[leaf_slug] = leaf.pk

    brands: dict[str, int] = {}
    for name, slug, _families in data.BRANDS:
        brand, _ = Brand.objects.get_or_create(slug=slug, defaults={"name": name})
        brands[slug] = brand.pk

    size, _ = Option.objects.get_or_create(slug="size", defaults={"name": "Size", "position": 0})
    # Pictures follow the colour: a colour's picture shows for that colour in every size.
    colour, _ = Option.objects.get_or_create(
        slug="colour", defaults={"name": "Colour", "position": 1, "changes_look": True}
    )
    sizes: dict[tuple[str, str], int] = {}
    for scale_number, (scale, values) in enumerate(data.SIZE_SCALES.items()):
        for position, (label, slug) in enumerate(values):
            value, _ = OptionValue.objects.get_or_create(
                option=size, slug=slug, defaults={"value": label, "position": scale_number * 20 + position}
            )
            sizes[(scale, slug)] = value.pk
    colours: dict[str, int] = {}
    for position, (slug, (label, swatch, _code)) in enumerate(data.COLOURS.items()):
        value, _ = OptionValue.objects.get_or_create(
            option=colour, slug=slug, defaults={"value": label, "swatch": swatch, "position": position}
        )
        colours[slug] = value.pk

    material, _ = Attribute.objects.get_or_create(slug="material", defaults={"name": "Material"})
    materials: dict[str, int] = {}
    for position, name in enumerate(data.MATERIALS):
        value, _ = AttributeValue.objects.get_or_create(
            attribute=material, slug=slugify(name), defaults={"value": name, "position": position}
        )
        materials[name] = value.pk

    locations: dict[str, int] = {}
    for position, (code, name, kind, pickup, address, postal_code, city, country) in enumerate(data.LOCATIONS):
        location, _ = Location.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "kind": kind, "pickup_allowed": pickup, "address_line1": address,
                "postal_code": postal_code, "city": city, "country": country, "position": position,
            },
        )
        locations[code] = location.pk
    from saleschannels.services import ensure_counter_channels

    ensure_counter_channels()

    return Reference(
        categories=categories, brands=brands, sizes=sizes, colours=colours,
        materials=materials, locations=locations,
    )


# --- Deterministic product specs ----------------------------------------------------------------


def _ean13(digits12: str) -> str:
    odd = sum(map(int, digits12[0::2]))
    even = sum(map(int, digits12[1::2]))
    return digits12 + str(-(odd + 3 * even) % 10)


def _shop_price(rng: random.Random, low: int, high: int) -> Decimal:
    """A price like 129.95 or 18.95: rounded to a step that suits its size, minus five cents."""
    raw = rng.uniform(low, high)
    step = 1 if high < 40 else 5 if high < 150 else 10
    return Decimal(max(step, round(raw / step) * step)) - Decimal("0.05")


def _with_topic_particle(name: str) -> str:
    """`name` and its Korean topic particle: 은 after a syllable ending in a consonant, else 는."""
    final_consonant = (ord(name[-1]) - 0xAC00) % 28
    return name + ("은" if final_consonant else "는")


def _description(
    product_type: data.ProductType, title: str, brand: str, material: str, rng: random.Random, *, korean: bool = False
) -> str:
    # Built only from the constant tables above, so there is nothing to sanitise (nh3 on 10,000
    # descriptions would cost more than inserting them); pages sanitise again when rendering.
    lead = data.LEADS[data.FAMILY_OF[product_type.category]].format(
        title=title, brand=brand, material_lower=material.lower()
    )
    features = rng.sample(product_type.features, k=min(len(product_type.features), rng.randint(3, 4)))
    items = "".join(f"<li>{feature}</li>" for feature in features)
    parts = [f"<p>{lead}</p>", f"<h3>Highlights</h3><ul>{items}</ul>"]
    if product_type.care:
        parts.append(f"<p><strong>Care:</strong> {product_type.care}</p>")
    if korean:
        lead = data.KOREAN_LEADS[data.FAMILY_OF[product_type.category]]
        parts.append(f"<p>{lead.format(name=_with_topic_particle(data.KOREAN_NAMES[product_type.key]))}</p>")
    return "".join(parts)


def _stock(rng: random.Random) -> dict[str, tuple[int, int]]:
    """Stock at the warehouse and perhaps the shops: some variants sold out, some nearly."""
    roll = rng.random()
    warehouse, shops = data.LOCATIONS[0][0], [row[0] for row in data.LOCATIONS[1:]]
    if roll < 0.07:
        levels = {warehouse: 0}
        shop_range = (0, 0)
    elif roll < 0.17:
        levels = {warehouse: rng.randint(1, 3)}
        shop_range = (0, 1)
    else:
        levels = {warehouse: rng.randint(8, 140)}
        shop_range = (0, 14)
    for shop in shops:
        if rng.random() < 0.6:  # not every shop carries every variant
            levels[shop] = rng.randint(*shop_range)
    stock = {}
    for code, on_hand in levels.items():
        reserved = rng.randint(1, min(3, on_hand - 1)) if on_hand > 3 and rng.random() < 0.1 else 0
        stock[code] = (on_hand, reserved)
    return stock


def demo_listings(count: int, *, seed: int) -> list[Listing]:
    """Titles and slugs of products 0..count-1. Product i depends on (seed, i), never on `count`.

    Titles walk a seeded shuffle of every (line, descriptor, type) combination, so they do not
    repeat until the combinations run out; then a second edition ("... II") begins.
    """
    combos = [
        (product_type, line, descriptor)
        for product_type in data.PRODUCT_TYPES
        for line in data.LINE_NAMES
        for descriptor in product_type.descriptors
    ]
    random.Random(f"titles:{seed}").shuffle(combos)
    listings = []
    seen_slugs: set[str] = set()
    for index in range(count):
        product_type, line, descriptor = combos[index % len(combos)]
        edition = index // len(combos)
        title = f"{line} {descriptor} {product_type.noun}" + (
            ROMAN[edition] if edition < len(ROMAN) else f" {edition + 1}"
        )
        slug = base = slugify(title)[:190]
        suffix = 2
        while slug in seen_slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        seen_slugs.add(slug)
        listings.append(Listing(index, product_type, title, slug))
    return listings


def product_spec(listing: Listing, *, seed: int) -> ProductSpec:
    """Everything else about one demo product, drawn from a generator seeded by (seed, index)."""
    rng = random.Random(f"product:{seed}:{listing.index}")
    product_type, index = listing.type, listing.index
    brand = rng.choice(data.BRANDS_BY_FAMILY[data.FAMILY_OF[product_type.category]])
    materials = [rng.choice(product_type.materials)]
    if len(product_type.materials) > 1 and rng.random() < 0.25:
        materials.append(rng.choice([m for m in product_type.materials if m != materials[0]]))

    if product_type.colour_option:
        wanted = min(len(product_type.colours), rng.choice([1, 2, 2, 3, 3, 4]))
        colours = sorted(rng.sample(product_type.colours, k=wanted), key=product_type.colours.index)
    else:
        colours = list(product_type.colours[:2])
    sizes: list[str | None] = [None]
    if product_type.sizes:
        scale = [slug for _, slug in data.SIZE_SCALES[product_type.sizes]]
        if len(scale) > 4:
            width = rng.randint(4, min(len(scale), 6))
            start = rng.randint(0, len(scale) - width)
            scale = scale[start:start + width]
        sizes = scale

    base_price = _shop_price(rng, *product_type.price)
    on_sale = rng.random() < 0.18
    sale_factor = Decimal(str(round(rng.uniform(1.15, 1.45), 2)))
    step = Decimal(data.SIZE_PRICE_STEP.get(product_type.sizes or "", 0))
    weight = rng.uniform(*product_type.weight)
    prefix = f"{product_type.initials}-{index + 1:05d}"
    variants = []
    variant_colours: list[str | None] = list(colours) if product_type.colour_option else [None]
    for size_number, size in enumerate(sizes):
        for colour in variant_colours:
            price = base_price + step * size_number
            sale_price = (price * sale_factor).quantize(Decimal("1")) - Decimal("0.05")
            variants.append(
                VariantSpec(
                    sku=prefix + (f"-{size.upper()}" if size else "") + (f"-{data.COLOURS[colour][2]}" if colour else ""),
                    barcode=_ean13(f"20{index + 1:07d}{len(variants):03d}"),
                    price=price,
                    compare_at_price=sale_price if on_sale else None,
                    weight=Decimal(f"{weight * (1 + 0.04 * size_number):.3f}"),
                    size=(product_type.sizes, size) if size else None,
                    colour=colour,
                    stock=_stock(rng),
                )
            )

    return ProductSpec(
        listing=listing,
        brand=brand,
        materials=materials,
        colours=colours,
        description=_description(
            product_type, listing.title, data.BRAND_NAMES[brand], materials[0], rng,
            korean=index % data.KOREAN_EVERY == 0,
        ),
        status=Product.Status.DRAFT if rng.random() < 0.02 else Product.Status.ACTIVE,
        is_featured=index % 23 == 3 or rng.random() < 0.02,
        # A long tail: most products sell a little, a few sell a lot.
        units_sold=min(5000, int(rng.paretovariate(1.2) * 6) - 6),
        age=timedelta(seconds=rng.uniform(0, 365 * 24 * 3600)),
        variants=variants,
    )


# --- Pictures -----------------------------------------------------------------------------------


@dataclass
class Picture:
    name: str
    width: int
    height: int
    renditions: dict[str, str]


def _picture_keys(spec: ProductSpec) -> list[tuple[str, str]]:
    return [(spec.listing.type.key, colour) for colour in spec.colours[:MAX_PICTURES_PER_PRODUCT]]


def ensure_pictures(keys: set[tuple[str, str]]) -> tuple[dict[tuple[str, str], Picture], int]:
    """Draw the (type, colour) pictures not stored yet and make every one's renditions.

    Returns the pictures and how many were drawn. Existing files and renditions are reused.
    """
    made: dict[tuple[str, str], Picture] = {}
    drawn = 0
    for type_key, colour in sorted(keys):
        name = f"{PICTURE_DIR}/{type_key}-{colour}.jpg"
        if not default_storage.exists(name):
            product_type = data.PRODUCT_TYPES_BY_KEY[type_key]
            content = pictures.draw_picture(
                shape=product_type.shape, swatch=data.COLOURS[colour][1], initials=product_type.initials
            )
            name = default_storage.save(name, ContentFile(content))
            drawn += 1
        made[(type_key, colour)] = Picture(
            name, pictures.SIZE, pictures.SIZE,
            renditions.render_renditions(source_name=name, method=PICTURE_WEBP_METHOD),
        )
    return made, drawn


# --- Writing ------------------------------------------------------------------------------------


# Values of these types need the backend's adaptation (time zone, JSON); both drivers take the
# rest, Decimal included, as they are.
_PREPARED_TYPES = {"DateTimeField", "DateField", "JSONField"}


def insert_rows(model, rows: list[dict], *, now: datetime, key: str | None = None) -> dict:
    """Write `rows` (field name -> value) into `model`'s table, bypassing the ORM.

    For the ~70,000 variants and ~200,000 stock and link rows of a big catalog, bulk_create's
    per-object machinery costs several times the database's own work: COPY on PostgreSQL,
    multi-row INSERTs elsewhere. Fields a row leaves out get their model default
    (timestamps get `now`), so a field added later does not break the seeder; the database's
    constraints and triggers still apply. With `key` (a unique field), returns key value -> new
    id, matched by value rather than by the order rows come back in.
    """
    if not rows:
        return {}
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = set(rows[0])
    defaults = {}
    for f in fields:
        if f.name in given or f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = f.get_db_prep_save(now, connection)
        else:
            default = f.get_default()  # "" for a blank text field without an explicit default
            if default is None and not f.null:
                raise ValueError(f"{model.__name__}.{f.name} has no default; the demo seeder must set it")
            defaults[f.attname] = f.get_db_prep_save(default, connection)
    columns = [(f, f.name if f.name in given else f.attname) for f in fields]

    def values(row: dict) -> tuple:
        return tuple(
            defaults[f.attname] if f.attname in defaults
            else f.get_db_prep_save(row[name], connection) if f.get_internal_type() in _PREPARED_TYPES
            else row[name]
            for f, name in columns
        )

    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f, _ in columns)
    ids = {}
    with connection.cursor() as wrapper:
        # The driver's own cursor: under DEBUG, Django's would format every statement with its
        # thousand parameters into the query log, which costs more than running it.
        cursor = wrapper.cursor
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(values(row))
            if key:
                column = quote(model._meta.get_field(key).column)
                cursor.execute(
                    f"SELECT {column}, {quote(model._meta.pk.column)} FROM {table} WHERE {column} = ANY(%s)",
                    [[row[key] for row in rows]],
                )
                ids.update(cursor.fetchall())
            return ids
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        returning = ""
        if key:
            returning = f" RETURNING {quote(model._meta.get_field(key).column)}, {quote(model._meta.pk.column)}"
        # SQLite's historical limit is 999 parameters a statement; PostgreSQL takes 65,535.
        per_statement = max(1, (connection.features.max_query_params or 10_000) // len(columns))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([placeholders] * len(chunk))}{returning}",
                [value for row in chunk for value in values(row)],
            )
            if key:
                ids.update(cursor.fetchall())
    return ids


def _create_products(specs: list[ProductSpec], ref: Reference, now: datetime) -> tuple[dict[str, int], int, int]:
    """Insert products with their variants, option values, attributes and stock. Returns slug -> id."""
    product_ids = insert_rows(
        Product,
        [
            {
                "title": spec.listing.title, "slug": spec.listing.slug,
                "category_id": ref.categories[spec.listing.type.category], "brand_id": ref.brands[spec.brand],
                "description": spec.description, "status": spec.status, "is_featured": spec.is_featured,
                "units_sold": spec.units_sold,
                # Spread over the past year so "new arrivals" and the "newest" sort look believable.
                "created_at": now - spec.age,
            }
            for spec in specs
        ],
        now=now, key="slug",
    )
    variant_ids = insert_rows(
        Variant,
        [
            {
                "product_id": product_ids[spec.listing.slug], "sku": variant.sku, "price": variant.price,
                "compare_at_price": variant.compare_at_price, "weight": variant.weight,
                "barcode": variant.barcode, "position": position,
            }
            for spec in specs
            for position, variant in enumerate(spec.variants)
        ],
        now=now, key="sku",
    )
    option_rows, stock_rows = [], []
    for spec in specs:
        for variant in spec.variants:
            variant_id = variant_ids[variant.sku]
            if variant.size:
                option_rows.append({"variant_id": variant_id, "optionvalue_id": ref.sizes[variant.size]})
            if variant.colour:
                option_rows.append({"variant_id": variant_id, "optionvalue_id": ref.colours[variant.colour]})
            for code, (on_hand, reserved) in variant.stock.items():
                stock_rows.append({
                    "variant_id": variant_id, "location_id": ref.locations[code],
                    "on_hand": on_hand, "reserved": reserved,
                })
    insert_rows(Variant.option_values.through, option_rows, now=now)
    insert_rows(
        Product.attribute_values.through,
        [
            {"product_id": product_ids[spec.listing.slug], "attributevalue_id": ref.materials[material]}
            for spec in specs
            for material in spec.materials
        ],
        now=now,
    )
    insert_rows(StockLevel, stock_rows, now=now)
    # Every unit on hand starts in the stock ledger (inventory), in the same transaction.
    insert_rows(StockMovement, [
        {"variant_id": row["variant_id"], "location_id": row["location_id"], "quantity": row["on_hand"],
         "reason": Reason.OPENING, "actor_id": None, "order_id": None}
        for row in stock_rows if row["on_hand"]
    ], now=now)
    return product_ids, len(variant_ids), len(stock_rows)


def _add_images(specs: list[ProductSpec], ids: dict[str, int], ref: Reference, pool: dict) -> int:
    """Give each of these products that has no image its pictures, each tied to its colour.

    A product that comes in colours gets one picture per colour, shown for that colour in every
    size; one whose colour is no option gets pictures of the whole product.
    """
    images = []
    for spec in specs:
        product_id = ids[spec.listing.slug]
        for position, key in enumerate(_picture_keys(spec)):
            picture, colour = pool[key], key[1]
            images.append(
                ProductImage(
                    product_id=product_id,
                    option_value_id=ref.colours[colour] if spec.listing.type.colour_option else None,
                    image=picture.name, width=picture.width, height=picture.height,
                    alt_text=f"{spec.listing.title} in {data.COLOURS[colour][0].lower()}",
                    position=position, renditions=picture.renditions,
                )
            )
    ProductImage.objects.bulk_create(images)
    return len(images)


def seed_demo_catalog(
    *, products: int, images: bool = True, seed: int = 1, batch_size: int = 500,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Make sure demo products 0..products-1 exist; create the missing ones.

    One transaction per batch of `batch_size` products; a product found by its slug is left as
    it is (not updated). With `images`, draws the shared pictures (and their renditions) that are
    missing and gives every demo product without images its own. Not meant to run concurrently
    with itself: two runs could both find a product missing, and the second would then fail on
    the unique slug, leaving what the first created.
    Writes bypass model signals (bulk_create, plain INSERTs), so the catalog version is bumped
    once at the end. When anything was written, the planner statistics of the tables filled are
    refreshed (`shop.db.analyze`): straight after a bulk load PostgreSQL would plan for empty tables.
    """
    started = time.perf_counter()
    report = SeedReport(requested=products)
    ref = ensure_reference_data()
    listings = demo_listings(products, seed=seed)
    now = timezone.now()
    pool: dict[tuple[str, str], Picture] = {}
    for start in range(0, len(listings), batch_size):
        batch = listings[start:start + batch_size]
        ids = dict(Product.objects.filter(slug__in=[listing.slug for listing in batch]).values_list("slug", "pk"))
        missing = [product_spec(listing, seed=seed) for listing in batch if listing.slug not in ids]
        unpictured: list[ProductSpec] = []
        if images:
            with_images = set(
                ProductImage.objects.filter(product_id__in=ids.values()).values_list("product_id", flat=True)
            )
            unpictured = missing + [
                product_spec(listing, seed=seed) for listing in batch
                if listing.slug in ids and ids[listing.slug] not in with_images
            ]
            # Drawn before the transaction: on SQLite it holds the write lock while it lasts.
            wanted = {key for spec in unpictured for key in _picture_keys(spec)} - pool.keys()
            if wanted:
                drawn_now, drawn = ensure_pictures(wanted)
                pool.update(drawn_now)
                report.pictures_drawn += drawn
        if not missing and not unpictured:
            continue
        with transaction.atomic():
            if missing:
                created, variant_count, stock_count = _create_products(missing, ref, now)
                ids.update(created)
                report.created += len(missing)
                report.variants += variant_count
                report.stock_levels += stock_count
            if unpictured:
                report.images += _add_images(unpictured, ids, ref, pool)
        if progress:
            progress(f"{start + len(batch)}/{len(listings)}")
    if report.created or report.images:
        analyze_catalog_tables()
    invalidate_categories()
    bump_catalog_version()
    report.seconds = time.perf_counter() - started
    return report


def analyze_catalog_tables() -> list[str]:
    """Refresh the statistics of every table a catalog bulk load fills (see `shop.db.analyze`)."""
    from ..search import index_tables

    return analyze(
        Product, Variant, StockLevel, ProductImage, Variant.option_values.through,
        Product.attribute_values.through, *index_tables(),
    )
