"""`manage.py seed_demo`: a believable catalog, created once, completed by larger runs."""
from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Count, F, Q

from catalog.cache import catalog_version
from catalog.models import (
    Brand,
    Category,
    Location,
    OptionValue,
    Product,
    ProductImage,
    StockLevel,
    Variant,
)

pytestmark = pytest.mark.django_db


def _seed(products: int, *, images: bool = False) -> str:
    out = StringIO()
    # Demo customers have their own test (customers/tests/test_demo.py).
    args = ["seed_demo", "--products", str(products), "--customers", "0"]
    if not images:
        args.append("--no-images")
    call_command(*args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Category, Brand, OptionValue, Location, Product, Variant, StockLevel, ProductImage)
    } | {
        "variant options": Variant.option_values.through.objects.count(),
        "product attributes": Product.attribute_values.through.objects.count(),
    }


def test_running_twice_creates_nothing_new_and_a_larger_run_adds_the_rest():
    _seed(12)
    first = _counts()
    slugs = set(Product.objects.values_list("slug", flat=True))
    skus = set(Variant.objects.values_list("sku", flat=True))

    _seed(12)
    assert _counts() == first

    _seed(20)
    grown = _counts()
    assert grown["Product"] == 20
    assert grown["Variant"] > first["Variant"]
    assert grown["Category"] == first["Category"]
    assert slugs <= set(Product.objects.values_list("slug", flat=True))
    assert skus <= set(Variant.objects.values_list("sku", flat=True))


def test_catalog_has_three_levels_of_categories_and_about_fifteen_brands():
    _seed(10)

    roots = Category.objects.filter(parent=None)
    leaves = Category.objects.filter(parent__parent__isnull=False, parent__parent__parent=None)
    assert roots.count() == 3
    assert leaves.exists()
    assert 20 <= Category.objects.count() <= 40
    assert Brand.objects.count() == 15
    assert not Product.objects.exclude(category__in=leaves).exists()


def test_stock_is_kept_in_a_warehouse_and_two_pickup_shops():
    _seed(30)

    warehouse = Location.objects.get(kind=Location.Kind.WAREHOUSE)
    shops = Location.objects.filter(kind=Location.Kind.SHOP)
    assert not warehouse.pickup_allowed
    assert shops.count() == 2
    assert all(shop.pickup_allowed and shop.address_line1 and shop.city for shop in shops)
    assert set(StockLevel.objects.values_list("location_id", flat=True).distinct()) == {
        warehouse.pk, *shops.values_list("pk", flat=True)
    }
    # Some variants are sold out everywhere and some nearly, as in a real shop.
    stocked = Variant.objects.annotate(places=Count("stock_levels", filter=Q(stock_levels__on_hand__gt=0)))
    assert stocked.filter(places=0).exists()
    assert StockLevel.objects.filter(on_hand__gt=0, on_hand__lte=3).exists()


def test_products_come_in_sizes_and_colours_or_as_one_default_variant():
    _seed(40)

    with_both = Product.objects.filter(variants__option_values__option__slug="size").filter(
        variants__option_values__option__slug="colour"
    ).distinct()
    assert with_both.exists()
    product = with_both.first()
    sizes = OptionValue.objects.filter(option__slug="size", variants__product=product).distinct().count()
    colours = OptionValue.objects.filter(option__slug="colour", variants__product=product).distinct().count()
    assert product.variants.count() == sizes * colours
    assert not OptionValue.objects.filter(option__slug="colour", swatch="").exists()

    plain = Product.objects.annotate(n=Count("variants")).filter(n=1, variants__option_values__isnull=True)
    assert plain.exists()


def test_prices_barcodes_and_dates_look_real():
    _seed(40)

    variant = Variant.objects.first()
    assert isinstance(variant.price, Decimal) and variant.price > 0
    assert Variant.objects.filter(compare_at_price__gt=0).exists()
    assert not Variant.objects.filter(compare_at_price__lte=F("price")).exists()
    for barcode in Variant.objects.values_list("barcode", flat=True)[:50]:
        digits = list(map(int, barcode))
        assert len(digits) == 13
        assert (sum(digits[0:12:2]) + 3 * sum(digits[1:12:2]) + digits[12]) % 10 == 0
    assert Product.objects.filter(is_featured=True).exists()
    assert Product.objects.values("created_at__date").distinct().count() > 20
    assert "<script" not in "".join(Product.objects.values_list("description", flat=True))


def test_images_are_generated_with_renditions_and_not_duplicated():
    _seed(3, images=True)

    images = list(ProductImage.objects.all())
    assert images
    products = set(Product.objects.values_list("pk", flat=True))
    assert set(ProductImage.objects.values_list("product_id", flat=True)) == products
    for image in images:
        assert default_storage.exists(image.image.name)
        assert image.renditions and all(default_storage.exists(path) for path in image.renditions.values())
        assert image.alt_text
    # A colour's picture belongs to that colour, so picking the colour in any size shows it.
    tied = [image for image in images if image.option_value_id]
    assert tied
    for image in tied:
        assert image.option_value.option.changes_look
        assert image.image.name.endswith(f"-{image.option_value.slug}.jpg")
        assert image.product.variants.filter(option_values=image.option_value).exists()
    # Pictures are shared, not drawn per product.
    assert ProductImage.objects.values("image").distinct().count() <= len(images)

    _seed(3, images=True)
    assert ProductImage.objects.count() == len(images)


def test_products_seeded_without_images_get_them_on_a_later_run_with_images():
    _seed(2)
    assert not ProductImage.objects.exists()

    _seed(2, images=True)

    assert Product.objects.count() == 2
    assert ProductImage.objects.values("product").distinct().count() == 2


def test_seeding_invalidates_cached_pages():
    before = catalog_version()

    output = _seed(2)

    assert catalog_version() != before
    assert "2 products created" in output


def test_seeding_refreshes_the_planner_statistics_of_the_tables_it_filled():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _seed(3)

    analyzed = " ".join(q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("ANALYZE"))
    for table in ("catalog_product", "catalog_variant", "catalog_stocklevel", "catalog_variant_option_values"):
        assert f'"{table}"' in analyzed, analyzed

    with CaptureQueriesContext(connection) as again:
        _seed(3)  # nothing new: nothing to analyze
    assert not [q for q in again.captured_queries if q["sql"].upper().startswith("ANALYZE")]


@pytest.mark.postgres
def test_after_seeding_postgresql_has_statistics_for_the_catalog_tables():
    from django.db import connection

    def last_analyze() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                [["catalog_product", "catalog_variant", "catalog_stocklevel", "catalog_product_search"]],
            )
            return dict(cursor.fetchall())

    before = last_analyze()

    _seed(3)

    after = last_analyze()
    assert set(after) == {"catalog_product", "catalog_variant", "catalog_stocklevel", "catalog_product_search"}
    for table, analyzed_at in after.items():
        assert analyzed_at is not None and analyzed_at != before.get(table), table
