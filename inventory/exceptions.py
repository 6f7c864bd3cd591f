from django.utils.translation import gettext as _


class InventoryError(Exception):
    """A stock operation refused, with a message staff can act on; nothing was changed."""


class WrongDirection(InventoryError):
    def __init__(self, *, reason_label: str, sku: str, must_be: str) -> None:
        super().__init__(_("%(sku)s: a %(reason)s adjustment must be %(must_be)s; nothing was changed.")
                         % {"sku": sku, "reason": reason_label.lower(), "must_be": must_be})
