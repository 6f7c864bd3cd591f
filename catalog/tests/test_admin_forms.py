"""The catalog admin driven as staff drive it, on the demo catalog with its stored pictures.

Each test opens a real change page with django-webtest (`admin_app`, root conftest), which parses
the form as a browser does, changes what a person would, and submits what a browser would submit
(multipart, CSRF token, every rendered field). Files live in the test's MEDIA_ROOT on the real
FileSystemStorage.
"""
import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from webtest import Upload

from catalog import stock
from catalog.models import (
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
from conftest import add_inline_form, image_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


def demo_product(demo_catalog, *, images: int = 2) -> Product:
    """A demo product with at least `images` pictures, variants and stock at several locations."""
    demo_catalog(products=8)
    return (
        Product.objects.annotate(
            image_count=Count("images", distinct=True), variant_count=Count("variants", distinct=True)
        )
        .filter(image_count__gte=images, variant_count__gte=2)
        .order_by("pk")
        .first()
    )


def snapshot(product: Product) -> dict:
    """Everything the product page can change, to compare before and after a save."""
    product.refresh_from_db()
    return {
        "product": (
            product.title, product.slug, product.category_id, product.brand_id, product.status,
            product.description, product.is_featured, sorted(product.attribute_values.values_list("pk", flat=True)),
        ),
        "images": list(product.images.order_by("pk").values_list(
            "pk", "image", "width", "height", "alt_text", "position", "option_value_id", "renditions")),
        "variants": [
            (v.pk, v.sku, v.price, v.compare_at_price, v.weight, v.barcode, v.position, v.is_active,
             sorted(o.pk for o in v.option_values.all()))
            for v in product.variants.order_by("pk").prefetch_related("option_values")
        ],
        "stock": list(StockLevel.objects.filter(variant__product=product).order_by("pk").values_list(
            "pk", "variant_id", "location_id", "on_hand", "reserved")),
    }


@pytest.fixture
def storage_reads(monkeypatch):
    """The names every FileSystemStorage opened while the test ran."""
    opened: list[str] = []
    original = FileSystemStorage._open

    def recording_open(self, name, mode="rb"):
        opened.append(name)
        return original(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "_open", recording_open)
    return opened


def row_of(form, prefix: str, pk: int) -> int:
    """The index of the inline row showing the object `pk`."""
    return next(i for i in range(int(form[f"{prefix}-TOTAL_FORMS"].value)) if form[f"{prefix}-{i}-id"].value == str(pk))


def product_form(admin_app, product):
    page = admin_app.get(reverse("admin:catalog_product_change", args=[product.pk]))
    return page.forms["product_form"]


# --- The product page ---------------------------------------------------------------------------


def test_saving_a_demo_product_unchanged_changes_nothing_and_reads_no_stored_file(
    demo_catalog, admin_app, storage_reads
):
    product = demo_product(demo_catalog)
    before = snapshot(product)
    form = product_form(admin_app, product)
    storage_reads.clear()

    response = form.submit("_save")

    assert response.status_code == 302
    assert response.location == reverse("admin:catalog_product_changelist")
    assert snapshot(product) == before
    # The stored pictures are neither validated nor re-read for their size on a save that kept them.
    assert storage_reads == []


def test_changing_one_field_saves_it_and_keeps_the_images(demo_catalog, admin_app):
    product = demo_product(demo_catalog)
    before = snapshot(product)
    form = product_form(admin_app, product)
    form["title"] = "Renamed by staff"

    response = form.submit("_save")

    assert response.status_code == 302
    after = snapshot(product)
    assert after["product"][0] == "Renamed by staff"
    assert {key: after[key] for key in ("images", "variants", "stock")} == {
        key: before[key] for key in ("images", "variants", "stock")
    }


def test_adding_an_image_to_a_product_that_has_some(demo_catalog, admin_app, django_capture_on_commit_callbacks):
    product = demo_product(demo_catalog)
    before = snapshot(product)["images"]
    form = product_form(admin_app, product)
    row = add_inline_form(form, "images")
    form[f"images-{row}-image"] = Upload("Back view.PNG", image_bytes("PNG", size=(900, 600)), "image/png")
    form[f"images-{row}-alt_text"] = "Back view"
    form[f"images-{row}-position"] = "5"

    with django_capture_on_commit_callbacks(execute=True):
        response = form.submit("_save")

    assert response.status_code == 302
    added = product.images.exclude(pk__in=[image[0] for image in before]).get()
    assert (added.alt_text, added.position, added.width, added.height) == ("Back view", 5, 900, 600)
    assert added.image.name.startswith(f"products/{product.pk}/") and added.image.name.endswith(".png")
    assert default_storage.exists(added.image.name)
    assert list(added.renditions) == ["320", "640", "900"]  # built by the task enqueued after commit
    assert snapshot(product)["images"][: len(before)] == before


def test_removing_an_image(demo_catalog, admin_app):
    product = demo_product(demo_catalog)
    kept, removed = list(product.images.order_by("position", "pk"))[:2]
    form = product_form(admin_app, product)
    index = row_of(form, "images", removed.pk)
    form[f"images-{index}-DELETE"].checked = True

    response = form.submit("_save")

    assert response.status_code == 302
    assert not ProductImage.objects.filter(pk=removed.pk).exists()
    assert ProductImage.objects.filter(pk=kept.pk).exists()
    # Files are never deleted with a row: the demo pictures are shared, and so may uploads be.
    assert default_storage.exists(removed.image.name)


def test_changing_a_variant_on_the_product_page(demo_catalog, admin_app):
    product = demo_product(demo_catalog)
    variant = product.variants.order_by("position", "pk").first()
    form = product_form(admin_app, product)
    index = row_of(form, "variants", variant.pk)
    form[f"variants-{index}-price"] = "77.50"
    form[f"variants-{index}-is_active"].checked = False

    response = form.submit("_save")

    assert response.status_code == 302
    variant.refresh_from_db()
    assert (str(variant.price), variant.is_active) == ("77.50", False)


def test_a_duplicate_sku_is_refused_on_the_product_page_and_nothing_changes(demo_catalog, admin_app):
    product = demo_product(demo_catalog)
    before = snapshot(product)
    first, second = product.variants.order_by("position", "pk")[:2]
    form = product_form(admin_app, product)
    form["title"] = "Should not be saved"
    form[f"variants-{row_of(form, 'variants', second.pk)}-sku"] = first.sku

    response = form.submit("_save")

    assert response.status_code == 200
    assert "Variant with this SKU already exists." in response.text
    assert snapshot(product) == before


# --- Every other catalog change page with files or inlines --------------------------------------


def _first(model):
    return model.objects.order_by("pk").first()


@pytest.mark.parametrize(("model", "pick"), [
    (Category, lambda: Category.objects.filter(parent__isnull=False).order_by("pk").first()),
    (Brand, lambda: _first(Brand)),
    (Option, lambda: Option.objects.get(slug="colour")),  # values inline, swatches
    (OptionValue, lambda: OptionValue.objects.exclude(swatch="").order_by("pk").first()),
    (Attribute, lambda: _first(Attribute)),  # values inline
    (AttributeValue, lambda: _first(AttributeValue)),
    (Location, lambda: Location.objects.get(code="warehouse")),
    (Variant, lambda: Variant.objects.filter(stock_levels__reserved__gt=0).order_by("pk").first()),  # stock inline
    (StockLevel, lambda: StockLevel.objects.filter(reserved__gt=0).order_by("pk").first()),
])
def test_every_catalog_change_page_saves_unchanged(demo_catalog, admin_app, model, pick):
    demo_catalog(products=8)
    obj = pick()
    meta = model._meta
    before = model.objects.filter(pk=obj.pk).values().get()
    stock_before = list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved"))
    page = admin_app.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))

    response = page.forms[f"{meta.model_name}_form"].submit("_save")

    assert response.status_code == 302, response.text[:2000]
    after = model.objects.filter(pk=obj.pk).values().get()
    after.pop("updated_at", None), before.pop("updated_at", None)
    assert after == before
    assert list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved")) == stock_before


