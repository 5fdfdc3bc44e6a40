"""From scored pairs to golden records: which records are linked (the model's bands, overruled by the
stewards' decisions), how they group, and which golden id each group keeps.

Records of the first system (the anchors: one golden record each) are never merged with each other;
each record of the second system joins at most one anchor, its most probable partner when that pair is
a match, or one a steward chose. A record in the review band stays on its own until a steward decides.

Golden ids are stable. An id is minted from the record that founds a group (a hash of its key, so a
rebuild mints the same ids) and stays with the group that keeps its founder; a group that lost its
founder keeps the id most of its members had; merging groups keeps the older id and retires the other.
Pure."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from mesh_mdm.matching import MATCH_AT, REVIEW_AT, Band, band_of


class Action(StrEnum):
    MATCH = "match"  # the same person: link them, whatever the model says
    SPLIT = "split"  # not the same person: never link them


@dataclass(frozen=True)
class Decision:
    """A steward's decision on a pair: the anchor record (first system) and the other system's record."""

    action: Action
    anchor: str  # record key, e.g. subscriptions:42
    record: str  # record key, e.g. crm:700123
    steward: str
    reason: str
    at: datetime
    number: int  # the decisions' order: a later one on the same pair wins


@dataclass(frozen=True)
class Decisions:
    matched: Mapping[str, Decision] = field(default_factory=dict)  # record -> the match decision in force
    split: Mapping[tuple[str, str], Decision] = field(default_factory=dict)  # (anchor, record) -> in force

    @classmethod
    def of(cls, decisions: Iterable[Decision]) -> Decisions:
        latest: dict[tuple[str, str], Decision] = {}
        for d in sorted(decisions, key=lambda d: d.number):
            latest[(d.anchor, d.record)] = d
        matched: dict[str, Decision] = {}
        for (_, record), d in sorted(latest.items(), key=lambda kv: kv[1].number):
            if d.action is Action.MATCH:
                matched[record] = d  # the newest match of a record is the one in force
        split = {pair: d for pair, d in latest.items() if d.action is Action.SPLIT}
        for record, d in list(matched.items()):
            if (d.anchor, record) in split:
                del matched[record]
        return cls(matched, split)


@dataclass(frozen=True)
class Link:
    """What became of one record of the second system."""

    record: str
    partner: str | None  # its most probable anchor (or the steward's), None when there is none
    probability: float | None  # the model's, for that pair
    band: Band
    linked: bool  # part of the partner's golden record
    rule: str  # why, in words: shown on the cross-reference port


def link(
    record: str, candidates: Mapping[str, float], decisions: Decisions, anchors: AbstractSet[str] = frozenset()
) -> Link:
    """Decide one record's link from its candidate anchors (probability by anchor key) and the
    decisions in force; `anchors` are the anchor records that exist (a decision for one that does not
    is kept, and waits)."""
    forced = decisions.matched.get(record)
    if forced is not None and forced.anchor in anchors:
        p = candidates.get(forced.anchor)
        return Link(record, forced.anchor, p, Band.MATCH, True, f"steward match by {forced.steward}: {forced.reason}")
    allowed = {a: p for a, p in candidates.items() if (a, record) not in decisions.split}
    vetoed = len(allowed) < len(candidates)
    if not allowed:
        rule = "a steward split it from its only candidate" if vetoed else "no candidate"
        return Link(record, None, None, Band.NO_MATCH, False, rule)
    partner, p = max(allowed.items(), key=lambda kv: (kv[1], kv[0]))
    band = band_of(p)
    after = " (a steward split it from a likelier one)" if vetoed else ""
    if band is Band.MATCH:
        return Link(record, partner, p, band, True, f"model: probability >= {MATCH_AT}{after}")
    if band is Band.REVIEW:
        return Link(
            record, partner, p, band, False, f"model: probability in [{REVIEW_AT}, {MATCH_AT}): awaits a steward"
        )
    return Link(record, partner, p, band, False, f"model: probability < {REVIEW_AT}{after}")


def groups(anchors: Iterable[str], links: Iterable[Link]) -> list[tuple[str, ...]]:
    """Each anchor with the records linked to it, then every unlinked record alone; members sorted."""
    members: dict[str, list[str]] = {a: [a] for a in anchors}
    alone: list[tuple[str, ...]] = []
    for lk in links:
        if lk.linked and lk.partner in members:
            members[lk.partner].append(lk.record)
        else:
            alone.append((lk.record,))
    return [tuple(sorted(m)) for m in members.values()] + sorted(alone)


def mint(founder: str) -> str:
    """A golden id from the key of the record that founded the group: opaque, and the same on a rebuild."""
    return "g-" + hashlib.sha256(founder.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Assignment:
    ids: dict[tuple[str, ...], str]  # group -> golden id
    founders: dict[str, str]  # golden id -> the record it was minted from, oldest id first, every id in use
    retired: set[str]  # ids in use before and no longer


def assign_ids(
    found: Sequence[tuple[str, ...]],
    previous: Mapping[str, str],
    founders: Mapping[str, str],
    founder_of: Mapping[tuple[str, ...], str],
) -> Assignment:
    """Golden ids for `found` groups, given each record's previous id, each id's founder, and the
    record each group would be founded by if it needs a new id."""
    claims: dict[str, list[tuple[str, ...]]] = {}
    for group in found:
        for gid in {previous[r] for r in group if r in previous}:
            claims.setdefault(gid, []).append(group)
    # Oldest first (founders are kept in the order the ids were minted): in a merge the older id wins.
    age = {gid: n for n, gid in enumerate(founders)}
    ids: dict[tuple[str, ...], str] = {}
    for gid, claimants in sorted(claims.items(), key=lambda kv: (age.get(kv[0], len(age)), kv[0])):
        free = [g for g in claimants if g not in ids]
        holder = next((g for g in free if founders.get(gid) in g), None)
        if holder is None and not any(founders.get(gid) in g for g in claimants):
            # The founder is gone: the id stays with the group holding most of its previous members.
            by_members = Counter({g: sum(1 for r in g if previous.get(r) == gid) for g in free})
            holder = min(by_members, key=lambda g: (-by_members[g], g)) if by_members else None
        if holder is not None:
            ids[holder] = gid
    kept = set(ids.values())
    new_founders = {gid: founder for gid, founder in founders.items() if gid in kept}
    for group in found:
        if group not in ids:
            gid = mint(founder_of[group])
            ids[group] = gid
            new_founders[gid] = founder_of[group]
    retired = set(previous.values()) - set(ids.values())
    return Assignment(ids, new_founders, retired)
