"""Writes for the shopper's wishlist: save a product, take it off again."""
from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from ..models import Customer, WishlistItem
from ..selectors.wishlist import wishlist_snapshot


class WishlistError(Exception):
    """A save the shopper cannot make; `message` says why in words they can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def add_to_wishlist(*, customer: Customer, product_id: int) -> tuple[WishlistItem, bool]:
    """Save `product_id` to the customer's wishlist; returns the item and whether it is new.

    Saving a product already there changes nothing: the price and stock it was saved at stay
    what "price dropped" and "back in stock" compare with. The price kept is the cheapest active
    variant's, as the product card shows it. Safe when two requests save the same product at once
    (the unique constraint decides; get_or_create reads the winner).

    Raises WishlistError for a product shoppers may not see or that has nothing for sale.
    """
    snapshot = wishlist_snapshot(product_id=product_id)
    if snapshot is None:
        raise WishlistError(_("Sorry, this product is not available."))
    with transaction.atomic():
        return WishlistItem.objects.get_or_create(
            customer=customer, product_id=product_id,
            defaults={"price_when_added": snapshot.price, "was_in_stock": snapshot.in_stock},
        )


def remove_wishlist_item(*, customer: Customer, item_id: int) -> WishlistItem:
    """Delete the customer's item `item_id`; returns it (unsaved, with its product loaded).

    Raises WishlistItem.DoesNotExist for an id that is not this customer's, so another customer's
    item cannot be told apart from a missing one.
    """
    item = WishlistItem.objects.select_related("product").get(pk=item_id, customer=customer)
    item.delete()
    return item


def remove_product_from_wishlist(*, customer: Customer, product_id: int) -> int:
    """Take `product_id` off the customer's wishlist (the product page's toggle); how many rows
    went: 0 when it was not there, which is not an error (a second click, another tab)."""
    deleted, _per_model = WishlistItem.objects.filter(customer=customer, product_id=product_id).delete()
    return deleted
