"""The back office for the catalog.

Anything more than saving one form goes through `catalog.services`: bulk actions, price changes,
stock quantities and file imports. `reserved` stock is read-only everywhere (orders own it).
The product list stays fast on a large catalog: related rows are joined, price, stock and the
thumbnail come from subqueries, filters use EXISTS, and nothing is queried per row.
"""
# Importing the modules registers their admins with the default site.
from . import products, stock, taxonomy  # noqa: F401
