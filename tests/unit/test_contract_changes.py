"""What a new contract breaks for the consumers of the accepted one: each kind of break is named, and
what breaks nobody (a table or column more) is not."""

from __future__ import annotations

import copy
from typing import Any

from mesh_governance.contract_changes import breaking_changes

ACCEPTED: dict[str, Any] = {
    "version": "1.0.0",
    "schema": [
        {
            "name": "genres",
            "properties": [
                {"name": "genre", "logicalType": "string", "physicalType": "varchar", "required": True},
                {"name": "titles", "logicalType": "integer", "physicalType": "bigint", "required": True},
                {"name": "note", "logicalType": "string", "physicalType": "varchar"},
            ],
        },
        {"name": "extra", "properties": [{"name": "k", "logicalType": "integer", "physicalType": "bigint"}]},
    ],
}


def _changed(edit: Any) -> list[str]:
    new = copy.deepcopy(ACCEPTED)
    edit(new)
    return [b.change for b in breaking_changes(ACCEPTED, new)]


def test_the_same_contract_and_additions_break_nothing() -> None:
    assert _changed(lambda c: None) == []
    assert _changed(lambda c: c["schema"][0]["properties"].append({"name": "share", "logicalType": "number"})) == []
    assert _changed(lambda c: c["schema"].append({"name": "more", "properties": []})) == []
    assert _changed(lambda c: c["schema"][0]["properties"][2].update(required=True)) == []  # never null now


def test_each_break_is_named() -> None:
    assert _changed(lambda c: c["schema"].pop(1)) == ["table extra was removed"]
    assert _changed(lambda c: c["schema"][0]["properties"][1].update(name="title_count")) == [
        "column genres.titles was removed (or renamed)"
    ]
    assert _changed(lambda c: c["schema"][0]["properties"][1].update(physicalType="int")) == [
        "column genres.titles changed its physicalType from 'bigint' to 'int'"
    ]
    assert _changed(lambda c: c["schema"][0]["properties"][0].update(required=False)) == [
        "column genres.genre, always set until now, may be null"
    ]
