"""A master data hub for people held by two systems: the records as received, matched, grouped and
merged into golden records, incrementally, with the stewards' decisions on top.

Each `refresh` takes both systems' current records. Only records whose fingerprint changed are scored
again, against the other system's records that share a blocking key with them, with the model trained
on the first records seen (trained again when the records have grown by half; `rematch` trains a new
one and scores everything again). Links, groups and golden ids are then recomputed from the kept scores
(cheap), and rows are built only for the golden records a change could reach, as updates of four
tables: the cross-reference (every source record, its golden id and why), the golden records, the
review queue, and the decisions.

Everything the hub keeps lives in `state`, a dict of plain values the platform saves with each
refresh: the model, each record's fingerprint, the scored pairs, each record's golden id, each id's
founder, the decisions and a digest of each golden record and review served."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from mesh_mdm.linking import Action, Decision, Decisions, Link, assign_ids, groups, link
from mesh_mdm.matching import Band, Matcher, pairs_of
from mesh_mdm.normalise import Comparable
from mesh_mdm.survivorship import SourceRecord, Survivorship

FLOOR = 0.05  # pairs less probable than this are not kept: they could never be a candidate
# More changed records than this in one refresh, and scoring every pair at once is cheaper than scoring
# the changed ones against the other system (measured: 1,000 changed of 21,000 took 4 s and 2 GB one
# way, every pair 1.5 s and 0.3 GB).
INCREMENTAL_UP_TO = 200
RETRAIN_AT_GROWTH = 1.5  # records seen / records the model was trained on: train again past this
ANCHOR = "anchor"  # the band of a first-system record: it founds a golden record of its own


class DecisionRefused(ValueError):
    """A steward's decision that cannot be taken as given; the message says why."""


@dataclass(frozen=True)
class Records:
    """One system's current records, each with what the matcher compares (same order, same keys)."""

    system: str
    records: Sequence[SourceRecord]
    comparables: Sequence[Comparable]

    def pairs(self) -> list[tuple[SourceRecord, Comparable]]:
        return list(zip(self.records, self.comparables, strict=True))

    def __post_init__(self) -> None:
        for record, comparable in self.pairs():
            if record.key != comparable.unique_id or record.source != self.system:
                raise ValueError(f"{record.key}: its comparable is {comparable.unique_id} ({self.system})")


@dataclass(frozen=True)
class Changes:
    """Rows to write and keys to delete, by table: the hub's outputs of one refresh."""

    rows: dict[str, list[dict[str, Any]]]
    deleted: dict[str, list[dict[str, Any]]]


KEYS = {"xref": ("source", "source_id"), "golden": ("golden_id",), "reviews": ("anchor", "record")}


