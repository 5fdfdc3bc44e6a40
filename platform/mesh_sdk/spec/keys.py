"""A row's identity under its contract's key columns: what deduplication compares and what keys the
messages of an output stream, the same for source-aligned and derived products."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def row_key(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    return "|".join(str(row[c]) for c in columns)
