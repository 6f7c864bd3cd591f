"""ORM queries compiled to SQL once per process, then run again with other values (issue 9).

On a cold storefront page most of a small query's cost is the ORM building and compiling it
(joins, lookups, ordering), not SQLite or PostgreSQL running it: ~0.5 ms of CPU for a query that
runs in 0.05 ms. The storefront's hot queries are the same every time but for an id or a slug, so
`rows` builds each one once with placeholder values, keeps the SQL and its parameters, and swaps
the placeholders for the real values when it runs. Columns are converted as the ORM would
(`get_converters`: decimals, booleans, JSON), so values read exactly as from a queryset.

The SQL stays the ORM's own: what a query means is written once, as a queryset, in the caller.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet

# Placeholders only stand in while compiling, so they need only differ from the query's own
# constants: string ones hold a NUL, which none does; integer ones are large but within the range of
# a 32-bit column, since Django drops a lookup against a value its column cannot hold (it becomes
# always or never true, and its parameter disappears). `_compile` checks each one is found.
_INT_PLACEHOLDER = 2_000_000_000


@dataclass
class _Compiled:
    sql: str | None  # None: a query that can find nothing
    params: list
    slots: list[tuple[int, int, int | None]]  # (index in params, argument, index in a list argument)
    converters: dict


_cache: dict[tuple, _Compiled] = {}


def _shape(args: Sequence) -> tuple:
    return tuple(len(arg) if isinstance(arg, (list, tuple)) else type(arg).__name__ for arg in args)


def _compile(name: str, build: Callable[..., QuerySet], args: Sequence, alias: str) -> _Compiled:
    where: dict = {}
    placeholders: list = []
    counter = 0

    def placeholder(value, argument: int, element: int | None):
        nonlocal counter
        counter += 1
        if isinstance(value, str):
            marker = f"\x00precompiled:{counter}\x00"
        elif isinstance(value, int) and not isinstance(value, bool):
            marker = _INT_PLACEHOLDER + counter
        else:
            raise TypeError(f"{name}: only int, str and lists of int can be precompiled, not {type(value)}")
        where[marker] = (argument, element)
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
        if isinstance(value, (int, str)) and not isinstance(value, bool) and value in where
    ]
    if {(argument, element) for _index, argument, element in slots} != set(where.values()):
        raise RuntimeError(f"cannot precompile {name}: a value is not among its parameters as given")
    selected = [column[0] for column in compiler.select[: compiler.col_count]]
    return _Compiled(sql, list(params), slots, compiler.get_converters(selected))


def rows(name: str, build: Callable[..., QuerySet], *args, model: type[Model]) -> list:
    """The rows of `build(*args)` (a `values_list` queryset), compiled once per name and shape.

    `args` are ints, strs or lists of ints; a list's length is part of the shape, so each length
    is compiled once. `build` must use each value as a plain parameter (exact lookups, `__in`),
    never transformed (no `contains`, arithmetic) nor in LIMIT: compiling checks that every
    placeholder is found among the parameters. `model` picks the database (`router.db_for_read`).
    """
    alias = router.db_for_read(model)
    key = (alias, name, _shape(args))
    compiled = _cache.get(key)
    if compiled is None:
        compiled = _cache[key] = _compile(name, build, args, alias)
    if compiled.sql is None:
        return []
    params = list(compiled.params)
    for index, argument, element in compiled.slots:
        params[index] = args[argument] if element is None else args[argument][element]
    connection = connections[alias]
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
