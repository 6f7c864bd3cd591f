from django.utils.translation import gettext as _


class PickupError(Exception):
    """A click-and-collect step refused, with a message staff can act on; nothing was changed."""


class WrongCode(PickupError):
    def __init__(self, *, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        super().__init__(
            _("That is not this order's pick-up code; nothing was handed over. %(left)d attempt(s) left.")
            % {"left": attempts_left}
        )


class TooManyAttempts(PickupError):
    def __init__(self) -> None:
        super().__init__(_("Too many wrong pick-up codes for this order: handing over for a code is locked "
                           "and nothing was changed. Send the shopper a new code, or hand it over without the "
                           "code giving the reason."))
