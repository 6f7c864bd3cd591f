"""The CRM back office: customers (list, page, notes, tags) and segments; staff's authenticator apps."""
from . import authenticators, customers, segments  # noqa: F401  (registers the admin classes)
