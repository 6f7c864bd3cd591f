"""Writes to carts: add, change a quantity, remove, bring a cart in line with the catalog, merge.

Every write checks everything first and raises a `CartError` (with a message for the shopper)
before changing anything. Writes that touch lines lock the cart row for the length of their
transaction, so two tabs (or a double click) changing the same cart queue instead of racing the
one-line-per-variant constraint. Carts never reserve stock: availability is checked when a line
changes and again whenever the cart is read; checkout reserves.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.selectors import stock_totals
from giftcards.digital import is_digital

from . import selectors
from .cache import forget_cart_counts
from .exceptions import LineLimitExceeded, LineNotFound, NotEnoughStock
from .models import Cart, CartLine
from .selectors import CART_SESSION_KEY, CartContents, LineStatus


def _available(variant) -> int:
    """Units the shopper may have of `variant`: its stock, or, for a digital product (a gift card,
    never stocked), the per-line maximum."""
    if is_digital(variant.product):
        return selectors.max_line_quantity()
    return selectors.available_units(variant.pk)


def _check_quantity(*, title: str, quantity: int, available: int, in_cart: int = 0) -> None:
    limit = selectors.max_line_quantity()
    if quantity > limit:
        raise LineLimitExceeded(limit=limit, in_cart=in_cart)
    if quantity > available:
        raise NotEnoughStock(title=title, available=available, in_cart=in_cart)


def add_to_cart(
    *, user: AbstractBaseUser | None, session: SessionBase, variant_id: int, quantity: int,
    product_id: int | None = None,
) -> CartLine:
    """Add `quantity` units of a variant to the shopper's cart, creating the cart if needed.

    `quantity` must be at least 1 (the form says so). The variant must be on sale (ItemUnavailable),
    and the line's new quantity (what was there plus `quantity`) within stock (NotEnoughStock) and
    the per-line maximum (LineLimitExceeded); on any of these nothing changes and no cart is
    created. The line remembers today's price. One transaction; locks the cart row. A guest's new
    cart id is written to their session (which creates the session).
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    with transaction.atomic():
        variant = selectors.purchasable_variant(variant_id=variant_id, product_id=product_id)
        cart = selectors.find_cart(user=user, session=session, for_update=True)
        if cart is None:
            # Created before the checks below so they see one cart; a refusal rolls it back.
            cart = _new_cart(user=user)
        line = CartLine.objects.filter(cart=cart, variant=variant).first()
        in_cart = line.quantity if line else 0
        _check_quantity(
            title=variant.product.title, quantity=in_cart + quantity,
            available=_available(variant), in_cart=in_cart,
        )
        if line is None:
            line = CartLine.objects.create(cart=cart, variant=variant, quantity=quantity, unit_price=variant.price)
        else:
            line.quantity = in_cart + quantity
            line.unit_price = variant.price
            line.save(update_fields=["quantity", "unit_price", "updated_at"])
        Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
        forget_cart_counts(cart_ids=[cart.pk], user_ids=[cart.user_id])
    if cart.user_id is None:
        session[CART_SESSION_KEY] = cart.pk
    line.variant = variant
    return line


def _new_cart(*, user: AbstractBaseUser | None) -> Cart:
    """A new cart for the shopper, locked (the caller is inside `transaction.atomic()`)."""
    if user is not None and user.is_authenticated:
        # get_or_create: a customer's parallel first add finds the cart the other one created.
        cart, _created = Cart.objects.get_or_create(user=user)
        return Cart.objects.select_for_update().get(pk=cart.pk)
    return Cart.objects.create()


def _locked_line(*, user, session: SessionBase, line_id: int) -> CartLine:
    cart = selectors.find_cart(user=user, session=session, for_update=True)
    line = (
        CartLine.objects.select_related("variant__product").filter(cart=cart, pk=line_id).first()
        if cart is not None
        else None
    )
    if line is None:
        raise LineNotFound()
    return line


