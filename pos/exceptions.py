class SaleError(Exception):
    """A counter action refused with a message staff can act on; nothing was written."""


class RegisterClosed(SaleError):
    pass


class RegisterAlreadyOpen(SaleError):
    pass
