"""A product's stock on one grid (variants × locations) instead of a table nested in every variant.

Driven as staff use it: the page opened and submitted with django-webtest (`admin_app`) on the
demo catalog, whose variants have stock at up to three locations, some of it reserved.
"""
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import services, stock
from catalog.exceptions import StockChangedMeanwhile
from catalog.models import Location, Product, StockLevel, Variant
from catalog.tests.test_admin import staff_groups  # noqa: F401 - the fixture
from inventory.ledger import Cause
from inventory.models import Reason

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


def product_with(variants: int) -> Product:
    return (
        Product.objects.annotate(variant_count=Count("variants")).filter(variant_count=variants).order_by("pk").first()
    )


def all_stock() -> list[tuple]:
    return list(StockLevel.objects.order_by("pk").values_list("pk", "variant_id", "location_id", "on_hand", "reserved"))


def grid_url(product: Product) -> str:
    return reverse("admin:catalog_product_stock", args=[product.pk])


def cell(variant_id: int, location_id: int) -> str:
    return f"on_hand-{variant_id}-{location_id}"


def measure(client, url: str) -> tuple[int, int]:
    client.get(url)  # signed in, session saved and content types cached before counting
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(response.content), len(queries)


# --- The product page no longer grows per variant × location ------------------------------------


def test_product_page_size_and_queries_stay_within_budget_for_18_variants(demo_catalog, admin_app):
    # Measured before: 18 variants with 38 stock rows made 534,103 bytes and 141 queries; 2 variants
    # 129,622 bytes and 27 queries (about 25 KB and 7 queries more per variant).
    demo_catalog(products=40)
    big, small = product_with(18), product_with(2)
    assert StockLevel.objects.filter(variant__product=big).count() >= 36
    assert Location.objects.count() == 3

    big_size, big_queries = measure(admin_app, reverse("admin:catalog_product_change", args=[big.pk]))
    small_size, small_queries = measure(admin_app, reverse("admin:catalog_product_change", args=[small.pk]))

    assert big_size < 250_000
    assert (big_size - small_size) / 16 < 10_000  # bytes per variant: one table row, no stock table
    assert big_queries == small_queries <= 15
    page = admin_app.get(reverse("admin:catalog_product_change", args=[big.pk]))
    assert not [name for name in page.forms["product_form"].fields if "stock_levels" in name]
    assert page.html.find(id="stock-grid-link")["href"] == grid_url(big)


def test_stock_grid_reads_a_fixed_number_of_queries(demo_catalog, admin_app):
    demo_catalog(products=40)
    big, small = product_with(18), product_with(2)

    big_size, big_queries = measure(admin_app, grid_url(big))
    small_size, small_queries = measure(admin_app, grid_url(small))

    assert big_queries == small_queries <= 8
    assert (big_size - small_size) / (16 * 3) < 1_200  # bytes per cell: an input and its shown figure


# --- Seeing and changing stock on the grid ------------------------------------------------------


@pytest.fixture
def reserved_level(demo_catalog) -> StockLevel:
    """A demo stock row with units reserved for orders, in a product of several variants."""
    demo_catalog(products=8)
    return (
        StockLevel.objects.filter(reserved__gt=0, on_hand__gte=5)
        .annotate(siblings=Count("variant__product__variants"))
        .filter(siblings__gte=2)
        .select_related("variant__product", "location")
        .order_by("pk")
        .first()
    )


def test_grid_shows_every_variant_and_location_with_reserved_units(reserved_level, admin_app):
    product = reserved_level.variant.product

    page = admin_app.get(grid_url(product))

    form = page.forms["stock_grid_form"]
    variants = list(product.variants.all())
    locations = list(Location.objects.all())
    assert {name for name in form.fields if name.startswith("on_hand-")} == {
        cell(v.pk, loc.pk) for v in variants for loc in locations
    }
    assert form[cell(reserved_level.variant_id, reserved_level.location_id)].value == str(reserved_level.on_hand)
    row = page.html.find(id=f"variant-{reserved_level.variant_id}")
    assert f"{reserved_level.reserved} reserved" in row.get_text()
    missing = next(
        (v, loc) for v in variants for loc in locations
        if not StockLevel.objects.filter(variant=v, location=loc).exists()
    )
    assert form[cell(missing[0].pk, missing[1].pk)].value == ""


def test_changing_one_cell_saves_it_through_the_service_and_records_it(reserved_level, admin_app):
    product = reserved_level.variant.product
    before = all_stock()
    form = admin_app.get(grid_url(product)).forms["stock_grid_form"]
    new_on_hand = reserved_level.on_hand + 7
    form[cell(reserved_level.variant_id, reserved_level.location_id)] = str(new_on_hand)

    response = form.submit("_save").follow()

    assert "Saved 1 stock figure." in response.text
    reserved_level.refresh_from_db()
    assert reserved_level.on_hand == new_on_hand
    changed = [row for row in all_stock() if row not in before]
    assert [row[0] for row in changed] == [reserved_level.pk]
    entry = LogEntry.objects.get(object_id=str(product.pk))
    assert entry.change_message == (
        f"Stock: {reserved_level.variant.sku} at {reserved_level.location.name} "
        f"{new_on_hand - 7} → {new_on_hand}"
    )


def test_typing_a_number_in_an_empty_cell_adds_stock_there(reserved_level, admin_app):
    product = reserved_level.variant.product
    variant, location = next(
        (v, loc) for v in product.variants.all() for loc in Location.objects.all()
        if not StockLevel.objects.filter(variant=v, location=loc).exists()
    )
    form = admin_app.get(grid_url(product)).forms["stock_grid_form"]
    form[cell(variant.pk, location.pk)] = "4"

    form.submit("_save")

    level = StockLevel.objects.get(variant=variant, location=location)
    assert (level.on_hand, level.reserved) == (4, 0)


