"""The contract's quality rules, compiled: per record (checked as events arrive; a break sends the
event to the dead-letter topic) and per table (checked on the history by the observation port)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from open_data_contract_standard.model import DataQuality, SchemaObject, SchemaProperty


@dataclass(frozen=True)
class RecordRule:
    column: str
    description: str
    accepts: Callable[[Any], bool]
    required: bool = False  # other rules leave a missing value to the `required` rule

    def violation(self, record: Mapping[str, Any]) -> str | None:
        value = record.get(self.column)
        if value is None:
            return f"{self.column} is missing but required" if self.required else None
        if self.accepts(value):
            return None
        return f"{self.column}={value!r} breaks the rule: {self.description}"


@dataclass(frozen=True)
class TableCheck:
    name: str
    description: str
    sql: str  # `{table}` stands for the relation to check; returns one number
    passes: Callable[[float], bool]
    port: str | None = None  # the output table it checks, when a product has several


def record_rules(props: list[SchemaProperty]) -> list[RecordRule]:
    rules: list[RecordRule] = []
    for prop in props:
        assert prop.name
        if prop.required:
            rules.append(RecordRule(prop.name, "required", lambda v: True, required=True))
        options = prop.logicalTypeOptions or {}
        for quality in prop.quality or []:
            if quality.metric == "invalidValues" and (quality.mustBe in (0, None)):
                # minimum/maximum here are the mesh's older spelling of a range, still read: the
                # standard's invalidValues takes only validValues and a pattern.
                rules.extend(_argument_rules(prop.name, quality.description or "valid values", quality.arguments or {}))
        # A range is declared where ODCS puts it, in logicalTypeOptions, which its tools test too.
        rules.extend(_argument_rules(prop.name, f"{prop.name} within its declared range", options))
    return _unique(rules)


def _argument_rules(column: str, description: str, args: Mapping[str, Any]) -> list[RecordRule]:
    rules = []
    if "validValues" in args:
        allowed = frozenset(args["validValues"])
        rules.append(RecordRule(column, f"{description} (one of {sorted(allowed)})", lambda v: v in allowed))
    if "pattern" in args:
        pattern = re.compile(args["pattern"])
        rules.append(
            RecordRule(
                column,
                f"{description} (matches {pattern.pattern})",
                lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None,
            )
        )
    if "minimum" in args:
        low = args["minimum"]
        rules.append(RecordRule(column, f"{description} (at least {low})", lambda v: v >= low))
    if "maximum" in args:
        high = args["maximum"]
        rules.append(RecordRule(column, f"{description} (at most {high})", lambda v: v <= high))
    if "exclusiveMinimum" in args:
        above = args["exclusiveMinimum"]
        rules.append(RecordRule(column, f"{description} (more than {above})", lambda v: v > above))
    if "exclusiveMaximum" in args:
        below = args["exclusiveMaximum"]
        rules.append(RecordRule(column, f"{description} (less than {below})", lambda v: v < below))
    return rules


def _unique(rules: list[RecordRule]) -> list[RecordRule]:
    seen: set[tuple[str, str]] = set()
    out = []
    for rule in rules:
        key = (rule.column, rule.description.split(" (")[-1])
        if key not in seen:
            seen.add(key)
            out.append(rule)
    return out


def violations(rules: list[RecordRule], record: Mapping[str, Any]) -> list[str]:
    return [v for rule in rules if (v := rule.violation(record)) is not None]


def compile_rules(rules: list[RecordRule]) -> Callable[[Mapping[str, Any]], list[str]]:
    """One checker for all rules, for the ingest hot path: it only builds messages for records that
    break a rule."""
    required = [r.column for r in rules if r.required]
    checks = [(r.column, r.accepts) for r in rules if not r.required]

    def check(record: Mapping[str, Any]) -> list[str]:
        for column in required:
            if record.get(column) is None:
                return violations(rules, record)
        for column, accepts in checks:
            value = record.get(column)
            if value is not None and not accepts(value):
                return violations(rules, record)
        return []

    return check


def table_checks(obj: SchemaObject) -> list[TableCheck]:
    checks = [_table_check(q, None) for q in obj.quality or []]
    for prop in obj.properties or []:
        checks += [_table_check(q, prop.name) for q in prop.quality or []]
    return [dataclasses.replace(c, port=obj.name) for c in checks if c is not None]


def _bound(q: DataQuality) -> Callable[[float], bool]:
    if q.mustBe is not None:
        return lambda x: x == q.mustBe
    if q.mustBeGreaterThan is not None:
        return lambda x: x > q.mustBeGreaterThan  # type: ignore[operator]
    if q.mustBeGreaterOrEqualTo is not None:
        return lambda x: x >= q.mustBeGreaterOrEqualTo  # type: ignore[operator]
    if q.mustBeLessThan is not None:
        return lambda x: x < q.mustBeLessThan  # type: ignore[operator]
    if q.mustBeLessOrEqualTo is not None:
        return lambda x: x <= q.mustBeLessOrEqualTo  # type: ignore[operator]
    if q.mustBeBetween is not None:
        low, high = q.mustBeBetween
        return lambda x: low <= x <= high
    return lambda x: x == 0


def _table_check(q: DataQuality, column: str | None) -> TableCheck | None:
    args = q.arguments or {}
    name = q.name or q.metric or q.type or "check"
    label = f"{column}.{name}" if column else name
    if q.type == "sql" and q.query:
        return TableCheck(label, q.description or "", q.query.replace("${table}", "{table}"), _bound(q))
    if q.metric == "rowCount":
        return TableCheck(label, q.description or "", "SELECT count(*) FROM {table}", _bound(q))
    if q.metric == "duplicateValues":
        cols = ", ".join(f'"{c}"' for c in args.get("properties", [column]) if c)
        sql = f"SELECT count(*) - count(DISTINCT ({cols})) FROM {{table}}"
        return TableCheck(label, q.description or "", sql, _bound(q))
    if q.metric in ("nullValues", "missingValues") and column:
        return TableCheck(
            label, q.description or "", f'SELECT count(*) FROM {{table}} WHERE "{column}" IS NULL', _bound(q)
        )
    if q.metric == "invalidValues" and column:
        conditions = []
        if "validValues" in args:
            values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in args["validValues"])
            conditions.append(f'"{column}" NOT IN ({values})')
        if "pattern" in args:
            conditions.append(f"NOT regexp_full_match(\"{column}\", '{args['pattern']}')")
        if "minimum" in args:
            conditions.append(f'"{column}" < {args["minimum"]}')
        if "maximum" in args:
            conditions.append(f'"{column}" > {args["maximum"]}')
        if conditions:
            where = " OR ".join(conditions)
            return TableCheck(label, q.description or "", f"SELECT count(*) FROM {{table}} WHERE {where}", _bound(q))
    return None
