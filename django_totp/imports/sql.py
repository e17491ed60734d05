"""Reading a source's tables with SQL: the source package need not be installed (R36)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

T = TypeVar("T")


def tables() -> set[str]:
    return set(connection.introspection.table_names())


def present(table: str, names: Sequence[str]) -> tuple[str, ...]:
    """Those of ``names`` that are columns of ``table`` (a release may lack some)."""
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    found = {column.name for column in description}
    return tuple(name for name in names if name in found)


def select(
    table: str, names: Sequence[str], where: str = "", *, order: str = "id"
) -> list[dict[str, Any]]:
    """Rows of ``table`` as dicts, in ``order``. ``names``, ``where`` and ``order`` are our
    constants."""
    # Every identifier is a constant of the reading modules, quoted; no value is interpolated.
    query = f"SELECT {', '.join(map(_column, names))} FROM {q(table)} {where} ORDER BY {q(order)}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(query)
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


# The sources' timestamp columns.
TIMESTAMPS = frozenset({"created_at", "last_used_at"})


def _column(name: str) -> str:
    # SECURITY: SQLite's driver parses a timestamp column as it fetches the rows, and raises
    # ValueError for text shaped like a timestamp that is none (February 30th), ending the run:
    # read as text, ``as_datetime`` parses it.
    if connection.vendor == "sqlite" and name in TIMESTAMPS:
        return f"CAST({q(name)} AS TEXT)"
    return q(name)


def json_object(value: Any) -> dict[str, Any] | None:
    """A JSON column's value as an object, or ``None`` when it holds anything else.

    Raw SQL gives the text on most backends; psycopg may give it parsed.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def list_of(value: Any, kind: type[T]) -> list[T] | None:
    """``value`` when it is a list of ``kind`` only, else ``None`` (``bool`` is no ``int``)."""
    if not isinstance(value, list):
        return None
    if all(isinstance(item, kind) and not isinstance(item, bool) for item in value):
        return value
    return None


def as_bytes(value: Any) -> bytes | None:
    """A binary column's value: bytes, or a memoryview on PostgreSQL; ``None`` for anything else."""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return None


def as_datetime(value: Any) -> datetime.datetime | None:
    """A timestamp column's value: raw SQL on SQLite gives text, other backends datetimes."""
    if isinstance(value, str):
        try:
            value = parse_datetime(value)
        # SQLite keeps any text: shaped like a timestamp, it may still be none (February 30th).
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    if settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, datetime.UTC)
    return value


def q(name: str) -> str:
    return connection.ops.quote_name(name)
