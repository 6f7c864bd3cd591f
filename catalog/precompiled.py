"""ORM queries compiled to SQL once per process, then run again with other values (issue 9).

On a cold storefront page most of a small query's cost is the ORM building and compiling it
(joins, lookups, ordering), not SQLite or PostgreSQL running it: ~0.5 ms of CPU for a query that
runs in 0.05 ms. The storefront's hot queries are the same every time but for an id or a slug, so
`rows` builds each one once with placeholder values, keeps the SQL and its parameters, and swaps
the placeholders for the real values when it runs. Columns are converted as the ORM would
(`get_converters`: decimals, booleans, JSON), so values read exactly as from a queryset.
Aware datetimes compared with a datetime column are parameters too ("promotions not ended at
`now`"): they go to the database as the ORM sends them (`adapt_datetimefield_value`).

The SQL stays the ORM's own: what a query means is written once, as a queryset, in the caller.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet

# Placeholders only stand in while compiling, so they need only differ from the query's own
# constants: string ones hold a NUL, which none does; integer ones are large but within the range of
# a 32-bit column, since Django drops a lookup against a value its column cannot hold (it becomes
# always or never true, and its parameter disappears). `_compile` checks each one is found.
_INT_PLACEHOLDER = 2_000_000_000
# Datetime ones are far in the future, a microsecond apart; compared with a DateTimeField, the ORM
# sends them through `connection.ops.adapt_datetimefield_value` (a string on SQLite), and so
# does `rows` with the real values.
_DATETIME_PLACEHOLDER = datetime(2999, 12, 31, tzinfo=timezone.utc)


@dataclass
class _Compiled:
    sql: str | None  # None: a query that can find nothing
    params: list
    # (index in params, argument, index in a list argument, whether it is a datetime to adapt)
    slots: list[tuple[int, int, int | None, bool]]
    converters: dict


_cache: dict[tuple, _Compiled] = {}


def _shape(args: Sequence) -> tuple:
    return tuple(len(arg) if isinstance(arg, (list, tuple)) else type(arg).__name__ for arg in args)


def _compile(name: str, build: Callable[..., QuerySet], args: Sequence, alias: str) -> _Compiled:
    where: dict = {}
    placeholders: list = []
    counter = 0
    adapt = connections[alias].ops.adapt_datetimefield_value

    def placeholder(value, argument: int, element: int | None):
        nonlocal counter
        counter += 1
        if isinstance(value, str):
            marker = found = f"\x00precompiled:{counter}\x00"
        elif isinstance(value, int) and not isinstance(value, bool):
            marker = found = _INT_PLACEHOLDER + counter
        elif isinstance(value, datetime) and element is None:
            if value.tzinfo is None:
                raise TypeError(f"{name}: a datetime must be aware to be precompiled")
            marker = _DATETIME_PLACEHOLDER + timedelta(microseconds=counter)
            found = adapt(marker)  # what the parameters hold
        else:
            raise TypeError(f"{name}: only int, str, aware datetime and lists of int can be precompiled, "
                            f"not {type(value)}")
        where[found] = (argument, element, isinstance(value, datetime))
        return marker

    for argument, value in enumerate(args):
        if isinstance(value, (list, tuple)):
            placeholders.append([placeholder(item, argument, element) for element, item in enumerate(value)])
        else:
            placeholders.append(placeholder(value, argument, None))
    compiler = build(*placeholders).query.get_compiler(using=alias)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. `__in` an empty list: no rows, whatever the values
        return _Compiled(None, [], [], {})
    slots = [
        (index, *where[value]) for index, value in enumerate(params)
        if isinstance(value, (int, str, datetime)) and not isinstance(value, bool) and value in where
    ]
    if {slot[1:] for slot in slots} != set(where.values()):
        raise RuntimeError(f"cannot precompile {name}: a value is not among its parameters as given")
    selected = [column[0] for column in compiler.select[: compiler.col_count]]
    return _Compiled(sql, list(params), slots, compiler.get_converters(selected))


def rows(name: str, build: Callable[..., QuerySet], *args, model: type[Model]) -> list:
    """The rows of `build(*args)` (a `values_list` queryset), compiled once per name and shape.

    `args` are ints, strs, aware datetimes or lists of ints; a list's length is part of the
    shape, so each length is compiled once. `build` must use each value as a plain parameter
    (exact lookups, `__in`, a datetime compared with a DateTimeField), never transformed (no
    `contains`, arithmetic) nor in LIMIT: compiling checks that every placeholder is found among
    the parameters. `model` picks the database (`router.db_for_read`).
    """
    alias = router.db_for_read(model)
    key = (alias, name, _shape(args))
    compiled = _cache.get(key)
    if compiled is None:
        compiled = _cache[key] = _compile(name, build, args, alias)
    if compiled.sql is None:
        return []
    params = list(compiled.params)
    connection = connections[alias]
    for index, argument, element, is_datetime in compiled.slots:
        value = args[argument] if element is None else args[argument][element]
        if is_datetime:
            if value.tzinfo is None:
                raise TypeError(f"{name}: a datetime must be aware to be precompiled")
            value = connection.ops.adapt_datetimefield_value(value)
        params[index] = value
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        found = cursor.fetchall()
    if not compiled.converters:
        return found
    converted = []
    for row in found:
        row = list(row)
        for index, (functions, expression) in compiled.converters.items():
            value = row[index]
            for function in functions:
                value = function(value, expression, connection)
            row[index] = value
        converted.append(row)
    return converted


def set_prefetched(instance: Model, name: str, objects: list) -> None:
    """`instance.<name>.all()` answers `objects` with no query, as after `prefetch_related(name)`
    (for instances made from precompiled rows: `Model.from_db`)."""
    queryset = instance._meta.get_field(name).related_model._default_manager.none()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[name] = queryset
