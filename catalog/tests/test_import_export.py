"""CSV and Excel import/export of products, variants and stock (catalog.services.import_catalog_file)."""
import csv
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.db import transaction

from catalog import importing
from catalog.models import AttributeValue, OptionValue, Product, StockLevel, Variant
from catalog.importing import FileFormat, ImportKind, export_catalog_file
from catalog.services import import_catalog_file
from catalog.stock import adjust
from inventory.ledger import Cause
from inventory.models import Reason

from .factories import (
    AttributeFactory,
    AttributeValueFactory,
    BrandFactory,
    CategoryFactory,
    LocationFactory,
    OptionFactory,
    OptionValueFactory,
    ProductFactory,
    StockLevelFactory,
    VariantFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]

DATA = Path(__file__).parent / "data"


@pytest.fixture
def catalog():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    jackets = CategoryFactory(name="Jackets", slug="jackets", parent=clothing)
    BrandFactory(name="Northwind", slug="northwind")
    size = OptionFactory(name="Size", slug="size")
    OptionValueFactory(option=size, value="S", slug="s")
    OptionValueFactory(option=size, value="M", slug="m")
    colour = OptionFactory(name="Colour", slug="colour")
    OptionValueFactory(option=colour, value="Black", slug="black")
    material = AttributeFactory(name="Material", slug="material")
    AttributeValueFactory(attribute=material, value="Nylon", slug="nylon")
    AttributeFactory(name="Fit", slug="fit")
    LocationFactory(code="warehouse", name="Warehouse")
    LocationFactory(code="downtown", name="Downtown shop")
    return {"clothing": clothing, "jackets": jackets}


def run_import(kind, name, file_format=FileFormat.CSV):
    with open(DATA / name, "rb") as handle:
        return import_catalog_file(kind=kind, file=handle, file_format=file_format)


def snapshot():
    """Everything an import could touch, to prove a failed one changed nothing."""
    return (
        list(Product.objects.order_by("pk").values()),
        list(Variant.objects.order_by("pk").values()),
        list(StockLevel.objects.order_by("pk").values()),
        list(OptionValue.objects.order_by("pk").values()),
        list(AttributeValue.objects.order_by("pk").values()),
        list(Variant.option_values.through.objects.order_by("pk").values()),
        list(Product.attribute_values.through.objects.order_by("pk").values()),
    )


def errors_by_line(report):
    return {error.line: " ".join(error.messages) for error in report.errors}


# --- Products -----------------------------------------------------------------------------------


def test_good_product_file_creates_products(catalog):
    report = run_import(ImportKind.PRODUCTS, "products.csv")

    assert report.ok, report.errors
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    jacket = Product.objects.get(slug="rain-jacket")
    assert jacket.title == "Rain Jacket"
    assert jacket.category == catalog["jackets"]
    assert jacket.brand.name == "Northwind"
    assert jacket.status == Product.Status.ACTIVE
    assert jacket.is_featured is True
    assert "Packs into its own pocket" in jacket.description
    assert "<script" not in jacket.description  # sanitised like any other save
    assert jacket.seo_title == "Rain Jacket | Northwind"
    assert [str(value) for value in jacket.attribute_values.all()] == ["Material: Nylon"]
    scarf = Product.objects.get(slug="wool-scarf")
    assert scarf.status == Product.Status.DRAFT and scarf.is_featured is False
    # Values named in the file are created as needed; the attribute itself must exist.
    assert sorted(str(value) for value in scarf.attribute_values.all()) == ["Fit: Relaxed", "Material: Wool"]
    cap = Product.objects.get(slug="trail-cap")
    assert cap.brand is None and cap.category == catalog["clothing"]


def test_reimporting_the_same_file_updates_rather_than_duplicates(catalog):
    run_import(ImportKind.PRODUCTS, "products.csv")
    before = snapshot()

    report = run_import(ImportKind.PRODUCTS, "products.csv")

    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert Product.objects.count() == 3
    assert snapshot() == before


def test_changed_rows_update_existing_products(catalog):
    ProductFactory(slug="rain-jacket", title="Old title", category=catalog["clothing"], status="draft")
    content = (DATA / "products.csv").read_bytes().replace(b"Wool Scarf", b"Winter Scarf")

    report = import_catalog_file(kind=ImportKind.PRODUCTS, file=content, file_format=FileFormat.CSV)

    assert report.ok, report.errors
    assert (report.created, report.updated) == (2, 1)
    jacket = Product.objects.get(slug="rain-jacket")
    assert (jacket.title, jacket.category, jacket.status) == ("Rain Jacket", catalog["jackets"], "active")
    assert Product.objects.get(slug="wool-scarf").title == "Winter Scarf"


