"""What a new contract breaks for the consumers of the one accepted before it, under the same product
id (so the same major): a table or a column gone, a column's type changed, a column that was always
there made optional. Adding tables and columns breaks nobody; every other change of a column is
judged by its consumers' code, which reads names, types and nulls."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Break:
    where: str  # path in the new contract, or in the accepted one for what is gone
    change: str  # what changed, in the consumer's terms


def _named(parent: Mapping[str, Any], key: str) -> dict[str, tuple[int, Mapping[str, Any]]]:
    """The items of the list `parent[key]` (tables of a contract, columns of a table) by their names,
    with their positions."""
    found = parent.get(key)
    items = found if isinstance(found, list) else []
    return {str(item.get("name")): (i, item) for i, item in enumerate(items) if isinstance(item, dict)}


def breaking_changes(accepted: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Break]:
    new_objects = _named(new, "schema")
    for name, (i, before) in _named(accepted, "schema").items():
        if name not in new_objects:
            yield Break(f"contract.schema[{i}]", f"table {name} was removed")
            continue
        k, after = new_objects[name]
        new_columns = _named(after, "properties")
        for column, (_, was) in _named(before, "properties").items():
            if column not in new_columns:
                yield Break(f"contract.schema[{k}].properties", f"column {name}.{column} was removed (or renamed)")
                continue
            j, now = new_columns[column]
            at = f"contract.schema[{k}].properties[{j}]"
            for aspect in ("logicalType", "physicalType"):
                if was.get(aspect) != now.get(aspect):
                    yield Break(
                        f"{at}.{aspect}",
                        f"column {name}.{column} changed its {aspect} from {was.get(aspect)!r} to {now.get(aspect)!r}",
                    )
            if was.get("required") is True and now.get("required") is not True:
                yield Break(f"{at}.required", f"column {name}.{column}, always set until now, may be null")