class MasterData:
    def __init__(self, state: dict[str, Any], rules: Survivorship, anchor_id: str) -> None:
        self.state = state
        self.rules = rules
        self.anchor_id = anchor_id  # the golden record's column holding its anchor's id (customer_id)
        for name, empty in (
            ("seen", {}),
            ("candidates", {}),
            ("golden_of", {}),
            ("founders", {}),
            ("decisions", []),
            ("queued", {}),
            ("served", {"golden": {}, "reviews": {}}),
        ):
            state.setdefault(name, empty)

    # --- what the platform calls -------------------------------------------------------------------

    def refresh(self, anchors: Records, others: Records, now: datetime, *, rematch: bool = False) -> Changes:
        touched = self._score(anchors, others, rematch)
        return self._outputs(anchors, others, now, touched, new_decisions=[])

    def decide(
        self,
        action: str,
        anchor: str,
        record: str,
        steward: str,
        reason: str,
        anchors: Records,
        others: Records,
        now: datetime,
    ) -> Changes:
        """Take a steward's decision on a pair (checked first: nothing changes when it is refused)."""
        try:
            act = Action(action)
        except ValueError:
            raise DecisionRefused(f"unknown decision {action!r}: match or split") from None
        if anchor not in {r.key for r in anchors.records}:
            raise DecisionRefused(f"no {anchors.system} record {anchor!r} (give it as {anchors.system}:<id>)")
        if record not in {r.key for r in others.records}:
            raise DecisionRefused(f"no {others.system} record {record!r} (give it as {others.system}:<id>)")
        if not steward.strip():
            raise DecisionRefused("say who decides: a steward's name")
        decision = Decision(act, anchor, record, steward.strip(), reason.strip(), now, len(self.state["decisions"]) + 1)
        self.state["decisions"].append(_plain_decision(decision))
        touched = self._score(anchors, others, rematch=False)
        if touched is not None:
            touched |= {anchor, record}
        return self._outputs(anchors, others, now, touched, new_decisions=[decision])

    def describe(self) -> dict[str, Any]:
        model = self.state.get("model")
        pending = len(self.state["queued"])
        trained = None
        if model is not None:
            prior = model.get("probability_two_random_records_match")
            trained = {"trained_on": self.state.get("trained_on"), "probability_two_random_records_match": prior}
        return {
            "model": trained,
            "records": len(self.state["seen"]),
            "golden_records": len(self.state["founders"]),
            "reviews_pending": pending,
            "decisions": len(self.state["decisions"]),
        }

    # --- scoring -----------------------------------------------------------------------------------

    def _score(self, anchors: Records, others: Records, rematch: bool) -> set[str] | None:
        """Score what changed; returns the records whose rows may change (None: any of them)."""
        prints = {r.key: _fingerprint(c, r) for r, c in (*anchors.pairs(), *others.pairs())}
        seen: dict[str, str] = self.state["seen"]
        changed = {k for k, f in prints.items() if seen.get(k) != f}
        gone = set(seen) - set(prints)
        if not anchors.records or not others.records:
            self.state["candidates"] = {}
            self.state["seen"] = {}  # score everything once both systems have records
            return None
        candidates: dict[str, dict[str, float]] = self.state["candidates"]
        touched: set[str] | None = None
        if rematch or self.state.get("model") is None or self._outgrown(anchors, others):
            with Matcher(list(anchors.comparables), list(others.comparables)) as matcher:
                self.state["model"] = matcher.save()
                self.state["trained_on"] = {anchors.system: len(anchors.records), others.system: len(others.records)}
                pairs = matcher.pairs(FLOOR)
            candidates = {}
        elif len(changed) > INCREMENTAL_UP_TO:  # a burst (a backfill, a first load): every pair, same model
            with Matcher(list(anchors.comparables), list(others.comparables), model=self.state["model"]) as m:
                pairs = m.pairs(FLOOR)
            candidates = {}
        elif changed or gone:
            left_changed = [c for c in anchors.comparables if c.unique_id in changed]
            right_changed = [c for c in others.comparables if c.unique_id in changed]
            stale = changed | gone
            touched = set(stale)
            for record in stale & set(candidates):
                del candidates[record]
            for record, scored in candidates.items():
                for anchor in stale & set(scored):
                    del scored[anchor]
                    touched.add(record)
            everyone = list(anchors.comparables), list(others.comparables)
            pairs = pairs_of(self.state["model"], *everyone, left_changed, right_changed, FLOOR)
            touched |= {p.right for p in pairs}
        else:
            return set()
        for pair in pairs:
            candidates.setdefault(pair.right, {})[pair.left] = pair.probability
        self.state["candidates"] = {k: v for k, v in candidates.items() if v}
        self.state["seen"] = prints
        return touched

    def _outgrown(self, anchors: Records, others: Records) -> bool:
        """Whether the records have grown well past those the model was trained on (a first refresh that
        ran while the inputs were still loading): then it is trained again, on all of them."""
        trained: int = sum((self.state.get("trained_on") or {}).values())
        return trained > 0 and len(anchors.records) + len(others.records) >= RETRAIN_AT_GROWTH * trained

    # --- from scores to rows -----------------------------------------------------------------------

    def _outputs(
        self, anchors: Records, others: Records, now: datetime, touched: set[str] | None, new_decisions: list[Decision]
    ) -> Changes:
        """Links, groups and golden ids for every record (cheap); rows only for the groups a change could
        reach: those holding a touched record, and those whose members or id moved."""
        decisions = Decisions.of(_decision(d) for d in self.state["decisions"])
        anchor_keys = [r.key for r in anchors.records]
        existing = frozenset(anchor_keys)
        scored: dict[str, dict[str, float]] = self.state["candidates"]
        links = {r.key: link(r.key, scored.get(r.key, {}), decisions, existing) for r in others.records}
        found = groups(anchor_keys, links.values())
        records = {r.key: r for r in (*anchors.records, *others.records)}
        before: dict[str, str] = self.state["golden_of"]
        assignment = assign_ids(found, before, self.state["founders"], {g: self._founder(g, records) for g in found})
        self.state["golden_of"] = {r: gid for g, gid in assignment.ids.items() for r in g}
        self.state["founders"] = assignment.founders

        members_before: dict[str, set[str]] = {}
        for record, gid in before.items():
            members_before.setdefault(gid, set()).add(record)
        reached = [
            g
            for g in found
            if touched is None or members_before.get(assignment.ids[g]) != set(g) or any(r in touched for r in g)
        ]
        rows: dict[str, list[dict[str, Any]]] = {
            "xref": [self._xref_row(records[k], links.get(k)) | {"updated_at": now} for g in reached for k in g],
            "decisions": [_decision_row(d) for d in new_decisions],
        }
        deleted: dict[str, list[dict[str, Any]]] = {
            "xref": [dict(zip(KEYS["xref"], r.split(":", 1), strict=True)) for r in before if r not in records],
            "decisions": [],
        }
        golden = [self._golden_row(assignment.ids[g], [records[k] for k in g]) for g in reached]
        rows["golden"], deleted["golden"] = self._changed("golden", golden, now, assignment.retired)
        reviews = [self._review_row(lk, now) for lk in links.values() if lk.band is Band.REVIEW and not lk.linked]
        self.state["queued"] = {f"{r['anchor']}|{r['record']}": r["queued_at"] for r in reviews}
        rows["reviews"], deleted["reviews"] = self._changed("reviews", reviews, now)
        return Changes(rows, deleted)

    def _founder(self, group: tuple[str, ...], records: Mapping[str, SourceRecord]) -> str:
        """The record a new golden id is minted from: the anchor, else the record created first."""
        members = [records[k] for k in group]
        return min(members, key=lambda r: (self.rules.rank(r), r.created_at, r.key)).key

    def _xref_row(self, record: SourceRecord, lk: Link | None) -> dict[str, Any]:
        golden_id = self.state["golden_of"][record.key]
        if lk is None:
            partner, probability, band, rule = None, None, ANCHOR, f"a {record.source} record founds its golden record"
        else:
            partner, probability, band, rule = lk.partner, lk.probability, lk.band.value, lk.rule
        return {
            "source": record.source,
            "source_id": str(record.id),
            "golden_id": golden_id,
            **{a: _text(record.as_received.get(a)) for a in self.rules.rules},
            "partner": partner,
            "match_probability": probability,
            "band": band,
            "rule": rule,
            "source_changed_at": record.changed_at,
        }

    def _golden_row(self, golden_id: str, members: list[SourceRecord]) -> dict[str, Any]:
        survived = self.rules.golden(members)
        anchor = next((r for r in members if r.source == self.rules.sources[0]), None)
        return {
            "golden_id": golden_id,
            self.anchor_id: anchor.id if anchor is not None else None,
            **{a: s.value for a, s in survived.items()},
            "records": len(members),
            "sources": ",".join(sorted({r.source for r in members}, key=self.rules.sources.index)),
            "provenance": json.dumps({a: s.record for a, s in survived.items()}, sort_keys=True),
        }

    def _review_row(self, lk: Link, now: datetime) -> dict[str, Any]:
        pair = f"{lk.partner}|{lk.record}"
        return {
            "anchor": lk.partner,
            "record": lk.record,
            "match_probability": lk.probability,
            "queued_at": self.state["queued"].get(pair, now),
        }

    def _changed(
        self, table: str, current: list[dict[str, Any]], now: datetime, retired: set[str] | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows that differ from those served, stamped `updated_at`, and the keys no longer served:
        `retired` ones when `current` holds only some of the table's rows, else every key not in it."""
        served: dict[str, str] = self.state["served"][table]
        columns = KEYS[table]
        rows = []
        fresh: dict[str, str] = {}
        for row in current:
            key = "|".join(str(row[c]) for c in columns)
            fresh[key] = digest = _digest(row)
            if served.get(key) != digest:
                rows.append(row | {"updated_at": now})
        gone = set(retired) if retired is not None else set(served) - set(fresh)
        served.update(fresh)
        for key in gone:
            served.pop(key, None)
        return rows, [dict(zip(columns, key.split("|"), strict=True)) for key in sorted(gone)]


def _fingerprint(comparable: Comparable, record: SourceRecord) -> str:
    """What a record is: what the matcher compares, and what its rows show."""
    c = comparable
    compared = (c.first, c.last, c.email, c.phone, c.country, c.birth_year)
    shown = (record.changed_at, sorted(record.as_received.items()), sorted(record.attributes.items()))
    return _digest((compared, shown))


def _digest(value: Any) -> str:
    text = repr(sorted(value.items())) if isinstance(value, dict) else repr(value)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _plain_decision(d: Decision) -> dict[str, Any]:
    """A decision as the state keeps it: plain values, readable whatever becomes of the class."""
    return asdict(d) | {"action": d.action.value}


def _decision(plain: Mapping[str, Any]) -> Decision:
    return Decision(**{**plain, "action": Action(plain["action"])})


def _decision_row(d: Decision) -> dict[str, Any]:
    return {
        "decision": d.number,
        "action": d.action.value,
        "anchor": d.anchor,
        "record": d.record,
        "steward": d.steward,
        "reason": d.reason,
        "decided_at": d.at,
    }


__all__ = ["ANCHOR", "FLOOR", "Changes", "DecisionRefused", "MasterData", "Records"]
