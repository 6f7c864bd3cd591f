from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (cache invalidation receivers)
        from . import search  # noqa: F401  (SQL function the SQLite search triggers call; index repair)
        from . import listing_index  # noqa: F401  (listing index invalidation receivers)
