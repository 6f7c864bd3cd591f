from django.utils.translation import gettext as _


class OrderError(Exception):
    """Base for order rules a caller can turn into a message for the shopper or staff."""


class IllegalTransition(OrderError):
    def __init__(self, *, number: str, from_status: str, to_status: str) -> None:
        self.from_status, self.to_status = from_status, to_status
        super().__init__(
            _("Order %(number)s cannot go from %(from)s to %(to)s.") % {"number": number, "from": from_status, "to": to_status}
        )
