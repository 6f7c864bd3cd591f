from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CartsConfig(AppConfig):
    name = "carts"
    verbose_name = _("Carts")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (merges a guest's cart into the customer's on sign-in)
