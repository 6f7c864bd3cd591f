from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The project package as an app only so Django loads its system checks and template tags;
    it holds no models and no business rules."""

    name = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deploy checks)
