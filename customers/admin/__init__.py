"""The CRM back office: customers (list, page, notes, tags) and segments."""
from . import customers, segments  # noqa: F401  (registers the admin classes)
