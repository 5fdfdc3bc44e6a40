"""Results as wire messages: RowDescription fields and encoded DataRows."""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from mesh_sql.engine import Column, QueryResult
from mesh_sql.errors import SqlError
from mesh_sql.pg_types import TEXT, pg_type
from mesh_sql.pgwire import codec
from mesh_sql.pgwire.commands import CopyOut, LocalStatement
from mesh_sql.pgwire.types import encode_binary, encode_text, supports_binary


@dataclass
class Outcome:
    """What one statement returns: fields (None: no rows at all, as for SET), rows, tag, notices."""

    fields: list[codec.Field] | None
    rows: list[bytes]
    tag: str
    notices: list[str] = field(default_factory=list)
    sent: int = 0  # rows already sent, for Execute with a row count


def column_formats(formats: Sequence[int], count: int) -> list[int]:
    """Bind's result format codes for `count` columns: none means text, one applies to all."""
    if not formats:
        return [0] * count
    if len(formats) == 1:
        return [formats[0]] * count
    if len(formats) != count:
        raise SqlError(f"bind message has {len(formats)} result formats but query has {count} columns", "08P01")
    return list(formats)


def fields_of(columns: Sequence[Column], formats: Sequence[int]) -> list[codec.Field]:
    fields: list[codec.Field] = []
    for column, fmt in zip(columns, column_formats(formats, len(columns)), strict=True):
        kind = pg_type(column.type)
        if fmt == 1 and not supports_binary(kind):
            raise SqlError(
                f"binary result format is not supported for column {column.name} ({column.type}); ask for text format",
                "0A000",
            )
        fields.append(codec.Field(column.name, kind.oid, kind.size, kind.modifier, fmt))
    return fields


def query_outcome(result: QueryResult, formats: Sequence[int]) -> Outcome:
    fields = fields_of(result.columns, formats)
    encoders = [
        functools.partial(encode_binary, kind=pg_type(column.type))
        if f.format == 1
        else functools.partial(encode_text, duckdb_type=column.type)
        for column, f in zip(result.columns, fields, strict=True)
    ]
    rows = [codec.data_row([encode(v) for encode, v in zip(encoders, row, strict=True)]) for row in result.rows()]
    notices = []
    if result.truncated:
        notices.append(
            f"the result was cut to {result.row_limit} rows, the row limit of the SQL port; "
            "add a LIMIT or filters to see the rest"
        )
    return Outcome(fields, rows, f"SELECT {len(rows)}", notices)


_BINARY_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)


def copy_outcome(result: QueryResult, copy: CopyOut) -> Outcome:
    """A query's rows as COPY ... TO STDOUT writes them: CopyOutResponse, one CopyData per row (the
    binary format's trailer in one of its own), CopyDone."""
    columns = result.columns
    rows = result.rows()
    binary = copy.format == "binary"
    messages = [codec.copy_out_response(binary, len(columns))]
    if binary:
        kinds = [pg_type(c.type) for c in columns]
        for column, kind in zip(columns, kinds, strict=True):
            if not supports_binary(kind):
                raise SqlError(f"COPY in binary format does not support column {column.name} ({column.type})", "0A000")
        header = _BINARY_COPY_HEADER  # sent with the first row, as PostgreSQL does (ADBC's reader needs it so)
        for row in rows:
            fields = [encode_binary(v, kind) for v, kind in zip(row, kinds, strict=True)]
            body = struct.pack("!h", len(fields)) + b"".join(
                struct.pack("!i", -1) if f is None else struct.pack("!i", len(f)) + f for f in fields
            )
            messages.append(codec.copy_data(header + body))
            header = b""
        messages.append(codec.copy_data(header + struct.pack("!h", -1)))
    else:
        texts = [[_copy_text(v, c.type) for v, c in zip(row, columns, strict=True)] for row in rows]
        lines = _csv_lines(columns, texts, copy) if copy.format == "csv" else _text_lines(texts, copy)
        messages.extend(codec.copy_data(line.encode("utf-8")) for line in lines)
    messages.append(codec.copy_done())
    outcome = Outcome(None, messages, f"COPY {len(rows)}")
    if result.truncated:
        outcome.notices.append(f"COPY stopped at {result.row_limit} rows, the row limit of the SQL port")
    return outcome


def _copy_text(value: object, duckdb_type: str) -> str | None:
    encoded = encode_text(value, duckdb_type)
    return None if encoded is None else encoded.decode("utf-8")


_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text_lines(rows: list[list[str | None]], copy: CopyOut) -> list[str]:
    delimiter = copy.delimiter or "\t"
    return [delimiter.join("\\N" if v is None else v.translate(_TEXT_ESCAPES) for v in row) + "\n" for row in rows]


def _csv_lines(columns: Sequence[Column], rows: list[list[str | None]], copy: CopyOut) -> list[str]:
    delimiter = copy.delimiter or ","

    def field(value: str | None) -> str:
        if value is None:
            return ""  # NULL: empty and unquoted; an empty string is quoted
        if value == "" or any(ch in value for ch in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [delimiter.join(field(c.name) for c in columns) + "\n"] if copy.header else []
    return lines + [delimiter.join(field(v) for v in row) + "\n" for row in rows]


def local_fields(statement: LocalStatement) -> list[codec.Field] | None:
    if not statement.columns:
        return None
    return [codec.Field(name, TEXT.oid, TEXT.size) for name in statement.columns]


def local_outcome(statement: LocalStatement, formats: Sequence[int]) -> Outcome:
    fields = local_fields(statement)
    if fields and any(f == 1 for f in column_formats(formats, len(fields))):
        raise SqlError("binary result format is not supported for this statement; ask for text", "0A000")
    rows = [codec.data_row([v.encode("utf-8") for v in row]) for row in statement.rows]
    return Outcome(fields, rows, statement.tag)
