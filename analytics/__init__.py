"""Storefront events and the back office's figures.

`record(request, name, **properties)` is the one way a page or service notes that something
happened; it appends to a buffer in the shared cache and never touches the database (see
`recorder.py`). Importing this package loads no models, so any app may import it at module level.
"""
from .recorder import note_search_results, record, record_on_commit

__all__ = ["note_search_results", "record", "record_on_commit"]
