"""Reading a stock count file (CSV: `sku`, `counted`) into a preview of the differences.

Nothing here writes: the preview is shown, and staff confirm it (`services.apply_stock_count`,
which refuses if stock moved since the preview). Every problem is named by its line; a file
with any problem cannot be confirmed.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from catalog.models import Location, StockLevel, Variant

MAX_ROWS = 10_000


@dataclass
class CountRow:
    line: int
    variant_id: int
    sku: str
    title: str
    on_hand: int
    reserved: int
    counted: int

    @property
    def difference(self) -> int:
        return self.counted - self.on_hand


@dataclass
class CountPreview:
    location: Location
    rows: list[CountRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[CountRow]:
        return [row for row in self.rows if row.difference]

    @property
    def counted(self) -> dict[int, int]:
        return {row.variant_id: row.counted for row in self.rows}

    @property
    def expected(self) -> dict[int, int]:
        return {row.variant_id: row.on_hand for row in self.rows}


def read_stock_count(*, location: Location, content: bytes) -> CountPreview:
    """Parse a count file for `location` and compare it with what is on hand now (3 queries)."""
    preview = CountPreview(location=location)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        preview.errors.append(_("The file is not UTF-8 text: save it from your spreadsheet as “CSV UTF-8”."))
        return preview
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    if "sku" not in header or "counted" not in header:
        preview.errors.append(_("The first line must name the columns “sku” and “counted”."))
        return preview
    sku_at, counted_at = header.index("sku"), header.index("counted")
    raw: list[tuple[int, str, str]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(raw) == MAX_ROWS:
            preview.errors.append(_("The file has more than %(max)d rows: split it.") % {"max": MAX_ROWS})
            return preview
        cell = lambda at: cells[at].strip() if at < len(cells) else ""  # noqa: E731
        raw.append((number, cell(sku_at), cell(counted_at)))
    if not raw:
        preview.errors.append(_("The file has no rows to count."))
        return preview

    variants = {
        sku: (pk, title) for pk, sku, title in
        Variant.objects.filter(sku__in={sku for _n, sku, _c in raw}).values_list("pk", "sku", "product__title")
    }
    levels = {
        variant_id: (on_hand, reserved) for variant_id, on_hand, reserved in
        StockLevel.objects.filter(location=location, variant_id__in=[pk for pk, _t in variants.values()])
        .values_list("variant_id", "on_hand", "reserved")
    }
    seen: dict[str, int] = {}
    for number, sku, counted_text in raw:
        if not sku:
            preview.errors.append(_("Line %(line)d: the SKU is empty.") % {"line": number})
            continue
        if sku in seen:
            preview.errors.append(_("Line %(line)d: %(sku)s was already counted on line %(first)d.")
                                  % {"line": number, "sku": sku, "first": seen[sku]})
            continue
        seen[sku] = number
        if sku not in variants:
            preview.errors.append(_("Line %(line)d: no variant has the SKU “%(sku)s”.") % {"line": number, "sku": sku})
            continue
        try:
            counted = int(counted_text)
        except ValueError:
            preview.errors.append(_("Line %(line)d: counted “%(value)s” is not a whole number.")
                                  % {"line": number, "value": counted_text})
            continue
        if counted < 0:
            preview.errors.append(_("Line %(line)d: counted cannot be below 0.") % {"line": number})
            continue
        variant_id, title = variants[sku]
        on_hand, reserved = levels.get(variant_id, (0, 0))
        if counted < reserved:
            preview.errors.append(_(
                "Line %(line)d: %(sku)s counted %(counted)d, but %(reserved)d units here are reserved for orders; "
                "move those orders' allocations first."
            ) % {"line": number, "sku": sku, "counted": counted, "reserved": reserved})
            continue
        preview.rows.append(CountRow(line=number, variant_id=variant_id, sku=sku, title=title, on_hand=on_hand,
                                     reserved=reserved, counted=counted))
    return preview
