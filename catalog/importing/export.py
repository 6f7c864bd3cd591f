"""The resource for each kind of file, and the export of a whole kind as one file."""
from __future__ import annotations

from dataclasses import dataclass

from import_export.formats import base_formats

from .base import CatalogResource
from .files import CONTENT_TYPES, FileFormat, ImportKind
from .products import ProductResource
from .stock import StockLevelResource
from .variants import VariantResource


RESOURCES: dict[str, type[CatalogResource]] = {
    ImportKind.PRODUCTS: ProductResource,
    ImportKind.VARIANTS: VariantResource,
    ImportKind.STOCK: StockLevelResource,
}


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes


def export_catalog_file(*, kind: str, file_format: str) -> ExportFile:
    """The whole catalog of one kind as a file the import reads back unchanged.

    Queries grow with the number of rows only by one query (plus prefetches) per 2,000 rows.
    """
    resource = RESOURCES[kind]()
    dataset = resource.export(queryset=resource.export_queryset())
    if file_format == FileFormat.XLSX:
        content = base_formats.XLSX().export_data(dataset)
    else:
        # The byte-order mark makes Excel open the file as UTF-8 rather than a local code page.
        content = "\ufeff".encode() + base_formats.CSV().export_data(dataset).encode("utf-8")
    return ExportFile(filename=f"{kind}.{file_format}", content_type=CONTENT_TYPES[file_format], content=content)
