class ReturnError(Exception):
    """A return step that cannot happen; the message says why in words the person can act on.
    Raised before anything is written (or inside the transaction, which then rolls back)."""
