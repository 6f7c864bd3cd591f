"""Text for CSV files staff open in a spreadsheet.

Excel and LibreOffice run a cell that starts with = + - @ (or a tab or carriage return) as a
formula: a customer named "=HYPERLINK(...)" would run when staff open the file. Such text is
prefixed with an apostrophe (OWASP's advice), which spreadsheets show but do not run. Amounts are
written by the exports themselves as plain decimals and never pass through here.
"""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value) -> str:
    """`value` as text ("" for None), made inert for spreadsheets if it would start a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
