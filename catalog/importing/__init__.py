"""CSV and Excel columns for products, variants and stock (django-import-export resources).

The resources map a file's columns to model fields and back. They never decide on their own
whether anything is written: `catalog.services.import_catalog_file` runs them inside one
transaction and rolls everything back if a single row is wrong. Stock rows are not saved here at
all; they are collected and handed to `services.set_stock_levels`, the one writer of stock.

Columns:
- products: slug (key), title, category (slug path such as ``clothing/jackets``), brand (name),
  status (``active``/``draft``), featured, description, seo_title, seo_description, attributes
  (``Material=Cotton; Fit=Slim``).
- variants: sku (key), product (slug), options (``Size=M; Colour=Navy``), price,
  compare_at_price, weight, barcode, position, active.
- stock: sku and location (code) together are the key, on_hand; reserved is exported for
  information and ignored on import (orders own it).
"""
from .base import CatalogResource
from .export import RESOURCES, ExportFile, export_catalog_file
from .files import CONTENT_TYPES, FileFormat, ImportKind, ParsedFile, UnreadableFile, read_file
from .products import ProductResource
from .stock import PendingStock, StockLevelResource
from .variants import VariantResource
from .widgets import category_paths

__all__ = [
    "CONTENT_TYPES",
    "RESOURCES",
    "CatalogResource",
    "ExportFile",
    "FileFormat",
    "ImportKind",
    "ParsedFile",
    "PendingStock",
    "ProductResource",
    "StockLevelResource",
    "UnreadableFile",
    "VariantResource",
    "category_paths",
    "export_catalog_file",
    "read_file",
]