def set_line_quantity(*, user: AbstractBaseUser | None, session: SessionBase, line_id: int, quantity: int) -> CartLine:
    """Set a line of the shopper's cart to `quantity` (at least 1; removing is `remove_line`).

    Raises LineNotFound (not this shopper's line), ItemUnavailable (no longer on sale: it can only
    be removed), LineLimitExceeded or NotEnoughStock; nothing changes then. The line takes today's
    price, since the shopper set the quantity looking at it. One transaction; locks the cart row.
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    with transaction.atomic():
        line = _locked_line(user=user, session=session, line_id=line_id)
        variant = selectors.purchasable_variant(variant_id=line.variant_id)
        _check_quantity(title=variant.product.title, quantity=quantity, available=_available(variant))
        line.quantity = quantity
        line.unit_price = variant.price
        line.save(update_fields=["quantity", "unit_price", "updated_at"])
        forget_cart_counts(cart_ids=[line.cart_id])
    return line


def remove_line(*, user: AbstractBaseUser | None, session: SessionBase, line_id: int) -> CartLine:
    """Remove a line from the shopper's cart and return it (unsaved). LineNotFound if not theirs.

    One transaction; locks the cart row.
    """
    with transaction.atomic():
        line = _locked_line(user=user, session=session, line_id=line_id)
        line.delete()
        forget_cart_counts(cart_ids=[line.cart_id])
    return line


@dataclass(frozen=True)
class CartNotice:
    """What `reconcile_cart` changed, to tell the shopper."""

    kind: str  # "price_changed", "quantity_reduced", "out_of_stock", "unavailable"
    message: str


def reconcile_cart(*, contents: CartContents) -> list[CartNotice]:
    """Bring the lines in `contents` in line with the catalog once the shopper is shown the cart.

    Decision: a line with fewer units left than its quantity is reduced to what is left (and to
    the per-line maximum); a line whose price changed remembers the new price; out-of-stock and
    no-longer-available lines are kept, excluded from the subtotal, for the shopper to remove (or
    to buy when stock returns). Returns one notice per change, and one per line that cannot be
    bought, for the page to say plainly. Each update is conditional on the line being as it was
    read, so a change made meanwhile in another tab wins. One transaction; writes only when
    something changed.
    """
    notices: list[CartNotice] = []
    limit = selectors.max_line_quantity()
    with transaction.atomic():
        for item in contents.items:
            changes = {}
            if item.status == LineStatus.UNAVAILABLE:
                notices.append(CartNotice("unavailable", item.warnings[0].message))
                continue
            if item.price_changed:
                changes["unit_price"] = item.unit_price
                notices.append(
                    CartNotice("price_changed", next(w.message for w in item.warnings if w.kind == "price_changed"))
                )
            if item.status == LineStatus.OUT:
                notices.append(CartNotice("out_of_stock", _("%(title)s is out of stock.") % {"title": item.title}))
            elif item.quantity > min(item.available, limit):
                reduced = min(item.available, limit)
                changes["quantity"] = reduced
                notices.append(
                    CartNotice(
                        "quantity_reduced",
                        _("Only %(available)d of %(title)s left: quantity reduced from %(was)d to %(now)d.")
                        % {"available": item.available, "title": item.title, "was": item.quantity, "now": reduced}
                        if reduced == item.available
                        else _("At most %(limit)d of one item: quantity of %(title)s reduced from %(was)d to %(now)d.")
                        % {"limit": limit, "title": item.title, "was": item.quantity, "now": reduced},
                    )
                )
            if changes:
                CartLine.objects.filter(
                    pk=item.line_id, quantity=item.quantity, unit_price=item.price_when_added
                ).update(**changes)
                if "quantity" in changes:
                    forget_cart_counts(cart_ids=[contents.cart_id])
    return notices


@dataclass
class MergeResult:
    cart: Cart | None = None
    moved: int = 0  # lines that came over from the guest cart
    capped: list[str] = field(default_factory=list)  # messages about quantities that were capped


def merge_guest_cart(*, guest_cart_id: int, user: AbstractBaseUser) -> MergeResult:
    """Fold the guest cart `guest_cart_id` into `user`'s cart when they sign in.

    A customer without a cart simply takes the guest cart over. Otherwise, for a variant in both,
    the quantities add up, capped by the units available and the per-line maximum, but never
    below what the customer's cart already had; the other lines move over as they are (an
    out-of-stock one too, so the cart page says so instead of it vanishing; `reconcile_cart`
    trims any line above the stock when the cart is next shown). The guest cart is then
    deleted. Does nothing if `guest_cart_id` is not a guest cart. One transaction; locks both
    cart rows in primary-key order.
    """
    limit = selectors.max_line_quantity()
    with transaction.atomic():
        carts = list(
            Cart.objects.select_for_update()
            .filter(Q(pk=guest_cart_id, user__isnull=True) | Q(user=user))
            .order_by("pk")
        )
        guest = next((c for c in carts if c.pk == guest_cart_id and c.user_id is None), None)
        own = next((c for c in carts if c.user_id == user.pk), None)
        # Lines move into the customer's cart, or the guest cart becomes theirs.
        forget_cart_counts(cart_ids=[guest_cart_id, own and own.pk], user_ids=[user.pk])
        if guest is None:
            return MergeResult(cart=own)
        if own is None:
            guest.user = user
            guest.save(update_fields=["user", "updated_at"])
            return MergeResult(cart=guest, moved=guest.lines.count())
        guest_lines = list(guest.lines.select_related("variant__product__gift_card"))
        own_lines = {line.variant_id: line for line in own.lines.all()}
        stock = stock_totals([line.variant_id for line in guest_lines]) if guest_lines else {}
        stock.update({line.variant_id: limit for line in guest_lines if is_digital(line.variant.product)})
        result = MergeResult(cart=own)
        for line in guest_lines:
            mine = own_lines.get(line.variant_id)
            if mine is None:
                line.cart = own
                line.save(update_fields=["cart", "updated_at"])
                result.moved += 1
                continue
            wanted = mine.quantity + line.quantity
            cap = min(max(stock.get(line.variant_id, 0), 0), limit)
            merged = max(min(wanted, cap), mine.quantity)
            if merged < wanted:
                result.capped.append(
                    _("%(title)s: you had %(wanted)d in your carts, %(merged)d are in your cart now.")
                    % {"title": line.variant.product.title, "wanted": wanted, "merged": merged}
                )
            if merged != mine.quantity:
                mine.quantity = merged
                mine.save(update_fields=["quantity", "updated_at"])
            result.moved += 1
        guest.delete()
        own.save(update_fields=["updated_at"])
    return result



def remove_ordered_lines(*, cart_id: int, line_ids: list[int]) -> int:
    """Take the lines an order was just placed for out of the cart; return how many went.

    Lines added meanwhile (another tab) stay. One DELETE; no lock needed, as nothing is read first.
    """
    deleted, _per_model = CartLine.objects.filter(cart_id=cart_id, pk__in=line_ids).delete()
    forget_cart_counts(cart_ids=[cart_id])
    return deleted