def test_one_bad_row_among_good_ones_changes_nothing(catalog):
    # given three good rows (one of them would create an attribute value) and one bad one
    before = snapshot()

    report = run_import(ImportKind.PRODUCTS, "products_one_bad.csv")

    # then nothing at all was written, not even the good rows or the new attribute value
    assert not report.ok
    assert errors_by_line(report) == {4: "category: There is no category at the path “clothing/hats”."}
    assert snapshot() == before
    assert not Product.objects.exists()
    assert not AttributeValue.objects.filter(slug="merino-wool").exists()
    assert (report.created, report.updated) == (0, 0)


def test_every_bad_row_is_reported_with_its_line_number(catalog):
    report = run_import(ImportKind.PRODUCTS, "products_many_bad.csv")

    errors = errors_by_line(report)
    # Line 2 is good and spans two lines (a quoted description), so the next row starts on line 4.
    assert sorted(errors) == [4, 5, 6, 7]
    assert "title: This field cannot be blank." in errors[4]
    assert "brand: There is no brand called “Acme”." in errors[4]
    assert "status: Value 'published' is not a valid choice." in errors[4]
    assert "featured: “maybe” is not yes or no" in errors[4]
    assert errors[5] == "attributes: There is no attribute called “Colour”."
    assert "rain-jacket is also on line 2." in errors[6]
    assert "slug: This field cannot be blank." in errors[7]
    assert "attributes: “Material” should look like “Size=M”." in errors[7]
    assert not Product.objects.exists()
    assert str(report.errors[0]).startswith("Line 4: ")


def test_import_really_rolls_back_when_import_export_would_commit_good_rows(catalog):
    # django-import-export 4 commits the valid rows of a file with invalid ones unless
    # rollback_on_validation_errors is set: prove our service does not rely on its default.
    resource = importing.ProductResource()
    parsed = importing.read_file(content=(DATA / "products_one_bad.csv").read_bytes(), file_format="csv")
    result = resource.import_data(parsed.dataset, dry_run=False, use_transactions=True)
    assert result.has_validation_errors()
    assert Product.objects.count() == 3  # the library on its own keeps the three good rows

    Product.objects.all().delete()
    report = run_import(ImportKind.PRODUCTS, "products_one_bad.csv")

    assert not report.ok
    assert Product.objects.count() == 0


def test_unreadable_files_are_refused_with_a_reason(catalog):
    cases = {
        b"slug,title,colour\nx,X,red\n": "Unknown columns: colour.",
        b"title\nX\n": "Missing columns: slug.",
        b"": "The file is empty",
        "slug,title\nsm\xf6rg\xe5s,Sm\xf6rg\xe5s\n".encode("latin-1"): "The file is not UTF-8 text.",
    }
    for content, expected in cases.items():
        report = import_catalog_file(kind=ImportKind.PRODUCTS, file=content, file_format=FileFormat.CSV)
        assert not report.ok
        assert expected in str(report.errors[0])

    report = import_catalog_file(kind=ImportKind.PRODUCTS, file=b"not a workbook", file_format=FileFormat.XLSX)
    assert str(report.errors[0]) == "The file is not an Excel workbook (.xlsx)."


def test_semicolon_separated_csv_from_a_european_spreadsheet_is_read(catalog):
    content = "slug;title;category\nrain-jacket;Rain Jacket;clothing/jackets\n".encode("utf-8-sig")

    report = import_catalog_file(kind=ImportKind.PRODUCTS, file=content, file_format=FileFormat.CSV)

    assert report.ok, report.errors
    assert Product.objects.get().category == catalog["jackets"]


# --- Variants -----------------------------------------------------------------------------------


def test_variants_import_with_options_creating_missing_values(catalog):
    run_import(ImportKind.PRODUCTS, "products.csv")

    report = run_import(ImportKind.VARIANTS, "variants.csv")

    assert report.ok, report.errors
    assert report.created == 3
    medium = Variant.objects.get(sku="RJ-M-NAVY")
    assert medium.product.slug == "rain-jacket"
    assert (medium.price, medium.compare_at_price, medium.weight) == (
        Decimal("120.00"), Decimal("150.00"), Decimal("0.800")
    )
    assert medium.barcode == "4006381333931"
    assert sorted(str(value) for value in medium.option_values.all()) == ["Colour: Navy", "Size: M"]
    large = Variant.objects.get(sku="RJ-L-NAVY")
    # Option names match in any case; "navy" became one new value shared by both variants.
    assert sorted(str(value) for value in large.option_values.all()) == ["Colour: Navy", "Size: l"]
    assert OptionValue.objects.filter(option__slug="colour", slug="navy").count() == 1
    assert OptionValue.objects.filter(option__slug="size").count() == 3
    assert list(Variant.objects.get(sku="WS-ONE").option_values.all()) == []