# --- Stock figures that changed while a page was open -------------------------------------------


@pytest.fixture
def shipped_meanwhile(demo_catalog):
    """A demo stock row with reserved units, and a way to ship one of them 'while a page is open'."""
    demo_catalog(products=8)
    level = StockLevel.objects.filter(reserved__gt=0).select_related("variant", "location").order_by("pk").first()

    def ship_one() -> int:
        with transaction.atomic():  # through the stock service, as a real shipment (the ledger follows)
            stock.fulfil(allocations=[stock.Allocation(stock_level_id=level.pk, variant_id=level.variant_id,
                                                       location_id=level.location_id, quantity=1)])
        return level.on_hand - 1

    return level, ship_one


def test_saving_the_variant_page_does_not_write_back_a_stock_figure_that_changed_meanwhile(admin_app, shipped_meanwhile):
    level, ship_one = shipped_meanwhile
    form = admin_app.get(reverse("admin:catalog_variant_change", args=[level.variant_id])).forms["variant_form"]
    shipped = ship_one()
    form["barcode"] = "4006381333931"

    response = form.submit("_save")

    assert response.status_code == 302
    assert StockLevel.objects.get(pk=level.pk).on_hand == shipped
    assert Variant.objects.get(pk=level.variant_id).barcode == "4006381333931"


def test_typing_over_a_stock_figure_that_changed_meanwhile_is_refused_on_the_variant_page(admin_app, shipped_meanwhile):
    level, ship_one = shipped_meanwhile
    form = admin_app.get(reverse("admin:catalog_variant_change", args=[level.variant_id])).forms["variant_form"]
    shipped = ship_one()
    form[f"stock_levels-{row_of(form, 'stock_levels', level.pk)}-on_hand"] = str(level.on_hand + 10)

    response = form.submit("_save").follow()

    assert "changed from" in response.text and "while you were editing" in response.text
    assert StockLevel.objects.get(pk=level.pk).on_hand == shipped


def test_the_stock_list_does_not_write_back_a_figure_that_changed_meanwhile(admin_app, shipped_meanwhile):
    level, ship_one = shipped_meanwhile
    page = admin_app.get(reverse("admin:catalog_stocklevel_changelist"), {"q": level.variant.sku})
    form = page.forms["changelist-form"]
    shipped = ship_one()

    form.submit("_save")

    assert StockLevel.objects.get(pk=level.pk).on_hand == shipped


def test_the_stock_level_page_refuses_a_figure_typed_over_a_change_made_meanwhile(admin_app, shipped_meanwhile):
    level, ship_one = shipped_meanwhile
    form = admin_app.get(reverse("admin:catalog_stocklevel_change", args=[level.pk])).forms["stocklevel_form"]
    shipped = ship_one()
    form["on_hand"] = str(level.on_hand + 10)

    response = form.submit("_save").follow()

    assert "while you were editing" in response.text
    assert StockLevel.objects.get(pk=level.pk).on_hand == shipped
