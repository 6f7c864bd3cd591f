class PromotionError(Exception):
    """A promotion problem the shopper can act on; `str()` is the message to show."""


class PromotionUnavailable(PromotionError):
    """A limit was reached between the review and "Place order": the order was not placed."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(reason)


class CodeNotFound(PromotionError):
    pass
