"""Shipping quotes, tax rates and the review's totals, against the real database."""
from decimal import Decimal

import pytest

from carts.selectors import CartContents, cart_contents
from catalog.models import Location, StockLevel, Variant
from checkout import selectors, services
from checkout.models import ShippingMethod, ShippingZone, TaxRate

pytestmark = pytest.mark.django_db


def cart_of(subtotal: str, weight: str = "0") -> CartContents:
    """A cart as the quote sees one: only its subtotal and weight matter (no lines: no pick-up)."""
    return CartContents(cart_id=None, items=[], subtotal=Decimal(subtotal), total_weight=Decimal(weight), item_count=1)


def quotes(cart: CartContents, country: str) -> dict[str, Decimal]:
    return {option.name: option.price for option in services.shipping_options(cart=cart, country=country)}


def test_flat_rate_costs_its_price_below_the_threshold_and_nothing_from_it(shipping):
    assert quotes(cart_of("99.99"), "US")["Standard"] == Decimal("5.00")
    assert quotes(cart_of("100.00"), "US")["Standard"] == Decimal("0.00")
    [standard] = [o for o in services.shipping_options(cart=cart_of("150"), country="US") if o.name == "Standard"]
    assert standard.free_by_threshold
    assert quotes(cart_of("150"), "US")["Express"] == Decimal("15.00")  # no threshold: never free


def test_weight_bands_take_the_first_band_the_parcel_fits_and_refuse_above_the_last(shipping):
    assert quotes(cart_of("10", "0.5"), "US")["Heavy"] == Decimal("4.00")
    assert quotes(cart_of("10", "1.0"), "US")["Heavy"] == Decimal("4.00")  # limits are inclusive
    assert quotes(cart_of("10", "1.001"), "US")["Heavy"] == Decimal("9.00")
    assert "Heavy" not in quotes(cart_of("10", "5.5"), "US")


def test_price_bands_follow_the_subtotal_whatever_order_staff_entered_them(shipping):
    assert quotes(cart_of("20"), "US")["Banded"] == Decimal("6.00")
    assert quotes(cart_of("50.01"), "US")["Banded"] == Decimal("3.00")
    assert "Banded" not in quotes(cart_of("600"), "US")


def test_a_band_method_with_a_threshold_is_free_from_it(shipping):
    shipping.heavy.free_above = Decimal("30.00")
    shipping.heavy.save()
    assert quotes(cart_of("30", "4"), "US")["Heavy"] == Decimal("0.00")
    assert quotes(cart_of("30", "50"), "US")["Heavy"] == Decimal("0.00")  # free beats "too heavy"


def test_the_zone_is_chosen_by_country_and_the_first_zone_listing_it_wins(shipping):
    assert list(quotes(cart_of("10"), "de")) == ["EU"]
    assert list(quotes(cart_of("10"), "CA")) == ["Standard", "Heavy", "Banded", "Express"]
    assert quotes(cart_of("10"), "JP") == {}
    special = ShippingZone.objects.create(name="Canada special", countries="ca", position=0)
    shipping.domestic.position = 5
    shipping.domestic.save()
    ShippingMethod.objects.create(zone=special, name="Canada Post", price=Decimal("8.00"))
    assert quotes(cart_of("10"), "CA") == {"Canada Post": Decimal("8.00")}


def test_inactive_methods_are_never_offered(shipping):
    assert "Old" not in quotes(cart_of("10"), "US")
    ShippingMethod.objects.filter(zone=shipping.europe).update(is_active=False)
    assert quotes(cart_of("10"), "FR") == {}


def test_zone_countries_are_normalised_and_checked():
    from django.core.exceptions import ValidationError

    zone = ShippingZone(name="Mixed", countries=" us; ca ,US mx")
    zone.clean()
    assert zone.countries == "US, CA, MX"
    with pytest.raises(ValidationError):
        ShippingZone(name="Bad", countries="USA, 12").clean()


# --- Click and collect ------------------------------------------------------------------------


