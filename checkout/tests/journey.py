"""A shopper with one of everything the shopper's pages show, and the list of those pages, for
the page-wide checks (headings, ids, layout on a phone) in test_accessibility.py and
test_small_screens.py.

Long product names, a long address and five-figure totals on purpose: they are what breaks a
narrow layout."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from django.utils import timezone

from carts.models import Cart, CartLine
from catalog.tests.factories import product_with_stock
from customers.models import Address, Note, WishlistItem
from customers.tests.helpers import PASSWORD, verified_account
from orders.links import signed_confirmation_url
from orders.models import Order
from orders.tests.factories import OrderFactory, OrderLineFactory

LONG_TITLE = "Expedition Storm Shell Jacket with Detachable Insulated Hood, Taped Seams and Reinforced Shoulders"
ADDRESS = {
    "name": "Maximiliane Alexandra Featherstonehaugh-Montgomery", "company": "Northwestern Outdoor Equipment Cooperative",
    "line1": "12345 Extraordinarily Long Boulevard Name", "line2": "Building C, Suite 4500",
    "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US",
}
EMAIL = "maximiliane@example.com"


def shopper_with_history(catalog: SimpleNamespace) -> SimpleNamespace:
    """A verified account (password customers.tests.helpers.PASSWORD) with a default address, a
    paid order, a cart of two expensive lines with long names, and a wishlist item; its products
    join `catalog` (the storefront_catalog fixture) under clothing/jackets."""
    user, customer = verified_account(EMAIL, first_name="Maximiliane", last_name="Featherstonehaugh-Montgomery")
    address = Address.objects.create(customer=customer, is_default_shipping=True, is_default_billing=True,
                                     phone="+1 217 555 0100", **ADDRESS)
    jacket = product_with_stock(title=LONG_TITLE, slug="expedition-storm-shell", price=Decimal("12345.67"),
                                on_hand=100, category=catalog.jackets)
    tent = product_with_stock(title=f"Four-Season Mountaineering Tent, {LONG_TITLE[:40]}", slug="mountain-tent",
                              price=Decimal("98765.43"), on_hand=100, category=catalog.gear)
    _fill_cart(user, jacket, tent)
    WishlistItem.objects.create(customer=customer, product=tent, price_when_added=Decimal("98765.43"))
    order = OrderFactory(
        customer=customer, user=user, email=EMAIL, customer_name=ADDRESS["name"], phone="+1 217 555 0100",
        shipping_address=ADDRESS, billing_address=ADDRESS, payment_status=Order.PaymentStatus.PAID, paid_at=timezone.now(),
        subtotal=Decimal("802469.92"), shipping_total=Decimal("15.00"), tax_total=Decimal("0.00"),
        total=Decimal("802484.92"), shipping_method_name="Express courier, signature on delivery",
    )
    for product, quantity, price in ((jacket, 9, Decimal("12345.67")), (tent, 7, Decimal("98765.43"))):
        OrderLineFactory(order=order, product_title=product.title, sku=product.variants.get().sku, quantity=quantity,
                         unit_price=price, line_total=price * quantity, options="Colour: Deep Forest Green, Size: XXL")
    Note.objects.create(customer=customer, body="Prefers delivery after 5pm")
    return SimpleNamespace(user=user, customer=customer, address=address, order=order, jacket=jacket, tent=tent,
                           email=EMAIL, password=PASSWORD)


def _fill_cart(user, *products) -> None:
    cart, _created = Cart.objects.get_or_create(user=user)
    for product, quantity in zip(products, (9, 7)):
        variant = product.variants.get()
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity, unit_price=variant.price)


def refill_cart(history: SimpleNamespace) -> SimpleNamespace:
    """The same cart again, after an order emptied it."""
    _fill_cart(history.user, history.jacket, history.tent)
    return history


def account_pages(history: SimpleNamespace) -> dict[str, str]:
    """The signed-in shopper's pages (name -> path), checkout's steps apart: they need a form sent."""
    order = history.order
    return {
        "home": "/",
        "category": "/c/clothing/jackets/",
        "product": history.jacket.get_absolute_url(),
        "search": "/search/?q=expedition",
        "cart": "/cart/",
        "checkout details": "/checkout/",
        "order confirmation": signed_confirmation_url(order),
        "order history": "/orders/",
        "order page": f"/orders/number/{order.number}/",
        "account": "/account/",
        "profile": "/account/profile/",
        "address book": "/account/addresses/",
        "add an address": "/account/addresses/new/",
        "edit an address": f"/account/addresses/{history.address.pk}/edit/",
        "delete an address": f"/account/addresses/{history.address.pk}/delete/",
        "email preferences": "/account/preferences/",
        "wishlist": "/account/wishlist/",
        "privacy": "/account/privacy/",
        "email address": "/account/email/",
        "password": "/account/password/change/",
    }


# Pages of someone signed out.
ENTRANCE_PAGES = {
    "sign in": "/account/login/",
    "sign up": "/account/signup/",
    "password reset": "/account/password/reset/",
}
