"""Sign-in hook: a guest's cart joins the customer's cart.

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
from django.dispatch import receiver
from django.utils.translation import gettext as _

from . import services
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
