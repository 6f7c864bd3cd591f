"""What an import or export file holds and how an upload is read into rows of text cells."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import tablib
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.formats import base_formats


class ImportKind(models.TextChoices):
    PRODUCTS = "products", gettext_lazy("Products")
    VARIANTS = "variants", gettext_lazy("Variants")
    STOCK = "stock", gettext_lazy("Stock levels")


class FileFormat(models.TextChoices):
    CSV = "csv", gettext_lazy("CSV (UTF-8)")
    XLSX = "xlsx", gettext_lazy("Excel workbook (.xlsx)")


CONTENT_TYPES = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class UnreadableFile(ValueError):
    """The upload is not a CSV or workbook we can read; the message says what to do."""


@dataclass
class ParsedFile:
    dataset: tablib.Dataset
    # lines[i] is the line (CSV) or sheet row (Excel) where data row i starts, for error reports.
    lines: list[int]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Spreadsheets store 25 as 25.0 and 19.99 as a binary float; write what the cell shows.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def read_file(*, content: bytes, file_format: str) -> ParsedFile:
    """Read an upload into a dataset of text cells with lowercase headers, dropping blank rows."""
    if file_format == FileFormat.CSV:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UnreadableFile(_("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."))
        first_line = text.split("\n", 1)[0]
        # Spreadsheets in many locales save CSV with semicolons or tabs between the columns.
        delimiter = max([",", ";", "\t"], key=first_line.count)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows, lines, next_line = [], [], 1
        try:
            for record in reader:
                rows.append(record)
                lines.append(next_line)
                next_line = reader.line_num + 1
        except csv.Error as error:
            raise UnreadableFile(_("Line %(line)d could not be read: %(error)s") % {"line": next_line, "error": error})
    elif file_format == FileFormat.XLSX:
        try:
            sheet = base_formats.XLSX().create_dataset(content)
        except Exception:  # openpyxl raises many kinds of errors on a file that is not a workbook
            raise UnreadableFile(_("The file is not an Excel workbook (.xlsx)."))
        rows = [list(sheet.headers or [])] + [list(row) for row in sheet]
        lines = list(range(1, len(rows) + 1))
    else:
        raise UnreadableFile(_("Unknown file format “%(format)s”.") % {"format": file_format})

    if not rows or not any(_cell_text(cell) for cell in rows[0]):
        raise UnreadableFile(_("The file is empty: the first line should name the columns."))
    headers = [_cell_text(cell).lower() for cell in rows[0]]
    dataset = tablib.Dataset(headers=headers)
    data_lines = []
    for row, line in zip(rows[1:], lines[1:]):
        cells = [_cell_text(cell) for cell in row][: len(headers)]
        cells += [""] * (len(headers) - len(cells))
        if any(cells):
            dataset.append(cells)
            data_lines.append(line)
    return ParsedFile(dataset=dataset, lines=data_lines)
