"""Python values from Arrow columns, for the types pyarrow cannot convert on its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
_MICROS_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}


def column_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """The column's values as Python objects. Dates and timestamps go through their integers, because
    pyarrow refuses nanosecond values and DuckDB's infinities: those become 'infinity'/'-infinity'
    (as PostgreSQL prints them) and nanoseconds are truncated to microseconds."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        utc = kind.tz is not None
        return [_timestamp(v, kind.unit, utc) for v in column.cast(pa.int64()).to_pylist()]
    if pa.types.is_date32(kind):
        return [_date(v) for v in column.cast(pa.int32()).to_pylist()]
    try:
        return list(column.to_pylist())
    except (ValueError, OverflowError, pa.ArrowException):
        return [None if not v.is_valid else str(v) for v in _scalars(column)]


def _scalars(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return [scalar for chunk in chunks for scalar in chunk]


def _infinity(value: int) -> str:
    return "infinity" if value > 0 else "-infinity"


def _timestamp(value: int | None, unit: str, utc: bool) -> dt.datetime | str | None:
    if value is None:
        return None
    micros = value // 1000 if unit == "ns" else value * _MICROS_PER_UNIT[unit]
    try:
        moment = _EPOCH + dt.timedelta(microseconds=micros)
    except OverflowError:
        return _infinity(value)
    return moment.replace(tzinfo=dt.UTC) if utc else moment


def _date(value: int | None) -> dt.date | str | None:
    if value is None:
        return None
    try:
        return _EPOCH_DATE + dt.timedelta(days=value)
    except OverflowError:
        return _infinity(value)