def test_saving_the_grid_unchanged_writes_nothing(reserved_level, admin_app):
    before = all_stock()

    response = admin_app.get(grid_url(reserved_level.variant.product)).forms["stock_grid_form"].submit("_save").follow()

    assert "No stock figure was changed." in response.text
    assert all_stock() == before
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(("typed", "message"), [
    ("-3", "Enter 0 or more units."),
    ("twelve", "Enter a whole number of units, such as 12."),
    ("2.5", "Enter a whole number of units, such as 12."),
    ("", "Enter the units on hand (0 for none); a stock row is not removed here."),
    ("below", "Cannot be below the {reserved} units reserved for orders."),
])
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(reserved_level, admin_app, typed, message):
    product = reserved_level.variant.product
    other = StockLevel.objects.filter(variant__product=product).exclude(pk=reserved_level.pk).order_by("pk").first()
    before = all_stock()
    form = admin_app.get(grid_url(product)).forms["stock_grid_form"]
    form[cell(other.variant_id, other.location_id)] = str(other.on_hand + 20)  # a good change alongside
    typed = str(reserved_level.reserved - 1) if typed == "below" else typed
    form[cell(reserved_level.variant_id, reserved_level.location_id)] = typed

    response = form.submit("_save")

    assert response.status_code == 200
    errors = response.html.find(id=f"variant-{reserved_level.variant_id}").select("td.errors .errorlist")
    assert [e.get_text(strip=True) for e in errors] == [message.format(reserved=reserved_level.reserved)]
    assert "nothing was saved" in response.text
    assert all_stock() == before


def test_a_cell_left_alone_is_not_written_back_over_a_change_made_meanwhile(reserved_level, admin_app):
    product = reserved_level.variant.product
    other = StockLevel.objects.filter(variant__product=product).exclude(pk=reserved_level.pk).order_by("pk").first()
    form = admin_app.get(grid_url(product)).forms["stock_grid_form"]
    # While the page is open a reserved unit ships: on hand and reserved drop together.
    shipped = reserved_level.on_hand - 1
    with transaction.atomic():
        stock.fulfil(allocations=[stock.Allocation(stock_level_id=reserved_level.pk, variant_id=reserved_level.variant_id,
                                                   location_id=reserved_level.location_id, quantity=1)])
    form[cell(other.variant_id, other.location_id)] = str(other.on_hand + 1)

    form.submit("_save")

    assert StockLevel.objects.get(pk=reserved_level.pk).on_hand == shipped
    assert StockLevel.objects.get(pk=other.pk).on_hand == other.on_hand + 1


def test_typing_over_a_figure_that_changed_meanwhile_is_refused_and_changes_nothing(reserved_level, admin_app):
    product = reserved_level.variant.product
    other = StockLevel.objects.filter(variant__product=product).exclude(pk=reserved_level.pk).order_by("pk").first()
    form = admin_app.get(grid_url(product)).forms["stock_grid_form"]
    with transaction.atomic():  # a return restocked
        stock.restock(stock_level_id=reserved_level.pk, quantity=5, cause=Cause(reason=Reason.RETURN))
    form[cell(reserved_level.variant_id, reserved_level.location_id)] = "50"
    form[cell(other.variant_id, other.location_id)] = str(other.on_hand + 1)
    before = all_stock()

    response = form.submit("_save").follow()

    assert (
        f"{reserved_level.variant.sku} at {reserved_level.location.name} changed from {reserved_level.on_hand} "
        f"to {reserved_level.on_hand + 5} units on hand while you were editing"
    ) in response.text
    assert all_stock() == before


def test_staff_who_may_only_view_see_the_grid_without_inputs_and_cannot_save(
    reserved_level, django_app, staff_groups,  # noqa: F811
):
    support = get_user_model().objects.create_user("support-1", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    product = reserved_level.variant.product
    before = all_stock()

    page = django_app.get(grid_url(product), user=support)

    form = page.forms["stock_grid_form"]
    assert not [name for name in form.fields if name.startswith("on_hand-")]
    assert f"{reserved_level.reserved} reserved" in page.text
    refused = django_app.post(
        grid_url(product),
        {"csrfmiddlewaretoken": form["csrfmiddlewaretoken"].value,
         cell(reserved_level.variant_id, reserved_level.location_id): "99"},
        user=support, expect_errors=True,
    )
    assert refused.status_code == 403
    assert "CSRF" not in refused.text
    assert all_stock() == before


# --- The service check the grid relies on -------------------------------------------------------


def test_set_stock_levels_refuses_a_change_whose_expected_figure_is_stale():
    from catalog.tests.factories import LocationFactory, StockLevelFactory

    level = StockLevelFactory(on_hand=10, reserved=0)
    new_location = LocationFactory(code="annex")
    variant = Variant.objects.get(pk=level.variant_id)

    with pytest.raises(StockChangedMeanwhile):
        services.set_stock_levels(changes=[
            services.StockChange(variant_id=variant.pk, location_id=new_location.pk, on_hand=3, expected_on_hand=0),
            services.StockChange(variant_id=variant.pk, location_id=level.location_id, on_hand=4, expected_on_hand=9),
        ])

    level.refresh_from_db()
    assert level.on_hand == 10
    assert not StockLevel.objects.filter(location=new_location).exists()
    assert services.set_stock_levels(changes=[
        services.StockChange(variant_id=variant.pk, location_id=level.location_id, on_hand=4, expected_on_hand=10),
        services.StockChange(variant_id=variant.pk, location_id=new_location.pk, on_hand=3, expected_on_hand=0),
    ]) == 2
