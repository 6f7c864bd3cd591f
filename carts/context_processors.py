from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import selectors


def mini_cart(request: HttpRequest) -> dict:
    """The header's cart count, counted only if a page shows it (one query; none without a cart).

    A page that already knows the cart's contents passes its own `mini_cart` and this one is never
    evaluated.
    """
    if request.path.startswith("/admin/") or not hasattr(request, "session"):
        return {}
    return {"mini_cart": SimpleLazyObject(lambda: selectors.mini_cart(user=request.user, session=request.session))}
