class DraftError(Exception):
    """A draft that cannot be placed as it is, with a message staff can act on; nothing was changed."""