def test_variants_reimport_updates_prices_and_options_without_duplicates(catalog):
    run_import(ImportKind.PRODUCTS, "products.csv")
    run_import(ImportKind.VARIANTS, "variants.csv")
    same = run_import(ImportKind.VARIANTS, "variants.csv")
    assert (same.created, same.updated, same.unchanged) == (0, 0, 3)

    content = (DATA / "variants.csv").read_bytes().replace(b"Size=M; Colour=Navy,120.00", b"Size=S; Colour=Navy,99.99")
    report = import_catalog_file(kind=ImportKind.VARIANTS, file=content, file_format=FileFormat.CSV)

    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert Variant.objects.count() == 3
    variant = Variant.objects.get(sku="RJ-M-NAVY")
    assert variant.price == Decimal("99.99")
    assert sorted(str(value) for value in variant.option_values.all()) == ["Colour: Navy", "Size: S"]


def test_bad_variant_rows_are_all_reported_and_nothing_is_created(catalog):
    run_import(ImportKind.PRODUCTS, "products.csv")
    before = snapshot()

    report = run_import(ImportKind.VARIANTS, "variants_bad.csv")

    errors = errors_by_line(report)
    assert sorted(errors) == [3, 4, 5]
    assert errors[3] == "options: There is no option called “Colur”."
    assert "product: There is no product with the slug “rain-jackets”." in errors[4]
    assert "price: “abc” is not a number." in errors[4]
    assert "options: “Size” is given more than once." in errors[5]
    assert "price: Ensure this value is greater than or equal to 0." in errors[5]
    assert "active: “sometimes” is not yes or no" in errors[5]
    assert snapshot() == before  # not even line 2's variant or its new "Navy" colour


# --- Stock --------------------------------------------------------------------------------------


@pytest.fixture
def variants(catalog):
    run_import(ImportKind.PRODUCTS, "products.csv")
    run_import(ImportKind.VARIANTS, "variants.csv")


def test_stock_import_sets_quantities_and_reimport_updates(variants):
    report = run_import(ImportKind.STOCK, "stock.csv")
    assert report.ok, report.errors
    assert report.created == 3
    levels = {(level.variant.sku, level.location.code): level.on_hand for level in StockLevel.objects.all()}
    assert levels == {("RJ-M-NAVY", "warehouse"): 12, ("RJ-M-NAVY", "downtown"): 2, ("RJ-L-NAVY", "warehouse"): 0}

    content = (DATA / "stock.csv").read_bytes().replace(b"warehouse,12", b"warehouse,7")
    report = import_catalog_file(kind=ImportKind.STOCK, file=content, file_format=FileFormat.CSV)

    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert StockLevel.objects.count() == 3
    assert StockLevel.objects.get(variant__sku="RJ-M-NAVY", location__code="warehouse").on_hand == 7


def test_stock_import_never_drops_below_reserved_and_reports_bad_rows(variants):
    level = StockLevelFactory(
        variant=Variant.objects.get(sku="RJ-M-NAVY"), location=LocationFactory(code="warehouse"), on_hand=10, reserved=3
    )
    before = snapshot()

    report = run_import(ImportKind.STOCK, "stock_bad.csv")

    errors = errors_by_line(report)
    assert sorted(errors) == [2, 3, 4, 5, 6]
    assert errors[2] == "on_hand: Cannot be 1: 3 units are reserved for orders."
    assert errors[3] == "There is no location with the code “uptown”."
    assert errors[4] == "There is no variant with the SKU “NOPE-1”."
    assert errors[5] == "on_hand: Ensure this value is greater than or equal to 0."
    assert errors[6] == "on_hand: “many” is not a whole number."
    assert snapshot() == before
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (10, 3)


def test_reserved_column_is_exported_but_never_imported(variants):
    level = StockLevelFactory(
        variant=Variant.objects.get(sku="WS-ONE"), location=LocationFactory(code="warehouse"), on_hand=10, reserved=3
    )
    content = b"sku,location,on_hand,reserved\nWS-ONE,warehouse,8,0\n"

    report = import_catalog_file(kind=ImportKind.STOCK, file=content, file_format=FileFormat.CSV)

    assert report.ok, report.errors
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (8, 3)


# --- Export and Excel round trip ----------------------------------------------------------------


