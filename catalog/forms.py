"""Forms that turn a storefront query string into validated filters."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .selectors import SORTS, ListingFilters

SORT_LABELS = {
    "relevance": gettext_lazy("Relevance"),
    "price_asc": gettext_lazy("Price: low to high"),
    "price_desc": gettext_lazy("Price: high to low"),
    "newest": gettext_lazy("Newest"),
    "best_selling": gettext_lazy("Best-selling"),
}
MAX_VALUES_PER_FACET = 50
MAX_PRICE = Decimal("9999999999.99")


def _price(raw: str | None, label: str, errors: list[str]) -> Decimal | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        errors.append(_("The %(label)s price “%(value)s” is not a number, so it was ignored.") % {
            "label": label, "value": raw[:20]})
        return None
    if not value.is_finite() or value < 0 or value > MAX_PRICE:
        errors.append(_("The %(label)s price must be a positive amount, so it was ignored.") % {"label": label})
        return None
    return value


def parse_listing_filters(params: QueryDict) -> tuple[ListingFilters, list[str]]:
    """Read filters from a query string. Bad values are dropped, each with a message to show.

    Facet parameters are `brand=<slug>`, `o_<option>=<value>`, `a_<attribute>=<value>`, each
    repeatable; `price_min`, `price_max`, `in_stock=1` and `sort` complete them.
    """
    errors: list[str] = []
    price_min = _price(params.get("price_min"), _("minimum"), errors)
    price_max = _price(params.get("price_max"), _("maximum"), errors)
    if price_min is not None and price_max is not None and price_min > price_max:
        price_min, price_max = price_max, price_min
    sort = params.get("sort") or "relevance"
    if sort not in SORTS:
        errors.append(_("Unknown sort order, so the default was used."))
        sort = "relevance"
    options: dict[str, list[str]] = {}
    attributes: dict[str, list[str]] = {}
    slug_field = forms.SlugField()
    unreadable = False
    for key in params:
        if key.startswith(("o_", "a_")) and len(key) > 2:
            sent = [v for v in params.getlist(key) if v]
            values = [v for v in sent if _is_slug(slug_field, v)]
            # A key that is no slug can name no option; filtering by it would empty the page.
            if len(values) < len(sent) or not _is_slug(slug_field, key[2:]):
                unreadable = True
            if values and _is_slug(slug_field, key[2:]):
                target = options if key.startswith("o_") else attributes
                target[key[2:]] = values[:MAX_VALUES_PER_FACET]
    sent_brands = [v for v in params.getlist("brand") if v]
    brands = [v for v in sent_brands if _is_slug(slug_field, v)]
    unreadable = unreadable or len(brands) < len(sent_brands)
    brands = brands[:MAX_VALUES_PER_FACET]
    if unreadable:
        errors.append(_("Some filter values could not be read, so they were ignored."))
    filters = ListingFilters(
        price_min=price_min, price_max=price_max, brands=brands, options=options, attributes=attributes,
        in_stock=params.get("in_stock") in ("1", "on", "true"), sort=sort,
    )
    return filters, errors


def _is_slug(field: forms.SlugField, value: str) -> bool:
    try:
        field.clean(value)
    except forms.ValidationError:
        return False
    return len(value) <= 120


def search_query(params: QueryDict) -> str:
    """The search text, trimmed to a sane length whatever was sent (a 10,000-character query is
    cut, not refused)."""
    return " ".join((params.get("q") or "")[:200].split())
