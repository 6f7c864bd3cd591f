"""Reading a CSV of tracking numbers into parcels to ship, with every problem named by its row.

The file (see docs/operations.md, "Shipping orders from a CSV file"):

    order,carrier,tracking_number,tracking_url,sku,quantity
    7KQ2-M4XD,DHL,00340434161094042557,,,
    8ABC-D9EF,UPS,1Z999AA10123456784,,JKT-M,1

A row without SKU ships everything left to ship on the order; rows with a SKU (and a quantity, or
all that is left of that SKU) make a partial parcel. Rows with the same order and tracking number
are one parcel. Reading only checks what the file says against the orders (one query for the
orders and their lines, one for the tracking numbers already recorded); whether each order may
ship is the fulfilment service's decision (`orders.services.bulk_shipping`).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Prefetch
from django.utils.translation import gettext as _

from .models import Order, OrderLine, Shipment

MAX_BYTES = 1024 * 1024  # 5,000 rows take about 300 kB; the preview posts the text back
MAX_ROWS = 5000

# Header names staff may use, after lower-casing and turning "_" and "-" into spaces.
ALIASES = {
    "order": {"order", "order number", "order no", "number"},
    "carrier": {"carrier"},
    "tracking_number": {"tracking number", "tracking", "tracking no"},
    "tracking_url": {"tracking url", "tracking link"},
    "sku": {"sku"},
    "quantity": {"quantity", "qty"},
}
REQUIRED = ("order", "carrier", "tracking_number")


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1; 0 for the file as a whole
    message: str

    def __str__(self) -> str:
        return _("Row %(row)d: %(message)s") % {"row": self.row, "message": self.message} if self.row else self.message


@dataclass
class Parcel:
    """One shipment to create: an order, its tracking, and which units (None: everything left)."""

    order_id: int
    number: str
    carrier: str
    tracking_number: str
    tracking_url: str
    rows: list[int]
    quantities: dict[int, int] | None = None  # order line id -> units
    skus: dict[int, str] = field(default_factory=dict)  # order line id -> SKU, for messages

    @property
    def first_row(self) -> int:
        return self.rows[0]


@dataclass
class ReadResult:
    parcels: list[Parcel]
    errors: list[RowError]
    orders: dict[str, Order]  # number -> order, for every order the file names


def normalize_number(raw: str) -> str:
    """"7kq2m4xd", " 7KQ2-M4XD " -> "7KQ2-M4XD" (as the order list's search reads numbers)."""
    number = raw.strip().upper().replace(" ", "")
    if len(number) == 8 and "-" not in number:
        number = f"{number[:4]}-{number[4:]}"
    return number


def decode(content: bytes) -> str:
    """The file's text: UTF-8 (with or without Excel's byte order mark), else Windows-1252."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # A spreadsheet's "CSV" export in a Western locale; order numbers and tracking numbers
        # are ASCII, so this only matters for carrier names.
        return content.decode("cp1252", errors="replace")


def _columns(header: list[str]) -> tuple[dict[str, int], list[RowError]]:
    columns: dict[str, int] = {}
    errors = []
    for index, name in enumerate(header):
        key = " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
        if not key:
            continue
        column = next((column for column, names in ALIASES.items() if key in names), None)
        if column is None:
            errors.append(RowError(1, _("unknown column “%(name)s”. The columns are: %(columns)s.")
                                   % {"name": name.strip(), "columns": ", ".join(ALIASES)}))
        elif column in columns:
            errors.append(RowError(1, _("the column “%(name)s” appears twice.") % {"name": name.strip()}))
        else:
            columns[column] = index
    missing = [column for column in REQUIRED if column not in columns]
    if missing:
        errors.append(RowError(1, _("the file needs the columns %(columns)s (missing: %(missing)s).")
                               % {"columns": ", ".join(REQUIRED), "missing": ", ".join(missing)}))
    return columns, errors


def read_shipments(content: bytes, *, within: set[int] | None = None) -> ReadResult:
    """Parse and check a tracking-number CSV; nothing is written.

    `within`: order ids the file may name (the orders selected in the list), or None for any.
    Returns the parcels of the rows that are right and an error per row that is not; a parcel
    is left out if any of its rows has an error.
    """
    if len(content) > MAX_BYTES:
        return ReadResult([], [RowError(0, _("The file is larger than 1 MB; split it."))], {})
    text = decode(content)
    if not text.strip():
        return ReadResult([], [RowError(0, _("The file is empty."))], {})
    first_line = text.splitlines()[0]
    # Spreadsheets in many European locales write ";" between cells.
    delimiter = max(",;\t", key=first_line.count)
    table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    columns, errors = _columns(table[0])
    if errors:
        return ReadResult([], errors, {})
    body = [(index, row) for index, row in enumerate(table[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        return ReadResult([], [RowError(0, _("The file has a header but no rows."))], {})
    if len(body) > MAX_ROWS:
        too_long = _("The file has more than %(max)d rows; split it.") % {"max": MAX_ROWS}
        return ReadResult([], [RowError(0, too_long)], {})

    def cell(row: list[str], column: str) -> str:
        index = columns.get(column)
        return row[index].strip() if index is not None and index < len(row) else ""

    numbers = {normalize_number(cell(row, "order")) for _index, row in body} - {""}
    orders = {
        order.number: order
        for order in Order.objects.filter(number__in=numbers).prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
    }
    recorded = set(
        Shipment.objects.filter(order__number__in=numbers).exclude(tracking_number="")
        .values_list("order__number", "tracking_number")
    )
    url_validator = URLValidator(schemes=["http", "https"])

    parcels: dict[tuple[str, str], Parcel] = {}
    bad_parcels: set[tuple[str, str]] = set()
    seen: dict[tuple[str, str, str], int] = {}
    for index, row in body:
        problems: list[str] = []
        number = normalize_number(cell(row, "order"))
        carrier, tracking = cell(row, "carrier"), cell(row, "tracking_number")
        tracking_url, sku, quantity_text = cell(row, "tracking_url"), cell(row, "sku"), cell(row, "quantity")
        order = orders.get(number)
        key = (number, tracking)
        if not number:
            problems.append(_("the order number is empty."))
        elif order is None:
            problems.append(_("no order has the number “%(number)s”.") % {"number": number})
        elif within is not None and order.pk not in within:
            problems.append(_("order %(number)s is not one of the orders you selected.") % {"number": number})
        if not carrier:
            problems.append(_("the carrier is empty."))
        elif len(carrier) > 80:
            problems.append(_("the carrier is longer than 80 characters."))
        if not tracking:
            problems.append(_("the tracking number is empty."))
        elif len(tracking) > 80:
            problems.append(_("the tracking number is longer than 80 characters."))
        elif (number, tracking) in recorded:
            problems.append(_("order %(number)s already has a shipment with tracking number %(tracking)s "
                              "(was this file applied before?).") % {"number": number, "tracking": tracking})
        if tracking_url:
            try:
                url_validator(tracking_url)
            except ValidationError:
                problems.append(_("the tracking link “%(url)s” is not a web address.") % {"url": tracking_url})
            if len(tracking_url) > 200:
                problems.append(_("the tracking link is longer than 200 characters."))
        quantity = None
        if quantity_text:
            if not sku:
                problems.append(_("a quantity needs a SKU: leave both empty to ship the whole order."))
            elif not quantity_text.isdigit() or int(quantity_text) == 0:
                problems.append(_("the quantity “%(value)s” is not a whole number above 0.") % {"value": quantity_text})
            else:
                quantity = int(quantity_text)
        line = None
        if sku and order is not None:
            matches = [line for line in order.lines.all() if line.sku.lower() == sku.lower()]
            if not matches:
                problems.append(_("order %(number)s has no item with SKU %(sku)s.") % {"number": number, "sku": sku})
            elif len(matches) > 1:
                problems.append(_("order %(number)s has SKU %(sku)s on several lines; ship it from the order page.")
                                % {"number": number, "sku": sku})
            else:
                line = matches[0]
                left = line.quantity - line.quantity_fulfilled
                if not left:
                    problems.append(_("every unit of %(sku)s in order %(number)s has shipped already.")
                                    % {"sku": line.sku, "number": number})
                elif quantity is not None and quantity > left:
                    problems.append(_("order %(number)s has %(left)d of %(sku)s left to ship, not %(wanted)d.")
                                    % {"number": number, "left": left, "sku": line.sku, "wanted": quantity})
        repeat = seen.setdefault((number, tracking, sku.lower()), index)
        if repeat != index:
            problems.append(_("it repeats row %(row)d (same order, tracking number and SKU).") % {"row": repeat})
        parcel = parcels.get(key)
        if parcel is not None and not problems:
            if parcel.carrier != carrier or parcel.tracking_url != tracking_url:
                problems.append(_("row %(row)d gives the same parcel (order and tracking number) another carrier "
                                  "or tracking link.") % {"row": parcel.first_row})
            elif parcel.quantities is None and sku:
                problems.append(_("row %(row)d already puts the whole order %(number)s in this parcel (no SKU); "
                                  "a parcel's rows give a SKU on every row or on none.")
                                % {"row": parcel.first_row, "number": number})
            elif parcel.quantities is not None and not sku:
                problems.append(_("row %(row)d puts only some items of order %(number)s in this parcel; give "
                                  "this row a SKU too (a parcel's rows give a SKU on every row or on none).")
                                % {"row": parcel.first_row, "number": number})
        if problems:
            errors.append(RowError(index, " ".join(problems)))
            bad_parcels.add(key)
            continue
        if parcel is None:
            parcel = parcels[key] = Parcel(
                order_id=order.pk, number=number, carrier=carrier, tracking_number=tracking,
                tracking_url=tracking_url, rows=[], quantities={} if sku else None,
            )
        parcel.rows.append(index)
        if line is not None:
            parcel.quantities[line.pk] = quantity if quantity is not None else line.quantity - line.quantity_fulfilled
            parcel.skus[line.pk] = line.sku
    return ReadResult(
        parcels=[parcel for key, parcel in parcels.items() if key not in bad_parcels],
        errors=errors,
        orders=orders,
    )
