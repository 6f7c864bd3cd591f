"""Sign-in hook: a guest's cart joins the customer's cart; a deleted variant's carts recount.

A signal rather than a call in a view because the sign-in views are Django's own (admin login
today, the accounts app's later), and every one of them goes through `django.contrib.auth.login`,
which sends `user_logged_in`. The receiver only reads the request and calls the service; the rules
live in `services.merge_guest_cart`.

`login` rotates the session key with `cycle_key()`, which keeps the session's data, so the guest
cart id is still in the session here. (When a *different* customer was signed in, `login` flushes
the session instead; then there is no guest cart to merge, which is right.)
"""
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils.translation import gettext as _

from catalog.models import Variant

from . import services
from .cache import forget_cart_counts
from .models import CartLine
from .selectors import CART_SESSION_KEY, guest_cart_id


@receiver(user_logged_in, dispatch_uid="carts-merge-guest-cart")
def merge_guest_cart_on_login(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    cart_id = guest_cart_id(session)
    session.pop(CART_SESSION_KEY, None)
    if cart_id is None:
        return
    result = services.merge_guest_cart(guest_cart_id=cart_id, user=user)
    # fail_silently: logins made outside a request cycle (the test client, scripts) have no
    # message storage.
    for text in result.capped:
        messages.warning(request, text, fail_silently=True)
    if result.moved and not result.capped:
        messages.info(request, _("The items you added before signing in are in your cart."), fail_silently=True)


@receiver(pre_delete, sender=Variant, dispatch_uid="carts-forget-counts-of-deleted-variant")
def forget_counts_of_carts_holding(sender, instance: Variant, **kwargs) -> None:
    """A variant staff delete leaves every cart (cascade): those carts' cached counts go too.

    Cache invalidation only; one query, on the rare delete of a variant.
    """
    cart_ids = set(CartLine.objects.filter(variant=instance).values_list("cart_id", flat=True))
    forget_cart_counts(cart_ids=cart_ids)
