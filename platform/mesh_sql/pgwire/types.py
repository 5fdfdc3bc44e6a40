"""PostgreSQL types for DuckDB columns: type OIDs, values as PostgreSQL prints them (text format; binary
for the common scalar types), and parameters sent by clients decoded to Python values for DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import struct
import uuid
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

import numpy as np

from mesh_sql.errors import SqlError
from mesh_sql.pg_types import (
    ARRAY_ELEMENT,
    ARRAY_TYPE,
    FLOAT4,
    JSON,
    PgType,
    pg_type,
)


def _element_type(duckdb_type: str) -> str:
    element = ARRAY_TYPE.match(duckdb_type.strip())
    return element.group(1) if element else "VARCHAR"


# --- text format -------------------------------------------------------------------------------------


def encode_text(value: Any, duckdb_type: str) -> bytes | None:
    """A value as PostgreSQL prints it; None for SQL NULL."""
    if value is None:
        return None
    return _text(value, duckdb_type).encode("utf-8")


def _text(value: Any, duckdb_type: str) -> str:
    kind = pg_type(duckdb_type)
    if kind.oid in ARRAY_ELEMENT and isinstance(value, list | tuple):
        return _array_literal(value, _element_type(duckdb_type))
    if kind is JSON and not isinstance(value, str):
        return json.dumps(_jsonable(value), default=str, ensure_ascii=False)
    return _scalar_text(value, single=kind is FLOAT4)


def _scalar_text(value: Any, *, single: bool = False) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, single)
    if isinstance(value, Decimal):
        return "NaN" if value.is_nan() else format(value, "f")
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        return _timestamp_text(value)
    if isinstance(value, dt.date):
        return _date_text(value)
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value.microsecond)}"
    if isinstance(value, dt.timedelta):
        return _interval_text(0, value.days, (value.seconds * 1_000_000 + value.microseconds) * 1000)
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):  # pyarrow's MonthDayNano
        return _interval_text(int(value.months), int(value.days), int(value.nanoseconds))
    if isinstance(value, dict | list | tuple):
        return json.dumps(_jsonable(value), default=str, ensure_ascii=False)
    return str(value)


def _float_text(value: float, single: bool) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    # Shortest text that reads back to the same value, as PostgreSQL 12+ prints floats.
    text = str(np.float32(value)) if single else repr(value)
    return text[:-2] if text.endswith(".0") else text


def _fraction(microseconds: int) -> str:
    return f".{microseconds:06d}".rstrip("0") if microseconds else ""


def _date_text(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _timestamp_text(value: dt.datetime) -> str:
    suffix = ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)  # the session's TimeZone is UTC
        suffix = "+00"
    clock = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value.microsecond)}"
    return f"{_date_text(value)} {clock}{suffix}"


def _interval_text(months: int, days: int, nanoseconds: int) -> str:
    parts: list[str] = []
    years, months = int(months / 12), months - int(months / 12) * 12
    for amount, unit in ((years, "year"), (months, "mon"), (days, "day")):
        if amount:
            parts.append(f"{amount} {unit}{'' if amount == 1 else 's'}")
    micros = int(nanoseconds / 1000)
    if micros or not parts:
        sign = "-" if micros < 0 else ("+" if parts and any(p.startswith("-") for p in parts) else "")
        micros = abs(micros)
        seconds, fraction = divmod(micros, 1_000_000)
        clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{_fraction(fraction)}"
        parts.append(sign + clock)
    return " ".join(parts)


def _array_literal(values: list[Any] | tuple[Any, ...], element_type: str) -> str:
    items: list[str] = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif isinstance(value, list | tuple) and ARRAY_TYPE.match(element_type.strip()):
            items.append(_array_literal(value, _element_type(element_type)))
        else:
            items.append(_quote_element(_text(value, element_type)))
    return "{" + ",".join(items) + "}"


def _quote_element(text: str) -> str:
    if text and text.upper() != "NULL" and not re.search(r'[{},"\\\s]', text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # pyarrow gives a MAP as a list of (key, value) pairs.
        if value and all(isinstance(p, tuple) and len(p) == 2 for p in value):
            return {str(k): _jsonable(v) for k, v in value}
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, dt.date | dt.time):
        return _scalar_text(value)
    return value


# --- binary format -----------------------------------------------------------------------------------

_PG_EPOCH = dt.datetime(2000, 1, 1)
_PG_EPOCH_DATE = dt.date(2000, 1, 1)
_BINARY_RESULT_OIDS = frozenset({16, 17, 20, 21, 23, 25, 114, 700, 701, 1043, 1082, 1114, 1184, 1700, 2950})


def supports_binary(kind: PgType) -> bool:
    return kind.oid in _BINARY_RESULT_OIDS


def encode_binary(value: Any, kind: PgType) -> bytes | None:
    """A value in PostgreSQL's binary format for the types in `supports_binary`."""
    if value is None:
        return None
    oid = kind.oid
    if oid == 16:
        return b"\x01" if value else b"\x00"
    if oid in (21, 23, 20):
        return struct.pack({21: "!h", 23: "!i", 20: "!q"}[oid], int(value))
    if oid in (700, 701):
        return struct.pack("!f" if oid == 700 else "!d", float(value))
    if oid == 1700:
        return _numeric_binary(Decimal(value))
    if oid == 17:
        return bytes(value)
    if oid == 2950:
        return uuid.UUID(str(value)).bytes
    if oid == 1082:
        if isinstance(value, str):  # infinity
            return struct.pack("!i", 2**31 - 1 if value == "infinity" else -(2**31))
        return struct.pack("!i", (value - _PG_EPOCH_DATE).days)
    if oid in (1114, 1184):
        if isinstance(value, str):
            return struct.pack("!q", 2**63 - 1 if value == "infinity" else -(2**63))
        naive = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        delta = naive - _PG_EPOCH
        return struct.pack("!q", (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    return _text(value, "VARCHAR").encode("utf-8")  # text and json: the same bytes as text format


def _numeric_binary(value: Decimal) -> bytes:
    if value.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    exponent = value.as_tuple().exponent
    scale = max(-exponent, 0) if isinstance(exponent, int) else 0
    whole, _, fraction = format(abs(value), "f").partition(".")
    whole = whole.lstrip("0")
    whole = whole.zfill(-(-len(whole) // 4) * 4)
    fraction += "0" * (-len(fraction) % 4)
    digits = [int(whole[i : i + 4]) for i in range(0, len(whole), 4)]
    weight = len(digits) - 1
    digits += [int(fraction[i : i + 4]) for i in range(0, len(fraction), 4)]
    while digits and digits[0] == 0:
        digits.pop(0)
        weight -= 1
    while digits and digits[-1] == 0:
        digits.pop()
    if not digits:
        weight = 0
    sign = 0x4000 if value < 0 else 0
    return struct.pack("!hhHh", len(digits), weight, sign, scale) + b"".join(struct.pack("!H", d) for d in digits)


def _numeric_from_binary(data: bytes) -> Decimal:
    count, weight, sign, scale = struct.unpack_from("!hhHh", data)
    if sign == 0xC000:
        return Decimal("NaN")
    number = 0
    for group in struct.unpack_from(f"!{count}H", data, 8):
        number = number * 10000 + group
    exact = Decimal((1 if sign == 0x4000 else 0, tuple(int(c) for c in str(number)), (weight - count + 1) * 4))
    with localcontext() as context:
        context.prec = 1000  # numeric has up to 131072 digits before the point; be exact for real ones
        return exact.quantize(Decimal(1).scaleb(-scale))


# --- parameters --------------------------------------------------------------------------------------


def decode_param(data: bytes | None, oid: int, binary: bool, position: int) -> Any:
    """A parameter value for DuckDB. Unspecified (0) and text types stay strings: DuckDB casts them
    to whatever the query compares them with, as PostgreSQL does for untyped literals."""
    if data is None:
        return None
    try:
        if binary:
            return _from_binary(data, oid)
        return _from_text(data.decode("utf-8"), oid)
    except (ValueError, InvalidOperation, struct.error, UnicodeDecodeError) as exc:
        raise SqlError(f"invalid value for parameter ${position} (type oid {oid}): {exc}", "22P02") from None


def _from_text(text: str, oid: int) -> Any:
    if oid in (20, 21, 23, 26):
        return int(text)
    if oid in (700, 701):
        return float(text)
    if oid == 1700:
        return Decimal(text)
    if oid == 16:
        return text.strip().lower() in ("t", "true", "1", "on", "y", "yes")
    if oid == 1082:
        return dt.date.fromisoformat(text)
    if oid in (1114, 1184):
        return dt.datetime.fromisoformat(text)
    if oid == 1083:
        return dt.time.fromisoformat(text)
    if oid == 2950:
        return uuid.UUID(text)
    if oid == 17:
        return bytes.fromhex(text[2:]) if text.startswith("\\x") else text.encode("utf-8")
    if oid in ARRAY_ELEMENT:
        element = ARRAY_ELEMENT[oid]
        return _parse_array_literal(text, lambda item: _from_text(item, element))
    return text


def _from_binary(data: bytes, oid: int) -> Any:
    if oid == 16:
        return data != b"\x00"
    if oid in (21, 23, 20):
        return int(struct.unpack({21: "!h", 23: "!i", 20: "!q"}[oid], data)[0])
    if oid in (700, 701):
        return float(struct.unpack("!f" if oid == 700 else "!d", data)[0])
    if oid == 1700:
        return _numeric_from_binary(data)
    if oid in (0, 18, 19, 25, 114, 1043):
        return data.decode("utf-8")
    if oid == 3802:  # jsonb: a version byte, then text
        return data[1:].decode("utf-8")
    if oid == 17:
        return bytes(data)
    if oid == 2950:
        return uuid.UUID(bytes=bytes(data))
    if oid == 1082:
        return _PG_EPOCH_DATE + dt.timedelta(days=struct.unpack("!i", data)[0])
    if oid in (1114, 1184):
        moment = _PG_EPOCH + dt.timedelta(microseconds=struct.unpack("!q", data)[0])
        return moment.replace(tzinfo=dt.UTC) if oid == 1184 else moment
    if oid == 1083:
        micros = struct.unpack("!q", data)[0]
        return (dt.datetime.min + dt.timedelta(microseconds=micros)).time()
    if oid == 1186:
        micros, days, months = struct.unpack("!qii", data)
        return f"{months} months {days} days {micros} microseconds"  # DuckDB casts it
    if oid in ARRAY_ELEMENT:
        return _binary_array(data)
    raise SqlError(f"binary parameters of type oid {oid} are not supported; send them as text", "0A000")


def _binary_array(data: bytes) -> list[Any]:
    ndim, _, element = struct.unpack_from("!iiI", data)
    sizes = [struct.unpack_from("!ii", data, 12 + 8 * i)[0] for i in range(ndim)]
    pos = 12 + 8 * ndim
    flat: list[Any] = []
    for _ in range(math.prod(sizes) if sizes else 0):
        (size,) = struct.unpack_from("!i", data, pos)
        pos += 4
        if size < 0:
            flat.append(None)
        else:
            flat.append(_from_binary(data[pos : pos + size], element))
            pos += size
    for size in reversed(sizes[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def _parse_array_literal(text: str, convert: Any) -> list[Any]:
    """PostgreSQL's array text ({1,2,NULL}, {"a b","c"}, {{1,2},{3,4}}) as nested lists."""
    pos = 0

    def parse_list() -> list[Any]:
        nonlocal pos
        if text[pos] != "{":
            raise ValueError(f"malformed array literal: {text!r}")
        pos += 1
        items: list[Any] = []
        while pos < len(text):
            char = text[pos]
            if char == "}":
                pos += 1
                return items
            if char in ", \t\n":
                pos += 1
            elif char == "{":
                items.append(parse_list())
            elif char == '"':
                pos += 1
                value = []
                while text[pos] != '"':
                    if text[pos] == "\\":
                        pos += 1
                    value.append(text[pos])
                    pos += 1
                pos += 1
                items.append(convert("".join(value)))
            else:
                end = pos
                while text[end] not in ",}":
                    end += 1
                raw = text[pos:end].strip()
                pos = end
                items.append(None if raw.upper() == "NULL" else convert(raw))
        raise ValueError(f"malformed array literal: {text!r}")

    return parse_list()