def test_pick_up_is_offered_only_at_shops_holding_everything(storefront_catalog, shipping, guest_cart):
    uptown = Location.objects.create(code="uptown", name="Uptown shop", kind=Location.Kind.SHOP, pickup_allowed=True,
                                     position=2)
    StockLevel.objects.create(variant=storefront_catalog.shell_blue_s, location=uptown, on_hand=1)
    shopper = guest_cart(("SHELL-BLUE-S", 2))
    cart = cart_contents(user=shopper.user, session=shopper.session)

    availability = selectors.pickup_availability(cart=cart)
    options = services.shipping_options(cart=cart, country="US")

    assert [location.code for location in availability.ready] == ["downtown"]
    assert [location.code for location in availability.not_ready] == ["uptown"]
    pickup = [option for option in options if option.kind == services.PICKUP]
    assert [(option.name, option.price) for option in pickup] == [("Pick up at Downtown shop", Decimal("0.00"))]
    choice = pickup[0].choice()
    assert choice.pickup_location_id == choice.location_ids[0] == storefront_catalog.downtown.pk


def test_no_shop_has_a_cart_spread_over_warehouse_and_shop(storefront_catalog, shipping, guest_cart):
    shopper = guest_cart(("SHELL-BLUE-S", 1), ("LAMP-1", 1))
    cart = cart_contents(user=shopper.user, session=shopper.session)

    availability = selectors.pickup_availability(cart=cart)

    assert availability.ready == [] and [loc.code for loc in availability.not_ready] == ["downtown"]
    assert all(option.kind == services.DELIVERY for option in services.shipping_options(cart=cart, country="US"))


# --- Tax --------------------------------------------------------------------------------------


def test_tax_rate_per_country_with_category_classes(storefront_catalog):
    TaxRate.objects.create(country="DE", rate=Decimal("19"))
    TaxRate.objects.create(country="DE", tax_class="jackets", rate=Decimal("7"))
    shell = Variant.objects.select_related("product").get(sku="SHELL-RED-S")  # rain, under jackets
    lamp = Variant.objects.select_related("product").get(sku="LAMP-1")  # gear

    assert services.tax_rate_for(shell, "DE") == Decimal("7.00")
    assert services.tax_rate_for(lamp, "de") == Decimal("19.00")
    assert services.tax_rate_for(lamp, "US") == Decimal("0")  # no rate configured: no tax


@pytest.mark.parametrize("included, items, tax, total", [
    (True, "155.00", "25.83", "155.00"),  # 120 and 35 include 20%: 20.00 + 5.83 extracted
    (False, "155.00", "31.00", "186.00"),  # 24.00 + 7.00 added on top
])
def test_summary_matches_what_the_order_will_charge(storefront_catalog, shipping, guest_cart, settings,
                                                    included, items, tax, total):
    settings.STORE_PRICES_INCLUDE_TAX = included
    TaxRate.objects.create(country="US", rate=Decimal("20"))
    shopper = guest_cart(("SHELL-RED-S", 1), ("LAMP-1", 1))
    cart = cart_contents(user=shopper.user, session=shopper.session)
    [standard] = [o for o in services.shipping_options(cart=cart, country="US") if o.name == "Standard"]

    summary = services.checkout_summary(cart=cart, shipping=standard, tax_rate=services.tax_table(country="US").rate_for)

    assert standard.price == Decimal("0.00")  # 155 is above the free threshold
    assert (summary.items_total, summary.tax_total, summary.total) == (Decimal(items), Decimal(tax), Decimal(total))

    order = services.place_checkout_order(
        user=shopper.user, session=shopper.session, idempotency_key="k" * 32,
        details=services.CheckoutDetails(email="a@example.com", phone="", shipping_address={"country": "US"},
                                         billing_address={"country": "US"}, delivery=standard.key),
    )
    assert (order.tax_total, order.total) == (summary.tax_total, summary.total)
    assert sorted(order.lines.values_list("tax_rate", flat=True)) == [Decimal("20.00")] * 2
