"""Reads for the cart: what is in it, at today's prices and stock, in a fixed number of queries.

Nothing here trusts the cart for money: every price, line total and the subtotal come from the
catalog at the time of reading, rounded by `shop.money`. Checkout reads the same `CartContents`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.db.models import Max, Q, Sum
from django.utils.translation import gettext as _

from catalog.models import OptionValue, Product, ProductImage, Variant
from catalog.pictures import pick_picture
from catalog.selectors import category_tree, stock_totals
from giftcards.digital import is_digital
from saleschannels.selectors import sold_online
from shop.money import format_money, quantize

from . import cache as cart_cache
from .cart_rows import cart_lines
from .exceptions import ItemUnavailable
from .models import Cart, CartLine

# The guest's cart id in their session. Django's login keeps session data when it rotates the
# key (`cycle_key`), so the id is still there when the sign-in merge reads it.
CART_SESSION_KEY = "cart_id"


def max_line_quantity() -> int:
    return settings.CART_MAX_LINE_QUANTITY


def guest_cart_id(session: SessionBase) -> int | None:
    value = session.get(CART_SESSION_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _owner_filter(*, user, session: SessionBase, prefix: str = "") -> Q | None:
    """Which cart is the shopper's: the customer's own, or the guest cart their session names.

    A guest id never reaches a customer's cart (`user` must be null), so a stale or forged session
    value cannot read anyone else's. None when the shopper has no cart (no query needed).
    """
    if user is not None and user.is_authenticated:
        return Q(**{f"{prefix}user": user})
    cart_id = guest_cart_id(session)
    if cart_id is None:
        return None
    return Q(**{f"{prefix}pk": cart_id, f"{prefix}user__isnull": True})


def find_cart(*, user, session: SessionBase, for_update: bool = False) -> Cart | None:
    """The shopper's cart, or None (one query; none when a guest has no cart id).

    `for_update` locks the row: the caller must be inside `transaction.atomic()`.
    """
    owner = _owner_filter(user=user, session=session)
    if owner is None:
        return None
    carts = Cart.objects.filter(owner)
    if for_update:
        carts = carts.select_for_update()
    return carts.first()


def purchasable_variant(*, variant_id: int, product_id: int | None = None) -> Variant:
    """The active variant `variant_id` of a product shoppers may see, with its product (one query).

    Raises ItemUnavailable for a missing or inactive variant, a draft or hidden product, or a
    variant that is not `product_id`'s (a form posted with mismatched fields).
    """
    variants = Variant.objects.select_related("product__gift_card").filter(
        pk=variant_id, is_active=True, product__in=Product.objects.published()
    )
    if product_id is not None:
        variants = variants.filter(product_id=product_id)
    variant = variants.first()
    if variant is None:
        raise ItemUnavailable()
    return variant


def available_units(variant_id: int) -> int:
    """Units a shopper can still buy: on hand minus reserved, over active locations (one query)."""
    return max(stock_totals([variant_id]).get(variant_id, 0), 0)


# --- The header's mini-cart ---------------------------------------------------------------------


@dataclass(frozen=True)
class MiniCart:
    item_count: int


def mini_cart(*, user, session: SessionBase, fresh: bool = False) -> MiniCart:
    """How many units are in the shopper's cart, from the cache when it knows (see carts/cache.py).

    No query when the cache knows the count (and, for a customer, which cart is theirs) or a guest
    has no cart; otherwise one query per missing entry, and the answer is kept. `fresh` counts
    in the database whatever the cache says, and keeps that.
    """
    if user is not None and user.is_authenticated:
        key = cart_cache.user_cart_key(user.pk)
        cart_id = None if fresh else cache.get(key)
        if cart_id is None:
            # Which cart and how many units, in one query (a customer has one cart at most). An
            # empty cart counts as none: adding to it forgets this entry.
            row = CartLine.objects.filter(cart__user=user).aggregate(units=Sum("quantity"), cart=Max("cart_id"))
            cart_id, count = row["cart"] or cart_cache.NO_CART, row["units"] or 0
            cart_cache.remember({key: cart_id, **({cart_cache.item_count_key(cart_id): count} if cart_id else {})})
            return MiniCart(item_count=count)
        owner = Q(cart_id=cart_id, cart__user=user)
    else:
        cart_id = guest_cart_id(session)
        owner = Q(cart_id=cart_id, cart__user__isnull=True)
    if not cart_id:
        return MiniCart(item_count=0)
    key = cart_cache.item_count_key(cart_id)
    count = None if fresh else cache.get(key)
    if count is None:
        count = CartLine.objects.filter(owner).aggregate(units=Sum("quantity"))["units"] or 0
        cart_cache.remember({key: count})
    return MiniCart(item_count=count)


def remember_item_count(*, cart_id: int | None, item_count: int) -> None:
    """Keep a count just read in full (the cart page's), so the header agrees with it at once."""
    if cart_id:
        cart_cache.remember({cart_cache.item_count_key(cart_id): item_count})


# --- The cart's contents ------------------------------------------------------------------------


class LineStatus:
    OK = "ok"
    LOW = "low"  # some left, but fewer than the line's quantity
    OUT = "out_of_stock"
    UNAVAILABLE = "unavailable"  # variant deactivated, product unpublished or hidden


@dataclass(frozen=True)
class CartWarning:
    """Something that changed since the shopper added a line, said in plain words."""

    kind: str  # "price_changed", "low_stock", "out_of_stock", "unavailable"
    message: str


@dataclass
class CartItem:
    line_id: int
    variant: Variant
    product: Product
    title: str
    sku: str
    option_labels: list[str]  # ["Colour: Red", "Size: S"]
    quantity: int
    unit_price: Decimal  # today's catalog price: the one that counts
    price_when_added: Decimal  # what the line remembers (when added, or the cart was last shown)
    line_total: Decimal
    available: int
    max_quantity: int  # what the quantity input allows: stock, capped by the per-line maximum
    status: str
    weight: Decimal | None  # per unit, kg
    image: ProductImage | None
    warnings: list[CartWarning] = field(default_factory=list)
    digital: bool = False  # emailed (a gift card): no stock, no shipping (`is_digital`)

    @property
    def price_changed(self) -> bool:
        return self.unit_price != self.price_when_added

    @property
    def is_purchasable(self) -> bool:
        """Counts towards the subtotal: on sale and in stock (a LOW line is bought at what is left)."""
        return self.status in (LineStatus.OK, LineStatus.LOW)

    @cached_property
    def url(self) -> str:
        """The product page (a cart line links to it twice)."""
        return self.product.get_absolute_url()


@dataclass
class CartContents:
    cart_id: int | None
    items: list[CartItem]
    subtotal: Decimal  # purchasable lines at today's prices
    total_weight: Decimal  # kg, purchasable physical lines; a variant without a weight counts as 0
    item_count: int  # units on every line, as the header shows them
    # What shipping is priced on: the purchasable lines that are shipped (digital ones never are).
    shippable_subtotal: Decimal | None = None

    def __post_init__(self) -> None:
        if self.shippable_subtotal is None:
            self.shippable_subtotal = self.subtotal

    @property
    def digital_only(self) -> bool:
        """Nothing to ship: every line is digital (a cart of gift cards). Checkout then asks for no
        shipping address and no delivery method, and the order reserves no stock."""
        return bool(self.items) and all(item.digital for item in self.items)

    @property
    def shippable_items(self) -> list[CartItem]:
        return [item for item in self.items if item.is_purchasable and not item.digital]

    @property
    def is_empty(self) -> bool:
        return not self.items

    @property
    def warnings(self) -> list[CartWarning]:
        return [warning for item in self.items for warning in item.warnings]

    @property
    def ready_for_checkout(self) -> bool:
        """Every line can be bought as it stands: in stock, on sale, at the price the shopper saw."""
        return bool(self.items) and all(item.status == LineStatus.OK and not item.price_changed for item in self.items)


def _option_labels(values: list[OptionValue]) -> list[str]:
    return [f"{value.option.name}: {value.value}" for value in values]


def _image_for(variant: Variant, values: list[OptionValue]) -> ProductImage | None:
    """The variant's colour's picture (pictures follow the option that changes the look)."""
    return pick_picture(list(variant.product.images.all()), {value.pk for value in values})


def _warnings(
    *, title: str, quantity: int, status: str, available: int, was: Decimal, now: Decimal
) -> list[CartWarning]:
    warnings = []
    if status == LineStatus.UNAVAILABLE:
        return [CartWarning("unavailable", _("%(title)s is no longer available.") % {"title": title})]
    if was != now:
        warnings.append(
            CartWarning(
                "price_changed",
                _("The price of %(title)s went from %(was)s to %(now)s.")
                % {"title": title, "was": format_money(was), "now": format_money(now)},
            )
        )
    if status == LineStatus.OUT:
        warnings.append(CartWarning("out_of_stock", _("%(title)s is out of stock.") % {"title": title}))
    elif status == LineStatus.LOW:
        warnings.append(
            CartWarning(
                "low_stock",
                _("Only %(available)d of %(title)s left; your cart has %(quantity)d.")
                % {"available": available, "title": title, "quantity": quantity},
            )
        )
    return warnings


def cart_contents(*, user, session: SessionBase, images: bool = True) -> CartContents:
    """Every line of the shopper's cart with today's price, stock and what changed (4 queries).

    Lines, option values, images and stock totals: one query each, whatever the number of lines;
    none at all for a guest without a cart. `images=False` skips the images (every item's `image`
    is None) for a caller that shows none, such as placing the order. The category tree (to tell
    whether a product is still shown) comes from the cache.
    """
    if user is not None and user.is_authenticated:
        user_id, cart_id = user.pk, None
    else:
        user_id, cart_id = None, guest_cart_id(session)
        if cart_id is None:
            return CartContents(
                cart_id=None, items=[], subtotal=quantize(Decimal(0)), total_weight=Decimal(0), item_count=0
            )
    # Precompiled (carts/cart_rows.py): the same rows `_owner_filter`'s queryset with its
    # select_related and prefetches read, without building and compiling them each time.
    lines = cart_lines(user_id=user_id, guest_cart_id=cart_id, images=images)
    stocked = [line.variant_id for line in lines if not is_digital(line.variant.product)]
    stock = stock_totals(stocked) if stocked else {}
    shown_categories = category_tree().by_id
    limit = max_line_quantity()
    items = []
    for line in lines:
        variant, product = line.variant, line.variant.product
        # Prefetched; read once (each `.option_values` makes a new related manager, not free).
        values = list(variant.option_values.all())
        digital = is_digital(product)
        # A digital product has no stock to run out of: as many as the per-line maximum.
        available = limit if digital else max(stock.get(variant.pk, 0), 0)
        on_sale = (
            variant.is_active and product.status == Product.Status.ACTIVE and product.category_id in shown_categories
            and sold_online(product)
        )
        if not on_sale:
            status = LineStatus.UNAVAILABLE
        elif available <= 0:
            status = LineStatus.OUT
        elif available < line.quantity:
            status = LineStatus.LOW
        else:
            status = LineStatus.OK
        items.append(
            CartItem(
                line_id=line.pk, variant=variant, product=product, title=product.title, sku=variant.sku,
                option_labels=_option_labels(values), quantity=line.quantity, unit_price=variant.price,
                price_when_added=line.unit_price, line_total=quantize(variant.price * line.quantity),
                available=available, max_quantity=min(available, limit), status=status, weight=variant.weight,
                image=_image_for(variant, values) if images else None,
                warnings=_warnings(
                    title=product.title, quantity=line.quantity, status=status, available=available,
                    was=line.unit_price, now=variant.price,
                ),
                digital=digital,
            )
        )
    purchasable = [item for item in items if item.is_purchasable]
    shipped = [item for item in purchasable if not item.digital]
    return CartContents(
        cart_id=lines[0].cart_id if lines else None,
        items=items,
        subtotal=quantize(sum((item.line_total for item in purchasable), Decimal(0))),
        total_weight=sum(((item.weight or Decimal(0)) * item.quantity for item in shipped), Decimal(0)),
        item_count=sum(item.quantity for item in items),
        shippable_subtotal=quantize(sum((item.line_total for item in shipped), Decimal(0))),
    )