def test_csv_export_has_the_columns_the_import_reads(variants):
    run_import(ImportKind.STOCK, "stock.csv")

    exported = export_catalog_file(kind=ImportKind.VARIANTS, file_format=FileFormat.CSV)

    assert exported.filename == "variants.csv"
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    by_sku = {row["sku"]: row for row in rows}
    assert by_sku["RJ-M-NAVY"] == {
        "sku": "RJ-M-NAVY", "product": "rain-jacket", "options": "Size=M; Colour=Navy", "price": "120.00",
        "compare_at_price": "150.00", "weight": "0.800", "barcode": "4006381333931", "position": "0",
        "active": "true",
    }
    products = export_catalog_file(kind=ImportKind.PRODUCTS, file_format=FileFormat.CSV).content.decode("utf-8-sig")
    assert "rain-jacket,Rain Jacket,clothing/jackets,Northwind,active,true" in products
    stock = export_catalog_file(kind=ImportKind.STOCK, file_format=FileFormat.CSV).content.decode("utf-8-sig")
    assert stock.splitlines()[0] == "sku,location,on_hand,reserved"
    assert "RJ-M-NAVY,downtown,2,0" in stock


def test_export_queries_do_not_grow_with_rows(catalog, django_assert_max_num_queries):
    size = OptionValue.objects.get(option__slug="size", slug="m")
    for index in range(30):
        VariantFactory(product__category=catalog["jackets"], option_values=[size])

    with django_assert_max_num_queries(8):
        export_catalog_file(kind=ImportKind.VARIANTS, file_format=FileFormat.CSV)
    with django_assert_max_num_queries(8):
        export_catalog_file(kind=ImportKind.PRODUCTS, file_format=FileFormat.CSV)


@pytest.mark.parametrize("kind", [ImportKind.PRODUCTS, ImportKind.VARIANTS, ImportKind.STOCK])
def test_xlsx_round_trip_restores_what_was_exported(variants, kind):
    run_import(ImportKind.STOCK, "stock.csv")
    exported = export_catalog_file(kind=kind, file_format=FileFormat.XLSX)
    assert exported.content[:2] == b"PK"  # a zip container: a real workbook
    before = snapshot()

    # when the catalog drifts and the workbook is imported back
    Product.objects.filter(slug="rain-jacket").update(title="Changed")
    Variant.objects.filter(sku="RJ-M-NAVY").update(price=Decimal("1.00"))
    level = StockLevel.objects.get(variant__sku="RJ-M-NAVY", location__code="warehouse")
    with transaction.atomic():  # stock found meanwhile, through the stock service as every change is
        adjust(location_id=level.location_id, deltas={level.variant_id: 99 - level.on_hand},
                     cause=Cause(reason=Reason.FOUND))
    report = import_catalog_file(kind=kind, file=exported.content, file_format=FileFormat.XLSX)

    assert report.ok, report.errors
    assert report.created == 0 and report.updated == 1
    restored = snapshot()
    drifted = {
        ImportKind.PRODUCTS: 0, ImportKind.VARIANTS: 1, ImportKind.STOCK: 2,
    }[kind]
    # the kind imported is back as exported (timestamps aside); the other kinds keep their drift
    strip = lambda rows: [{k: v for k, v in row.items() if k != "updated_at"} for row in rows]  # noqa: E731
    assert strip(restored[drifted]) == strip(before[drifted])


def test_xlsx_with_numbers_typed_as_numbers_is_read(variants):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["sku", "location", "on_hand"])
    sheet.append(["RJ-M-NAVY", "warehouse", 5])
    sheet.append([None, None, None])  # a blank row is skipped, yet counts for line numbers
    sheet.append(["RJ-L-NAVY", "warehouse", 2.5])
    buffer = io.BytesIO()
    workbook.save(buffer)

    report = import_catalog_file(kind=ImportKind.STOCK, file=buffer.getvalue(), file_format=FileFormat.XLSX)

    assert errors_by_line(report) == {4: "on_hand: “2.5” is not a whole number."}
    assert not StockLevel.objects.exists()


# --- Planner statistics -------------------------------------------------------------------------


def _analyzed(queries) -> str:
    return " ".join(q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("ANALYZE"))


def test_an_import_that_wrote_rows_refreshes_the_statistics_of_the_tables_it_filled(catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        report = run_import(ImportKind.PRODUCTS, "products.csv")

    assert report.ok, report.errors
    analyzed = _analyzed(queries)
    assert '"catalog_product"' in analyzed and '"catalog_product_attribute_values"' in analyzed, analyzed


def test_a_refused_import_analyzes_nothing(catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        report = run_import(ImportKind.PRODUCTS, "products_one_bad.csv")

    assert not report.ok
    assert _analyzed(queries) == ""
