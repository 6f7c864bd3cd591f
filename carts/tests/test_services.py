"""Cart services and selectors: adding, changing, removing, what changed since, merging at sign-in."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore

from carts import selectors, services
from carts.exceptions import ItemUnavailable, LineLimitExceeded, LineNotFound, NotEnoughStock
from carts.models import Cart, CartLine
from carts.selectors import CART_SESSION_KEY, LineStatus
from catalog.models import Product, StockLevel, Variant

pytestmark = pytest.mark.django_db


def variant(sku: str) -> Variant:
    return Variant.objects.get(sku=sku)


def add(shopper, sku: str, quantity: int = 1, **kwargs) -> CartLine:
    return services.add_to_cart(
        user=shopper.user, session=shopper.session, variant_id=variant(sku).pk, quantity=quantity, **kwargs
    )


def contents(shopper):
    return selectors.cart_contents(user=shopper.user, session=shopper.session)


def set_stock(sku: str, on_hand: int) -> None:
    StockLevel.objects.filter(variant__sku=sku).update(on_hand=on_hand, reserved=0)


# --- Adding --------------------------------------------------------------------------------------


def test_a_guests_first_add_creates_their_cart_and_remembers_it_in_the_session(storefront_catalog, guest):
    line = add(guest, "LAMP-1", 2)

    cart = Cart.objects.get()
    assert cart.user is None
    assert guest.session[CART_SESSION_KEY] == cart.pk
    assert (line.cart_id, line.quantity, line.unit_price) == (cart.pk, 2, Decimal("35.00"))


def test_adding_the_same_variant_again_adds_to_its_line(storefront_catalog, guest):
    add(guest, "LAMP-1", 2)
    Variant.objects.filter(sku="LAMP-1").update(price=Decimal("36.50"))

    line = add(guest, "LAMP-1", 3)

    assert CartLine.objects.count() == 1
    assert (line.quantity, line.unit_price) == (5, Decimal("36.50"))


def test_a_customers_cart_belongs_to_them(storefront_catalog, customer):
    add(customer, "LAMP-1")
    add(customer, "SHELL-RED-S")

    cart = Cart.objects.get()
    assert cart.user == customer.user
    assert CART_SESSION_KEY not in customer.session
    assert cart.lines.count() == 2


def test_more_than_the_stock_is_refused_and_nothing_is_created(storefront_catalog, guest):
    with pytest.raises(NotEnoughStock) as refused:
        add(guest, "PARKA-BLUE-L", 3)

    assert refused.value.message == "Only 2 of Harbour Parka are available."
    assert not Cart.objects.exists()
    assert CART_SESSION_KEY not in guest.session


def test_the_stock_counts_what_is_already_in_the_cart(storefront_catalog, guest):
    add(guest, "PARKA-BLUE-L", 2)

    with pytest.raises(NotEnoughStock) as refused:
        add(guest, "PARKA-BLUE-L", 1)

    assert "you already have 2 in your cart" in refused.value.message
    assert CartLine.objects.get().quantity == 2


def test_reserved_units_and_inactive_locations_are_not_available(storefront_catalog, guest):
    StockLevel.objects.filter(variant__sku="LAMP-1").update(on_hand=8, reserved=7)
    with pytest.raises(NotEnoughStock):
        add(guest, "LAMP-1", 2)
    add(guest, "LAMP-1", 1)

    storefront_catalog.downtown.is_active = False
    storefront_catalog.downtown.save()
    with pytest.raises(NotEnoughStock) as refused:
        add(guest, "SHELL-BLUE-S", 1)
    assert refused.value.message == "Sorry, Storm Shell is out of stock."


def test_the_per_line_maximum_applies(storefront_catalog, guest, settings):
    settings.CART_MAX_LINE_QUANTITY = 3
    add(guest, "LAMP-1", 2)

    with pytest.raises(LineLimitExceeded) as refused:
        add(guest, "LAMP-1", 2)

    assert "at most 3 of one item" in refused.value.message
    assert CartLine.objects.get().quantity == 2


@pytest.mark.parametrize(
    ("sku", "why"),
    [("PROTO-1", "draft product"), ("ATTIC-1", "product in a hidden category"), ("SHELL-RED-S", "inactive variant")],
)
def test_items_not_on_sale_are_refused(storefront_catalog, guest, sku, why):
    Variant.objects.filter(sku="SHELL-RED-S").update(is_active=False)

    with pytest.raises(ItemUnavailable):
        add(guest, sku)

    assert not Cart.objects.exists(), why


def test_a_variant_posted_with_another_product_is_refused(storefront_catalog, guest):
    with pytest.raises(ItemUnavailable):
        add(guest, "LAMP-1", product_id=storefront_catalog.shell.pk)
    with pytest.raises(ItemUnavailable):
        services.add_to_cart(user=guest.user, session=guest.session, variant_id=999_999, quantity=1)

    assert not Cart.objects.exists()


def test_a_session_naming_a_customers_cart_does_not_reach_it(storefront_catalog, customer, guest):
    add(customer, "LAMP-1", 1)
    guest.session[CART_SESSION_KEY] = Cart.objects.get(user=customer.user).pk

    assert contents(guest).is_empty
    add(guest, "SHELL-RED-S", 1)

    assert Cart.objects.get(user=customer.user).lines.count() == 1
    assert guest.session[CART_SESSION_KEY] != Cart.objects.get(user=customer.user).pk


# --- Changing and removing -----------------------------------------------------------------------


def test_setting_a_quantity_replaces_it_and_takes_todays_price(storefront_catalog, guest):
    line = add(guest, "LAMP-1", 1)
    Variant.objects.filter(sku="LAMP-1").update(price=Decimal("30.00"))

    services.set_line_quantity(user=guest.user, session=guest.session, line_id=line.pk, quantity=4)

    line.refresh_from_db()
    assert (line.quantity, line.unit_price) == (4, Decimal("30.00"))


def test_setting_a_quantity_above_the_stock_changes_nothing(storefront_catalog, guest):
    line = add(guest, "LAMP-1", 1)

    with pytest.raises(NotEnoughStock) as refused:
        services.set_line_quantity(user=guest.user, session=guest.session, line_id=line.pk, quantity=9)

    assert refused.value.message == "Only 8 of Camp Lamp are available."
    line.refresh_from_db()
    assert line.quantity == 1


def test_another_shoppers_line_cannot_be_changed_or_removed(storefront_catalog, guest, customer):
    theirs = add(customer, "LAMP-1", 1)
    add(guest, "SHELL-RED-S", 1)

    with pytest.raises(LineNotFound):
        services.set_line_quantity(user=guest.user, session=guest.session, line_id=theirs.pk, quantity=2)
    with pytest.raises(LineNotFound):
        services.remove_line(user=guest.user, session=guest.session, line_id=theirs.pk)
    with pytest.raises(LineNotFound):
        services.remove_line(user=AnonymousUser(), session=SessionStore(), line_id=theirs.pk)

    assert CartLine.objects.get(pk=theirs.pk).quantity == 1


def test_removing_a_line(storefront_catalog, guest):
    line = add(guest, "LAMP-1", 2)
    add(guest, "SHELL-RED-S", 1)

    removed = services.remove_line(user=guest.user, session=guest.session, line_id=line.pk)

    assert removed.variant.product.title == "Camp Lamp"
    assert [item.sku for item in contents(guest).items] == ["SHELL-RED-S"]


# --- Reading: today's prices, stock, warnings ------------------------------------------------------


def test_contents_are_priced_from_the_catalog(storefront_catalog, guest):
    add(guest, "LAMP-1", 2)
    add(guest, "SHELL-RED-S", 1)
    Variant.objects.filter(sku="SHELL-RED-S").update(weight=Decimal("0.850"))
    Variant.objects.filter(sku="LAMP-1").update(weight=Decimal("0.400"))
    CartLine.objects.filter(variant__sku="LAMP-1").update(unit_price=Decimal("0.01"))  # what was remembered

    cart = contents(guest)

    lamp, shell = cart.items
    assert (lamp.title, lamp.unit_price, lamp.line_total) == ("Camp Lamp", Decimal("35.00"), Decimal("70.00"))
    assert shell.option_labels == ["Colour: Red", "Size: S"]
    assert shell.image is not None and shell.image.alt_text == "Storm Shell front"
    assert cart.subtotal == Decimal("190.00")
    assert cart.total_weight == Decimal("1.650")
    assert cart.item_count == 3
    assert not cart.ready_for_checkout  # the lamp's price changed since it was added


def test_a_price_change_is_said_plainly(storefront_catalog, guest):
    add(guest, "LAMP-1", 1)
    Variant.objects.filter(sku="LAMP-1").update(price=Decimal("42.00"))

    [item] = contents(guest).items

    assert item.price_changed
    assert [w.message for w in item.warnings] == ["The price of Camp Lamp went from $35.00 to $42.00."]


def test_stock_that_ran_out_or_fell_below_the_quantity_is_flagged(storefront_catalog, guest):
    add(guest, "LAMP-1", 5)
    add(guest, "SHELL-RED-S", 2)
    set_stock("LAMP-1", 2)
    set_stock("SHELL-RED-S", 0)

    cart = contents(guest)

    lamp, shell = cart.items
    assert (lamp.status, shell.status) == (LineStatus.LOW, LineStatus.OUT)
    assert [w.message for w in lamp.warnings] == ["Only 2 of Camp Lamp left; your cart has 5."]
    assert [w.message for w in shell.warnings] == ["Storm Shell is out of stock."]
    assert cart.subtotal == Decimal("175.00")  # the shell is not counted
    assert cart.item_count == 7


def test_an_unpublished_product_is_flagged_and_not_counted(storefront_catalog, guest):
    add(guest, "LAMP-1", 1)
    add(guest, "SHELL-RED-S", 1)
    Product.objects.filter(slug="camp-lamp").update(status=Product.Status.DRAFT)

    cart = contents(guest)

    assert cart.items[0].status == LineStatus.UNAVAILABLE
    assert cart.items[0].warnings[0].message == "Camp Lamp is no longer available."
    assert cart.subtotal == Decimal("120.00")


def test_reconciling_reduces_quantities_remembers_prices_and_says_so(storefront_catalog, guest):
    add(guest, "LAMP-1", 5)
    add(guest, "SHELL-RED-S", 1)
    set_stock("LAMP-1", 2)
    Variant.objects.filter(sku="SHELL-RED-S").update(price=Decimal("99.00"))

    notices = services.reconcile_cart(contents=contents(guest))

    assert [n.message for n in notices] == [
        "Only 2 of Camp Lamp left: quantity reduced from 5 to 2.",
        "The price of Storm Shell went from $120.00 to $99.00.",
    ]
    after = contents(guest)
    assert [(i.quantity, i.status, i.price_changed) for i in after.items] == [(2, "ok", False), (1, "ok", False)]
    assert after.subtotal == Decimal("169.00")
    assert after.ready_for_checkout
    assert services.reconcile_cart(contents=after) == []


def test_reconciling_keeps_an_out_of_stock_line_for_the_shopper_to_remove(storefront_catalog, guest):
    add(guest, "LAMP-1", 3)
    set_stock("LAMP-1", 0)

    notices = services.reconcile_cart(contents=contents(guest))

    assert [n.message for n in notices] == ["Camp Lamp is out of stock."]
    assert CartLine.objects.get().quantity == 3


def test_mini_cart_counts_units(storefront_catalog, guest):
    assert selectors.mini_cart(user=guest.user, session=guest.session).item_count == 0
    add(guest, "LAMP-1", 2)
    add(guest, "SHELL-RED-S", 1)

    assert selectors.mini_cart(user=guest.user, session=guest.session).item_count == 3


# --- Merging at sign-in --------------------------------------------------------------------------


def test_a_customer_without_a_cart_takes_the_guest_cart_over(storefront_catalog, guest, customer):
    add(guest, "LAMP-1", 2)
    guest_cart = Cart.objects.get()

    result = services.merge_guest_cart(guest_cart_id=guest_cart.pk, user=customer.user)

    assert result.cart.pk == guest_cart.pk
    assert Cart.objects.get().user == customer.user


def test_merging_adds_quantities_capped_by_stock_and_the_line_maximum(storefront_catalog, guest, customer, settings):
    settings.CART_MAX_LINE_QUANTITY = 6
    add(customer, "PARKA-BLUE-L", 1)  # 2 in stock
    add(customer, "LAMP-1", 4)  # 8 in stock, but at most 6 per line
    add(customer, "SHELL-RED-S", 1)
    add(guest, "PARKA-BLUE-L", 2)
    add(guest, "LAMP-1", 5)
    add(guest, "SHELL-RED-S", 2)
    add(guest, "SHELL-BLUE-S", 1)  # only in the guest cart
    set_stock("SHELL-BLUE-S", 0)  # ... and sold out since
    guest_cart = Cart.objects.get(user__isnull=True)

    result = services.merge_guest_cart(guest_cart_id=guest_cart.pk, user=customer.user)

    quantities = dict(Cart.objects.get(user=customer.user).lines.values_list("variant__sku", "quantity"))
    assert quantities == {"PARKA-BLUE-L": 2, "LAMP-1": 6, "SHELL-RED-S": 3, "SHELL-BLUE-S": 1}
    assert result.capped == [
        "Harbour Parka: you had 3 in your carts, 2 are in your cart now.",
        "Camp Lamp: you had 9 in your carts, 6 are in your cart now.",
    ]
    assert not Cart.objects.filter(pk=guest_cart.pk).exists()
    assert Cart.objects.count() == 1


def test_merging_never_lowers_what_the_customer_had(storefront_catalog, guest, customer):
    add(customer, "LAMP-1", 5)
    add(guest, "LAMP-1", 1)
    set_stock("LAMP-1", 3)

    services.merge_guest_cart(guest_cart_id=Cart.objects.get(user__isnull=True).pk, user=customer.user)

    assert CartLine.objects.get().quantity == 5  # reduced to 3 when the cart is next shown, and said so


def test_merging_a_cart_that_is_not_a_guest_cart_does_nothing(storefront_catalog, customer, db):
    from django.contrib.auth import get_user_model

    other = get_user_model().objects.create_user(username="bob", password="x")
    theirs = Cart.objects.create(user=other)

    result = services.merge_guest_cart(guest_cart_id=theirs.pk, user=customer.user)

    assert result.cart is None and result.moved == 0
    assert Cart.objects.get(pk=theirs.pk).user == other
