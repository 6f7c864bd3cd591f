from django.conf import settings
from django.http import HttpRequest

from .selectors import category_tree


def storefront(request: HttpRequest) -> dict:
    """The header's category menu and the store's name, on every page (the tree is cached)."""
    if request.path.startswith("/admin/"):
        return {}
    return {"store_name": settings.STORE_NAME, "nav_categories": category_tree().roots}
