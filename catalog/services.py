"""Writes to the catalog: bulk product changes, prices, stock and file imports.

Each function is the one entry point for its use case; the admin, management commands and tests
all call these. Writes that bypass model signals (QuerySet.update(), bulk_create/bulk_update)
bump the storefront versions of what they change after commit themselves (catalog/invalidation.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import ledger
from inventory.ledger import Cause
from inventory.models import Reason
from shop.db import analyze
from shop.money import quantize

from . import importing, invalidation, listing_index, versions
from .listing_index import invalidate_categories
from .exceptions import (
    CatalogError,
    NegativePrice,
    PriceTooLarge,
    StockBelowReserved,
    StockChangedMeanwhile,
    StockStillReserved,
)
from .models import Category, Location, Product, StockLevel, Variant

# A DecimalField(max_digits=12, decimal_places=2) holds values below 10**10.
_PRICE_LIMIT = Decimal(10) ** 10


def _selected(products: QuerySet[Product]) -> QuerySet[Product]:
    # The caller's queryset may carry annotations, ordering or joins (an admin changelist does);
    # an UPDATE wants a plain "pk IN (subquery)".
    return Product.objects.filter(pk__in=products.order_by().values("pk"))


# --- Bulk product changes -----------------------------------------------------------------------


@transaction.atomic
def publish_products(*, products: QuerySet[Product]) -> int:
    """Make the draft products among `products` active; return how many changed.

    A product without an active variant has no price to show, so it stays a draft. One UPDATE in
    a transaction; bumps on commit what shows those products (their pages, cards, category
    listings, the assortment).
    """
    has_variant = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
    invalidate_categories()  # staff's bulk change: rare, so every category
    changing = _selected(products).filter(Exists(has_variant)).exclude(status=Product.Status.ACTIVE)
    ids = invalidation.products_joined_or_left(changing)
    return changing.filter(pk__in=ids).update(status=Product.Status.ACTIVE, updated_at=timezone.now())


@transaction.atomic
def unpublish_products(*, products: QuerySet[Product]) -> int:
    """Turn the active products among `products` back into drafts; return how many changed.

    One UPDATE in a transaction; bumps on commit what showed those products.
    """
    invalidate_categories()  # staff's bulk change: rare, so every category
    changing = _selected(products).exclude(status=Product.Status.DRAFT)
    ids = invalidation.products_joined_or_left(changing)
    return changing.filter(pk__in=ids).update(status=Product.Status.DRAFT, updated_at=timezone.now())


@transaction.atomic
def move_products_to_category(*, products: QuerySet[Product], category: Category) -> int:
    """Put `products` in `category`; return how many moved.

    One UPDATE in a transaction; bumps on commit the products' pages and cards and the listings of
    the categories they leave and join.
    """
    invalidate_categories()  # staff's bulk change: rare, so every category
    changing = _selected(products).exclude(category=category)
    ids = invalidation.products_joined_or_left(changing, also_category=category.pk)
    return changing.filter(pk__in=ids).update(category=category, updated_at=timezone.now())


@transaction.atomic
def change_prices_by_percentage(*, products: QuerySet[Product], percentage: Decimal) -> int:
    """Change the price of every variant of `products` by `percentage` (-10 lowers by 10%).

    Each new price is rounded to the currency's minor unit with `shop.money.quantize`.
    Compare-at prices are left alone. Runs in one transaction and locks the variant rows
    (select_for_update, in primary-key order) so an edit made meanwhile is not overwritten.
    Raises NegativePrice or PriceTooLarge, changing nothing, if any new price would be below zero
    or too large to store. Bumps on commit the pages, cards and category listings of the products
    whose prices changed. Returns how many variants' prices changed.
    """
    factor = (Decimal(100) + Decimal(percentage)) / Decimal(100)
    variants = list(
        Variant.objects.select_for_update()
        .filter(product__in=_selected(products))
        .order_by("pk")
        .only("pk", "price", "product_id")
    )
    now = timezone.now()
    changed, negative, too_large = [], 0, 0
    for variant in variants:
        new_price = quantize(variant.price * factor)
        if new_price < 0:
            negative += 1
        elif new_price >= _PRICE_LIMIT:
            too_large += 1
        elif new_price != variant.price:
            variant.price = new_price
            variant.updated_at = now
            changed.append(variant)
    if negative:
        raise NegativePrice(percentage=percentage, count=negative)
    if too_large:
        raise PriceTooLarge(percentage=percentage, count=too_large)
    Variant.objects.bulk_update(changed, ["price", "updated_at"], batch_size=500)
    invalidate_categories()  # staff's bulk change: rare, so every category
    invalidation.products_changed({variant.product_id for variant in changed})
    return len(changed)


# --- Stock --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockChange:
    """Set `on_hand` for a variant at a location, or remove that stock row (`remove=True`).

    `expected_on_hand`, when given, is the figure the person saw before typing (a missing row
    counts as 0): if the locked row holds another, the whole call is refused, so a count typed on
    an old screen never overwrites a shipment, a return or another edit made since.
    """

    variant_id: int
    location_id: int
    on_hand: int = 0
    remove: bool = False
    expected_on_hand: int | None = None


def set_stock_levels(*, changes: Sequence[StockChange], cause: Cause | None = None) -> int:
    """Set how many units variants hold at locations, creating or removing stock rows.

    The one writer of on-hand quantities (orders own `reserved`). Runs in one transaction and
    first locks every existing stock row of the affected variants with select_for_update(),
    ordered by primary key: every stock writer locks in pk order, so two of them can never
    deadlock. Under the lock it checks that on hand never drops below the units reserved for
    orders, that no row holding reserved units is removed, and that rows still hold the
    `expected_on_hand` of changes that give one; otherwise it raises StockBelowReserved,
    StockStillReserved or StockChangedMeanwhile and writes nothing. A negative quantity raises
    ValueError. When several changes name the same variant and location, the last one wins.
    Each difference is written to the stock ledger in the same transaction, as `cause` (default:
    set by staff, nobody named).
    Bumps on commit the pages of the products whose stock changed, and the cards and listings of
    those that sold out or came back, as decided under the listing index lock (after the stock
    rows, as sales take them), which also keeps the index's in-stock bits. Returns how many rows
    were created, changed or removed.
    """
    latest = {(change.variant_id, change.location_id): change for change in changes}
    if not latest:
        return 0
    for change in latest.values():
        if not change.remove and change.on_hand < 0:
            raise ValueError("on_hand must not be negative")
    with transaction.atomic():
        variant_ids = sorted({variant_id for variant_id, _location_id in latest})
        # One query, so the whole set is locked in a single pk order (not chunk by chunk).
        existing = {
            (level.variant_id, level.location_id): level
            for level in StockLevel.objects.select_for_update().filter(variant_id__in=variant_ids).order_by("pk")
        }
        now = timezone.now()
        to_create, to_update, to_delete, moved = [], [], [], []
        for key, change in latest.items():
            level = existing.get(key)
            current = level.on_hand if level else 0
            if change.expected_on_hand is not None and current != change.expected_on_hand:
                raise StockChangedMeanwhile(**_describe(key), expected=change.expected_on_hand, current=current)
            if change.remove:
                if level is None:
                    continue
                if level.reserved:
                    raise StockStillReserved(**_describe(key), reserved=level.reserved)
                to_delete.append(level.pk)
                moved.append((*key, -level.on_hand))
            elif level is None:
                to_create.append(StockLevel(variant_id=key[0], location_id=key[1], on_hand=change.on_hand))
                moved.append((*key, change.on_hand))
            elif level.on_hand != change.on_hand:
                if change.on_hand < level.reserved:
                    raise StockBelowReserved(**_describe(key), on_hand=change.on_hand, reserved=level.reserved)
                moved.append((*key, change.on_hand - level.on_hand))
                level.on_hand = change.on_hand
                level.updated_at = now
                to_update.append(level)
        StockLevel.objects.bulk_create(to_create, batch_size=500)
        StockLevel.objects.bulk_update(to_update, ["on_hand", "updated_at"], batch_size=500)
        if to_delete:
            StockLevel.objects.filter(pk__in=to_delete).delete()
        ledger.record(cause=cause or Cause(reason=Reason.SET), changes=moved)
        count = len(to_create) + len(to_update) + len(to_delete)
        if count:
            # Sold out or back: decided as a sale decides it, under the listing index lock, from the
            # stock read after it (`listing_index.stock_flipped`). Reading it before and after the
            # write without that lock missed a sale of the product's other variant committed in
            # between: neither bumped the card, which kept showing the product sold out.
            products = dict(
                Product.objects.filter(variants__pk__in=variant_ids).values_list("pk", "category_id").distinct()
            )
            versions.bump_on_commit(versions.product_key(pk) for pk in products)
            invalidation.stock_availability_changed(listing_index.stock_flipped(products))
        return count


def _describe(key: tuple[int, int]) -> dict:
    variant_id, location_id = key
    sku = Variant.objects.filter(pk=variant_id).values_list("sku", flat=True).first() or str(variant_id)
    location = Location.objects.filter(pk=location_id).values_list("name", flat=True).first() or str(location_id)
    return {"variant_id": variant_id, "location_id": location_id, "sku": sku, "location": location}


# --- Import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """What is wrong with one line of an import file (line None: the file as a whole)."""

    line: int | None
    messages: tuple[str, ...]

    def __str__(self) -> str:
        text = " ".join(self.messages)
        if self.line is None:
            return text
        return _("Line %(line)d: %(messages)s") % {"line": self.line, "messages": text}


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Rollback(Exception):
    pass


def import_catalog_file(*, kind: str, file: IO[bytes] | bytes, file_format: str) -> ImportReport:
    """Create or update products, variants or stock levels from a CSV or Excel file.

    All or nothing: everything runs in one transaction, and if any row is wrong (or the file is
    unreadable) the transaction is rolled back and the report lists every bad row with its line
    number and reasons. Rows are matched to existing data by key (products by slug, variants by
    SKU, stock by SKU and location code), so importing the same file twice updates rather than
    duplicates. Option and attribute values named in a file are created as needed, inside the
    transaction. Stock goes through `set_stock_levels` (row locks, reserved units respected).
    Saved rows bump the storefront versions on commit through the model signals. After a load
    that wrote rows, the planner statistics of the tables it filled are refreshed
    (`shop.db.analyze`), so the storefront's queries are not planned for the tables as they were.
    """
    report = ImportReport(kind=kind)
    content = file if isinstance(file, bytes) else file.read()
    try:
        parsed = importing.read_file(content=content, file_format=file_format)
    except importing.UnreadableFile as error:
        report.errors.append(RowError(line=None, messages=(str(error),)))
        return report
    resource = importing.RESOURCES[kind]()
    report.rows = len(parsed.dataset)

    errors = _check_columns(resource, parsed)
    if errors:
        report.errors = _merge_by_line(errors)
        return report
    errors += _check_duplicates(resource, parsed)

    try:
        with transaction.atomic():
            result = resource.import_data(
                parsed.dataset,
                dry_run=False,
                raise_errors=False,
                use_transactions=True,
                # import-export 4 commits the good rows unless told otherwise; we want none of them.
                rollback_on_validation_errors=True,
            )
            errors += _result_errors(resource, parsed, result)
            if not errors and isinstance(resource, importing.StockLevelResource):
                errors += _save_stock(resource, parsed)
            if errors:
                raise _Rollback
    except _Rollback:
        report.errors = _merge_by_line(errors)
        return report
    report.created = result.totals["new"]
    report.updated = result.totals["update"]
    report.unchanged = result.totals["skip"]
    if report.created or report.updated:
        _refresh_statistics(resource)
    return report


def _refresh_statistics(resource: importing.CatalogResource) -> list[str]:
    from .search import index_tables

    model = resource._meta.model
    tables = [model, *(field.remote_field.through for field in model._meta.local_many_to_many)]
    if model is Product:
        tables += index_tables()
    return analyze(*tables)


def _merge_by_line(errors: list[RowError]) -> list[RowError]:
    """One entry per line, in line order, file-wide problems first."""
    messages: dict[int | None, list[str]] = {}
    for error in errors:
        messages.setdefault(error.line, []).extend(error.messages)
    ordered = sorted(messages, key=lambda line: -1 if line is None else line)
    return [RowError(line=line, messages=tuple(messages[line])) for line in ordered]


def _check_columns(resource: importing.CatalogResource, parsed: importing.ParsedFile) -> list[RowError]:
    headers = parsed.dataset.headers
    known = resource.columns()
    errors = []
    unknown = [header for header in headers if header not in known]
    if unknown:
        errors.append(RowError(line=1, messages=(
            _("Unknown columns: %(unknown)s. The columns are: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(known)},
        )))
    missing = [column for column in resource.key_columns() if column not in headers]
    if missing:
        errors.append(RowError(line=1, messages=(
            _("Missing columns: %(missing)s.") % {"missing": ", ".join(missing)},
        )))
    repeated = sorted({header for header in headers if headers.count(header) > 1})
    if repeated:
        errors.append(RowError(line=1, messages=(
            _("Columns given more than once: %(repeated)s.") % {"repeated": ", ".join(repeated)},
        )))
    return errors


def _check_duplicates(resource: importing.CatalogResource, parsed: importing.ParsedFile) -> list[RowError]:
    columns = resource.key_columns()
    first_line: dict[tuple[str, ...], int] = {}
    errors = []
    for row, line in zip(parsed.dataset.dict, parsed.lines):
        key = tuple(row[column] for column in columns)
        if not all(key):
            continue  # a missing key is reported by the row's own validation
        if key in first_line:
            errors.append(RowError(line=line, messages=(
                _("%(key)s is also on line %(line)d.")
                % {"key": " + ".join(key), "line": first_line[key]},
            )))
        else:
            first_line[key] = line
    return errors


def _result_errors(resource: importing.CatalogResource, parsed: importing.ParsedFile, result) -> list[RowError]:
    errors = [RowError(line=None, messages=(str(error.error),)) for error in result.base_errors]
    for row in result.invalid_rows:
        messages = []
        for attribute, texts in row.error_dict.items():
            for text in texts:
                if attribute == NON_FIELD_ERRORS:
                    messages.append(str(text))
                else:
                    messages.append(f"{resource.column_of(attribute)}: {text}")
        errors.append(RowError(line=parsed.lines[row.number - 1], messages=tuple(messages)))
    for row in result.error_rows:
        messages = tuple(str(error.error) for error in row.errors)
        errors.append(RowError(line=parsed.lines[row.number - 1], messages=messages))
    return errors


def _save_stock(resource: importing.StockLevelResource, parsed: importing.ParsedFile) -> list[RowError]:
    lines = {(item.variant_id, item.location_id): parsed.lines[item.row_number - 1] for item in resource.pending}
    changes = [StockChange(variant_id=item.variant_id, location_id=item.location_id, on_hand=item.on_hand)
               for item in resource.pending]
    try:
        set_stock_levels(changes=changes, cause=Cause(reason=Reason.IMPORT))
    except (StockBelowReserved, StockStillReserved) as error:
        # Orders reserved more units between the row's validation and the lock: still its line.
        return [RowError(line=lines.get((error.variant_id, error.location_id)), messages=(str(error),))]
    except CatalogError as error:
        return [RowError(line=None, messages=(str(error),))]
    return []
