"""The back office: product list, change page with nested inlines, actions, import/export, groups."""
import importlib
import io
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from catalog.models import Product, ProductImage, StockLevel, Variant

from .factories import (
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

CHANGELIST = "admin:catalog_product_changelist"


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)  # no password: no slow hashing


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


GROUPS = ["Catalog managers", "Order managers", "Support"]


class SchemaEditor:
    """Just enough of a schema editor to call a data migration's functions directly."""

    connection = connection


@pytest.fixture
def staff_groups():
    """The groups made by customers/migrations/0001_staff_groups.py.

    A transactional test (the PostgreSQL concurrency tests) flushes every table when it ends, and
    with --reuse-db the next run starts without the migration's data; put it back with the
    migration's own function then. `test_staff_groups_migration_is_applied` keeps this honest.
    """
    if Group.objects.filter(name__in=GROUPS).count() < len(GROUPS):
        importlib.import_module("customers.migrations.0001_staff_groups").create_groups(global_apps, SchemaEditor())


def staff_in(group_name):
    user = get_user_model().objects.create_user(group_name.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


def png(size=(40, 30), mode="RGB", name="photo.png"):
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def full_product(*, title="Rain Jacket", on_hand=10, reserved=0, image=False, **fields):
    product = ProductFactory(title=title, **fields)
    variant = VariantFactory(product=product, option_values=[OptionValueFactory()])
    StockLevelFactory(variant=variant, location=LocationFactory(code="warehouse"), on_hand=on_hand, reserved=reserved)
    if image:
        ProductImage.objects.create(product=product, image=png(), alt_text=f"{title} photo")
    return product


def listed(response):
    return {product.title for product in response.context["cl"].result_list}


class FormFields(HTMLParser):
    """The fields a browser would submit for one form of a page, as {name: [values]}."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self.select = self.textarea = None

    def add(self, name, value):
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.add(attrs["name"], attrs.get("value", "on"))
                return
            self.add(attrs["name"], attrs.get("value", ""))
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select and "selected" in attrs:
            self.add(self.select, attrs.get("value", ""))
        elif tag == "textarea":
            self.textarea, self.text = attrs.get("name"), ""

    def handle_data(self, data):
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.add(self.textarea, self.text.removeprefix("\n"))
            self.textarea = None


def change_form_data(client, product):
    response = client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert response.status_code == 200
    parser = FormFields("product_form")
    parser.feed(response.content.decode())
    return parser.data


# --- Product list -------------------------------------------------------------------------------


def test_changelist_shows_price_stock_and_thumbnail(staff):
    full_product(title="Rain Jacket", on_hand=7, image=True)

    response = staff.get(reverse(CHANGELIST))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Rain Jacket" in content
    assert "$25.00" in content
    assert 'alt="Rain Jacket"' in content and 'loading="lazy"' in content
    assert reverse("admin:catalog_product_import") in content
    assert reverse("admin:catalog_product_export") in content
    assert response.context["cl"].show_full_result_count is False


def test_changelist_query_count_does_not_grow_with_products(staff):
    def queries_for_page():
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(reverse(CHANGELIST))
        assert response.status_code == 200
        return len(queries), len(response.context["cl"].result_list)

    for index in range(3):
        full_product(title=f"Few {index}", image=True, brand=BrandFactory(), category=CategoryFactory())
    few, shown_few = queries_for_page()
    for index in range(30):
        full_product(title=f"Many {index}", image=True, brand=BrandFactory(), category=CategoryFactory())
    many, shown_many = queries_for_page()

    assert (shown_few, shown_many) == (3, 33)
    assert many == few, f"{few} queries for 3 products, {many} for 33"
    # session, user, count, page, category tree, brands, and the savepoints around them
    assert few <= 10, few


def test_category_filter_includes_subcategories(staff):
    clothing = CategoryFactory(name="Clothing")
    jackets = CategoryFactory(name="Jackets", parent=clothing)
    ProductFactory(title="In clothing", category=clothing)
    ProductFactory(title="In jackets", category=jackets)
    ProductFactory(title="Elsewhere")

    response = staff.get(reverse(CHANGELIST), {"category": clothing.pk})

    assert listed(response) == {"In clothing", "In jackets"}
    assert "— Jackets" in response.content.decode()  # the tree is shown indented
    assert listed(staff.get(reverse(CHANGELIST), {"category": jackets.pk})) == {"In jackets"}


def test_brand_status_and_featured_filters(staff):
    brand = BrandFactory(name="Northwind")
    ProductFactory(title="Ours", brand=brand, status="draft", is_featured=True)
    ProductFactory(title="Theirs", status="active")

    assert listed(staff.get(reverse(CHANGELIST), {"brand__id__exact": brand.pk})) == {"Ours"}
    assert listed(staff.get(reverse(CHANGELIST), {"status__exact": "draft"})) == {"Ours"}
    assert listed(staff.get(reverse(CHANGELIST), {"is_featured__exact": "1"})) == {"Ours"}


def test_low_and_out_of_stock_filters(staff, settings):
    settings.STORE_LOW_STOCK_THRESHOLD = 5
    warehouse, shop = LocationFactory(code="warehouse"), LocationFactory(code="shop")
    closed = LocationFactory(code="closed", is_active=False)

    def product(title, *variants):
        item = ProductFactory(title=title)
        for levels in variants:
            variant = VariantFactory(product=item)
            for location, on_hand, reserved in levels:
                StockLevelFactory(variant=variant, location=location, on_hand=on_hand, reserved=reserved)
        return item

    product("Plenty", [(warehouse, 50, 0)])
    product("Low over two locations", [(warehouse, 2, 0), (shop, 1, 0)])
    product("One size low", [(warehouse, 100, 0)], [(warehouse, 6, 2)])
    product("Exactly at threshold", [(warehouse, 5, 0)])
    product("Six left", [(warehouse, 6, 0)])
    product("All reserved", [(warehouse, 2, 2)])
    product("Only in a closed location", [(closed, 10, 0)])
    product("No stock rows", [])

    low = listed(staff.get(reverse(CHANGELIST), {"stock": "low"}))
    out = listed(staff.get(reverse(CHANGELIST), {"stock": "out"}))

    assert low == {"Low over two locations", "One size low", "Exactly at threshold"}
    assert out == {"All reserved", "Only in a closed location", "No stock rows"}


def test_search_by_title_words_or_exact_sku(staff):
    jacket = ProductFactory(title="Waterproof Rain Jacket")
    VariantFactory(product=jacket, sku="RJ-001")
    ProductFactory(title="Rain Hat")

    assert listed(staff.get(reverse(CHANGELIST), {"q": "rain jacket"})) == {"Waterproof Rain Jacket"}
    assert listed(staff.get(reverse(CHANGELIST), {"q": "rain"})) == {"Waterproof Rain Jacket", "Rain Hat"}
    assert listed(staff.get(reverse(CHANGELIST), {"q": "RJ-001"})) == {"Waterproof Rain Jacket"}
    assert listed(staff.get(reverse(CHANGELIST), {"q": "RJ-00"})) == set()  # SKUs match exactly


# --- Change page --------------------------------------------------------------------------------


def test_change_page_renders_variant_rows_with_their_stock_and_the_images(staff):
    product = full_product(on_hand=10, reserved=3, image=True)

    response = staff.get(reverse("admin:catalog_product_change", args=[product.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="variants-TOTAL_FORMS"' in content
    assert "stock_levels" not in content  # stock is edited on the product's stock grid
    assert "7 available" in content and "3 reserved" in content
    assert reverse("admin:catalog_product_stock", args=[product.pk]) in content
    assert 'name="images-0-alt_text"' in content
    assert 'alt="Rain Jacket photo"' in content  # the preview
    assert "/admin/autocomplete/" in content  # autocomplete widgets for category, brand, options


def test_removing_a_stock_row_with_reserved_units_is_refused_with_a_message(staff):
    # The form cannot know this; the service refuses under its lock and the whole save rolls back.
    product = full_product(on_hand=10, reserved=2)
    variant = product.variants.get()
    url = reverse("admin:catalog_variant_change", args=[variant.pk])
    parser = FormFields("variant_form")
    parser.feed(staff.get(url).content.decode())
    data = parser.data
    data["stock_levels-0-DELETE"] = ["on"]
    data["barcode"] = ["4006381333931"]

    response = staff.post(url, data)

    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == [
        f"{variant.sku} at Warehouse cannot be removed because 2 units are reserved for orders; "
        "nothing was changed."
    ]
    variant.refresh_from_db()
    assert variant.barcode == ""
    assert StockLevel.objects.filter(variant=variant).exists()


def test_variant_change_page_edits_its_stock(staff):
    product = full_product(on_hand=10)
    variant = product.variants.get()
    url = reverse("admin:catalog_variant_change", args=[variant.pk])
    page = staff.get(url)
    parser = FormFields("variant_form")
    parser.feed(page.content.decode())
    data = parser.data
    data["stock_levels-0-on_hand"] = ["12"]

    response = staff.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert StockLevel.objects.get(variant=variant).on_hand == 12


def add_image(data, upload, alt="A photo", look=""):
    index = int(data["images-TOTAL_FORMS"][0])
    data["images-TOTAL_FORMS"] = [str(index + 1)]
    data.update({
        f"images-{index}-id": [""],
        f"images-{index}-product": [""],
        f"images-{index}-image": [upload],
        f"images-{index}-alt_text": [alt],
        f"images-{index}-option_value": [look],
        f"images-{index}-position": ["0"],
    })
    return data


def test_uploading_an_image_requests_its_renditions(staff, django_capture_on_commit_callbacks):
    product = full_product()
    data = add_image(change_form_data(staff, product), png(size=(800, 600)), alt="Front view")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 302
    image = product.images.get()
    assert image.alt_text == "Front view"
    # Celery runs eagerly in tests: the task enqueued after commit has built the WebP renditions.
    assert set(image.renditions) == {"320", "640", "800"}


def test_an_image_is_tied_to_one_of_the_products_colours_not_to_a_variant(staff):
    colour = OptionFactory(slug="colour", name="Colour", changes_look=True)
    size = OptionFactory(slug="size", name="Size")
    navy, black = (OptionValueFactory(option=colour, slug=slug, value=slug.title()) for slug in ("navy", "black"))
    OptionValueFactory(option=colour, slug="olive", value="Olive")  # another product's colour
    small, large = (OptionValueFactory(option=size, slug=slug, value=slug.upper()) for slug in ("s", "l"))
    product = ProductFactory(title="Rain Jacket")
    for values in ([navy, small], [navy, large], [black, large]):
        VariantFactory(product=product, option_values=values)

    page = staff.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    offered = page[page.index('name="images-__prefix__-option_value"'):]
    offered = offered[:offered.index("</select>")]
    assert [label for label in ("Colour: Navy", "Colour: Black", "Colour: Olive", "Size: L") if label in offered] == [
        "Colour: Navy", "Colour: Black",
    ]

    data = add_image(change_form_data(staff, product), png(), alt="Navy jacket", look=str(navy.pk))
    response = staff.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert product.images.get().option_value == navy


def test_a_file_that_is_not_an_image_is_refused(staff):
    product = full_product()
    fake = SimpleUploadedFile("photo.png", b"this is not a picture", content_type="image/png")
    data = add_image(change_form_data(staff, product), fake)

    response = staff.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 200
    assert "The file is not a JPEG, PNG, WebP or GIF image." in response.content.decode()
    assert not product.images.exists()


def test_a_decompression_bomb_is_refused_with_a_clear_message(staff):
    # 8000×8000 pixels in a few kilobytes: 64 megapixels, above the 40-megapixel limit.
    product = full_product()
    bomb = png(size=(8000, 8000), mode="1", name="bomb.png")
    assert bomb.size < 20_000
    data = add_image(change_form_data(staff, product), bomb)

    response = staff.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 200
    assert "The image is 8000×8000 pixels; the most allowed is 40 megapixels." in response.content.decode()
    assert not product.images.exists()


# --- Actions ------------------------------------------------------------------------------------


def run_action(client, action, products, url=None, **extra):
    data = {"action": action, "_selected_action": [p.pk for p in products], "index": "0", **extra}
    return client.post(url or reverse(CHANGELIST), data)


def test_publish_and_unpublish_actions(staff):
    draft = full_product(title="Draft", status="draft")
    empty = ProductFactory(title="No variants", status="draft")

    response = run_action(staff, "publish", [draft, empty])
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Published 1 product.", "1 product has no active variant and stays a draft."]
    draft.refresh_from_db()
    assert draft.status == "active"

    run_action(staff, "unpublish", [draft])
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_publish_across_all_filtered_results(staff):
    brand = BrandFactory()
    chosen = [full_product(title=f"Ours {i}", status="draft", brand=brand) for i in range(3)]
    other = full_product(title="Theirs", status="draft")
    url = reverse(CHANGELIST) + f"?brand__id__exact={brand.pk}"

    run_action(staff, "publish", chosen[:1], url=url, select_across="1")

    assert set(Product.objects.filter(brand=brand).values_list("status", flat=True)) == {"active"}
    other.refresh_from_db()
    assert other.status == "draft"


def test_move_to_category_through_the_intermediate_page(staff):
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    jackets = CategoryFactory(name="Jackets", slug="jackets", parent=clothing)
    products = [full_product(title=f"Jacket {i}") for i in range(2)]
    untouched = full_product(title="Hat")

    page = run_action(staff, "move_to_category", products)
    assert page.status_code == 200
    content = page.content.decode()
    assert "This applies to 2 products" in content
    assert "clothing/jackets" in content  # categories are offered by their path
    assert 'name="_selected_action"' in content and 'name="select_across"' in content

    response = run_action(staff, "move_to_category", products, apply="Move", category=str(jackets.pk),
                          select_across="0")

    assert response.status_code == 302
    assert set(Product.objects.filter(pk__in=[p.pk for p in products]).values_list("category", flat=True)) == {
        jackets.pk
    }
    untouched.refresh_from_db()
    assert untouched.category != jackets


def test_change_prices_action_rounds_to_cents(staff):
    product = full_product()
    Variant.objects.filter(product=product).update(price=Decimal("19.99"))

    page = run_action(staff, "change_prices", [product])
    assert page.status_code == 200 and 'name="percentage"' in page.content.decode()
    response = run_action(staff, "change_prices", [product], apply="Change prices", percentage="-10")

    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == ["Changed the price of 1 variant by -10%."]
    assert product.variants.get().price == Decimal("17.99")  # 17.991


def test_change_prices_below_zero_is_refused_and_nothing_changes(staff):
    product = full_product()

    response = run_action(staff, "change_prices", [product], apply="Change prices", percentage="-150")

    assert response.status_code == 200
    assert "would make 1 price negative; nothing was changed." in response.content.decode()
    assert product.variants.get().price == Decimal("25.00")


def test_change_prices_needs_a_number(staff):
    product = full_product()

    response = run_action(staff, "change_prices", [product], apply="Change prices", percentage="ten")

    assert response.status_code == 200
    assert "Enter a number." in response.content.decode()


# --- Import and export --------------------------------------------------------------------------


def test_import_through_the_admin(staff):
    CategoryFactory(name="Clothing", slug="clothing")
    upload = SimpleUploadedFile("products.csv", b"slug,title,category\nrain-jacket,Rain Jacket,clothing\n")

    response = staff.post(reverse("admin:catalog_product_import"), {"kind": "products", "file": upload})

    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == [
        "Imported products: 1 created, 0 updated, 0 unchanged."
    ]
    assert Product.objects.get().slug == "rain-jacket"


def test_import_with_bad_rows_lists_them_and_changes_nothing(staff):
    CategoryFactory(name="Clothing", slug="clothing")
    upload = SimpleUploadedFile(
        "products.csv",
        b"slug,title,category\nrain-jacket,Rain Jacket,clothing\nhat,Hat,hats\nscarf,,clothing\n",
    )

    response = staff.post(reverse("admin:catalog_product_import"), {"kind": "products", "file": upload})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Nothing was imported: fix these 2 problems" in content
    assert "<td>3</td>" in content and "There is no category at the path “hats”." in content
    assert "<td>4</td>" in content and "title: This field cannot be blank." in content
    assert not Product.objects.exists()


def test_import_refuses_other_file_types(staff):
    upload = SimpleUploadedFile("products.txt", b"slug\n")

    response = staff.post(reverse("admin:catalog_product_import"), {"kind": "products", "file": upload})

    assert response.status_code == 200
    assert "Upload a .csv or .xlsx file." in response.content.decode()


def test_export_downloads_a_file(staff):
    full_product(title="Rain Jacket", slug="rain-jacket")

    page = staff.get(reverse("admin:catalog_product_export"))
    response = staff.get(reverse("admin:catalog_product_export"), {"kind": "products", "file_format": "csv"})
    workbook = staff.get(reverse("admin:catalog_product_export"), {"kind": "stock", "file_format": "xlsx"})

    assert page.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="products.csv"'
    assert "rain-jacket,Rain Jacket" in response.content.decode("utf-8-sig")
    assert workbook["Content-Disposition"] == 'attachment; filename="stock.xlsx"'
    assert workbook.content[:2] == b"PK"


# --- Other catalog admins -----------------------------------------------------------------------


@pytest.mark.parametrize("model", [
    "category", "brand", "option", "attribute", "location", "stocklevel", "variant",
])
def test_other_changelists_and_add_pages_render(staff, model):
    full_product()

    assert staff.get(reverse(f"admin:catalog_{model}_changelist")).status_code == 200
    assert staff.get(reverse(f"admin:catalog_{model}_add")).status_code == 200


def test_stock_level_list_searches_by_exact_sku_and_filters_by_location(staff):
    shop = LocationFactory(code="shop")
    StockLevelFactory(variant__sku="RJ-001", location=shop)
    StockLevelFactory(variant__sku="RJ-0011")
    url = reverse("admin:catalog_stocklevel_changelist")

    found = staff.get(url, {"q": "RJ-001"}).context["cl"].result_list
    by_location = staff.get(url, {"location__id__exact": shop.pk}).context["cl"].result_list

    assert [level.variant.sku for level in found] == ["RJ-001"]
    assert [level.variant.sku for level in by_location] == ["RJ-001"]


def test_stock_level_edit_goes_through_the_service_and_respects_reserved(staff):
    level = StockLevelFactory(on_hand=10, reserved=4)
    url = reverse("admin:catalog_stocklevel_change", args=[level.pk])

    refused = staff.post(url, {"on_hand": "3"})
    accepted = staff.post(url, {"on_hand": "4"})

    assert refused.status_code == 200
    assert "Cannot be below the 4 units reserved for orders." in refused.content.decode()
    assert accepted.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (4, 4)


def test_stock_level_added_and_listed_edits_go_through_the_service(staff):
    variant = VariantFactory(sku="RJ-001")
    warehouse = LocationFactory(code="warehouse")

    added = staff.post(reverse("admin:catalog_stocklevel_add"), {
        "variant": str(variant.pk), "location": str(warehouse.pk), "on_hand": "6",
    })
    level = StockLevel.objects.get(variant=variant, location=warehouse)
    StockLevel.objects.filter(pk=level.pk).update(reserved=5)  # orders took five meanwhile
    listed_edit = staff.post(reverse("admin:catalog_stocklevel_changelist"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(level.pk), "form-0-on_hand": "4", "_save": "Save",
    })

    assert added.status_code == 302
    assert listed_edit.status_code == 200
    assert "Cannot be below the 5 units reserved for orders." in listed_edit.content.decode()
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (6, 5)


def test_variant_search_by_sku_and_autocomplete_for_option_values(staff):
    VariantFactory(sku="RJ-001")
    VariantFactory(sku="XX-001")
    navy = OptionValueFactory(value="Navy", slug="navy")

    found = staff.get(reverse("admin:catalog_variant_changelist"), {"q": "RJ"}).context["cl"].result_list
    options = staff.get(
        reverse("admin:autocomplete"),
        {"app_label": "catalog", "model_name": "variant", "field_name": "option_values", "term": "nav"},
    )

    assert [variant.sku for variant in found] == ["RJ-001"]
    assert [result["text"] for result in options.json()["results"]] == [f"{navy.option.name}: Navy"]


def test_a_category_cannot_be_moved_under_its_own_subcategory(staff):
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    jackets = CategoryFactory(name="Jackets", slug="jackets", parent=clothing)

    response = staff.post(
        reverse("admin:catalog_category_change", args=[clothing.pk]),
        {"name": "Clothing", "slug": "clothing", "parent": str(jackets.pk), "position": "0", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "cannot be placed inside itself or one of its subcategories" in response.content.decode()
    clothing.refresh_from_db()
    assert clothing.parent is None


# --- Staff groups -------------------------------------------------------------------------------


def test_staff_groups_migration_is_applied():
    applied = MigrationRecorder(connection).applied_migrations()

    assert ("customers", "0001_staff_groups") in applied


def test_catalog_manager_can_open_and_change_products(client, staff_groups):
    product = full_product()
    client.force_login(staff_in("Catalog managers"))

    changelist = client.get(reverse(CHANGELIST))
    response = client.post(reverse(CHANGELIST), {
        "action": "unpublish", "_selected_action": [product.pk], "index": "0",
    })

    assert changelist.status_code == 200
    assert "publish" in [choice[0] for choice in changelist.context["action_form"].fields["action"].choices]
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.status == "draft"
    assert client.get(reverse("admin:catalog_product_import")).status_code == 200


def test_support_can_view_but_not_change(client, staff_groups):
    product = full_product()
    client.force_login(staff_in("Support"))
    change_url = reverse("admin:catalog_product_change", args=[product.pk])

    changelist = client.get(reverse(CHANGELIST))
    page = client.get(change_url)
    post = client.post(change_url, {"title": "Hacked"})
    action = client.post(reverse(CHANGELIST), {"action": "unpublish", "_selected_action": [product.pk], "index": "0"})

    assert changelist.status_code == 200
    assert reverse("admin:catalog_product_import") not in changelist.content.decode()
    assert reverse("admin:catalog_product_export") in changelist.content.decode()
    assert page.status_code == 200
    assert 'name="title"' not in page.content.decode()  # read-only view
    assert post.status_code == 403
    assert action.status_code == 200  # no actions are offered to them: the list is shown again
    product.refresh_from_db()
    assert (product.title, product.status) == ("Rain Jacket", "active")
    assert client.get(reverse("admin:catalog_product_import")).status_code == 403
    assert client.get(reverse("admin:catalog_product_add")).status_code == 403


def test_support_opens_a_demo_variants_page_with_its_stock(client, staff_groups, demo_catalog):
    # A view-only page has no on_hand field to mark (it was a KeyError: a 500 for Support and
    # Order managers on every variant page with stock).
    demo_catalog(products=2)
    variant = Variant.objects.filter(stock_levels__on_hand__gt=0).order_by("pk").first()
    stock = variant.stock_levels.order_by("pk").first()
    client.force_login(staff_in("Support"))

    page = client.get(reverse("admin:catalog_variant_change", args=[variant.pk]))
    stock_page = client.get(reverse("admin:catalog_stocklevel_change", args=[stock.pk]))

    assert page.status_code == 200 and stock_page.status_code == 200
    assert 'name="stock_levels-0-on_hand"' not in page.content.decode()  # read-only view
    assert variant.sku in page.content.decode()


def test_staff_groups_have_the_intended_permissions(staff_groups):
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    catalog_models = [model._meta.model_name for model in global_apps.get_app_config("catalog").get_models()
                      if model._meta.default_permissions]
    assert {f"change_{name}" for name in catalog_models} <= codenames("Catalog managers")
    assert {"add_product", "delete_stocklevel", "view_variant"} <= codenames("Catalog managers")
    # Their catalog permissions only (the orders app grants order permissions of its own).
    def catalog_permissions(name):
        return {codename for codename in codenames(name) if codename.split("_", 1)[1] in catalog_models}

    assert catalog_permissions("Support") == {f"view_{name}" for name in catalog_models}
    assert catalog_permissions("Order managers") == {f"view_{name}" for name in catalog_models}


def test_staff_groups_migration_is_reversible():
    migration = importlib.import_module("customers.migrations.0001_staff_groups")

    migration.remove_groups(global_apps, SchemaEditor())
    assert not Group.objects.filter(name__in=GROUPS).exists()

    migration.create_groups(global_apps, SchemaEditor())
    assert Group.objects.get(name="Support").permissions.filter(codename="view_product").exists()
    assert Group.objects.get(name="Catalog managers").permissions.filter(codename="delete_product").exists()
