"""The master data hub on the generators' own people, without servers: golden records as the truth
implies them, incremental refreshes that touch only what changed, stewards' decisions that hold
through a re-match, survivorship by the declared rules, erasures, and golden ids that stay put."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mesh_mdm import MasterData, Records, SourceRecord, Survivorship, comparable, split_name
from mesh_mdm.hub import DecisionRefused
from mesh_mdm.linking import Action, Decision, Decisions, assign_ids, groups, link, mint
from mesh_mdm.matching import Band
from mesh_mdm.survivorship import Rule, RulesInvalid
from mesh_sources.crm_seed import Contact, crm_seed, seeded_people
from mesh_sources.legacy_seed import legacy_seed

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)
PRODUCT = Path(__file__).resolve().parents[2] / "products" / "customers.customer-360"
RULES = Survivorship.load(PRODUCT / "survivorship.yaml")


def customer_record(c: Any) -> tuple[SourceRecord, Any]:
    attributes = {
        "full_name": c.full_name,
        "email": c.email,
        "phone": c.phone,
        "country": c.country,
        "birth": str(c.birth_year) if c.birth_year else None,
    }
    record = SourceRecord("subscriptions", c.customer_id, attributes, NOW - dt.timedelta(days=30), NOW)
    first, last = split_name(c.full_name)
    return record, comparable(record.key, first, last, c.email, c.phone, c.country, c.birth_year)


def contact_record(c: Contact) -> tuple[SourceRecord, Any]:
    attributes = {
        "full_name": f"{c.first_name} {c.last_name}",
        "email": c.email,
        "phone": c.phone,
        "country": c.country.upper() if c.country else None,
        "birth": c.birth_date.isoformat() if c.birth_date else None,
    }
    record = SourceRecord("crm", c.contact_id, attributes, c.created_at, c.updated_at)
    year = c.birth_date.year if c.birth_date else None
    return record, comparable(record.key, c.first_name, c.last_name, c.email, c.phone, c.country, year)


@cache
def world() -> tuple[list[Any], list[Contact], dict[int, int | None]]:
    people = seeded_people(legacy_seed(800, NOW, seed=7).customers)
    crm = crm_seed(people, NOW, seed=7)
    return people, crm.contacts, crm.truth


def records(people: list[Any], contacts: list[Contact]) -> tuple[Records, Records]:
    a = [customer_record(p) for p in people]
    b = [contact_record(c) for c in contacts]
    return Records("subscriptions", [r for r, _ in a], [c for _, c in a]), Records(
        "crm", [r for r, _ in b], [c for _, c in b]
    )


@pytest.fixture(scope="module")
def first() -> tuple[MasterData, Any, dict[str, Any]]:
    people, contacts, _ = world()
    state: dict[str, Any] = {}
    hub = MasterData(state, RULES, anchor_id="customer_id")
    changes = hub.refresh(*records(people, contacts), NOW)
    return hub, changes, state


def test_the_first_refresh_groups_the_records_as_the_truth_says(first: tuple[MasterData, Any, dict[str, Any]]) -> None:
    _, changes, _ = first
    people, contacts, truth = world()
    golden = changes.rows["golden"]
    assert len(changes.rows["xref"]) == len(people) + len(contacts)
    by_customer = {g["customer_id"]: g for g in golden if g["customer_id"] is not None}
    assert len(by_customer) == len(people), "every customer founds a golden record"
    xref = {(x["source"], x["source_id"]): x for x in changes.rows["xref"]}
    right = sum(
        1
        for k, c in truth.items()
        if c is not None and xref[("crm", str(k))]["golden_id"] == xref[("subscriptions", str(c))]["golden_id"]
    )
    wrong = sum(
        1
        for k, c in truth.items()
        if xref[("crm", str(k))]["band"] == "match"
        and (c is None or xref[("crm", str(k))]["partner"] != f"subscriptions:{c}")
    )
    linked = sum(1 for c in truth.values() if c is not None)
    assert right / linked >= 0.95 and wrong <= 0.01 * linked, (right, linked, wrong)
    assert 0 < len(changes.rows["reviews"]) < 0.05 * len(contacts)
    assert {x["band"] for x in changes.rows["xref"]} == {"anchor", "match", "review", "no-match"}


def test_survivorship_follows_the_declared_rules(first: tuple[MasterData, Any, dict[str, Any]]) -> None:
    _, changes, _ = first
    xref = {f"{x['source']}:{x['source_id']}": x for x in changes.rows["xref"]}
    merged = [g for g in changes.rows["golden"] if g["sources"] == "subscriptions,crm"]
    assert merged
    for g in merged:
        provenance = json.loads(g["provenance"])
        assert provenance["full_name"].startswith("subscriptions:"), "source priority: the subscription system first"
        assert g["email"] == xref[provenance["email"]]["email"]
        born = [x["birth"] for x in xref.values() if x["golden_id"] == g["golden_id"] and x["birth"]]
        if born:
            assert len(g["birth"]) == max(len(b) for b in born), "most complete: a date beats a year"


def test_a_change_is_matched_alone_and_only_what_changed_is_written(
    first: tuple[MasterData, Any, dict[str, Any]],
) -> None:
    people, contacts, _ = world()
    hub = MasterData(_revive(first[2]), RULES, anchor_id="customer_id")  # as the platform saves and loads it
    nothing = hub.refresh(*records(people, contacts), LATER)
    assert all(not rows for rows in nothing.rows.values()) and all(not d for d in nothing.deleted.values())

    # A new contact for customer 5, typed by an agent; and a customer's new phone number.
    five = next(p for p in people if p.customer_id == 5)
    newcomer = Contact(799999, five.full_name.split()[0], five.full_name.split()[-1], five.email, None, None, None,
                       LATER, LATER)  # fmt: skip
    moved = [replace(p, phone="+3161234567") if p.customer_id == 9 else p for p in people]
    changes = hub.refresh(*records(moved, [*contacts, newcomer]), LATER)
    written = {f"{x['source']}:{x['source_id']}" for x in changes.rows["xref"]}
    golden_of = hub.state["golden_of"]
    reached = {golden_of["subscriptions:5"], golden_of["subscriptions:9"]}
    assert written == {r for r, g in golden_of.items() if g in reached}, "the two golden records' records alone"
    assert {"crm:799999", "subscriptions:9"} <= written
    golden_five = next(g for g in changes.rows["golden"] if g["customer_id"] == 5)
    assert golden_five["records"] >= 2 and "crm" in golden_five["sources"]
    assert {g["customer_id"] for g in changes.rows["golden"]} == {5, 9}


def _revive(state: dict[str, Any]) -> dict[str, Any]:
    import pickle

    revived: dict[str, Any] = pickle.loads(pickle.dumps(state))
    return revived


def test_an_erasure_takes_its_records_contribution_and_a_golden_record_with_no_record_left_goes() -> None:
    people, contacts, truth = world()
    state: dict[str, Any] = {}
    hub = MasterData(state, RULES, anchor_id="customer_id")
    hub.refresh(*records(people, contacts), NOW)
    prospect = next(k for k, c in truth.items() if c is None)
    twice = Counter(c for c in truth.values() if c is not None)
    customer = next(c for c, n in twice.items() if n == 1)
    its_contact = next(k for k, c in truth.items() if c == customer)
    gid = state["golden_of"][f"subscriptions:{customer}"]
    lone = state["golden_of"][f"crm:{prospect}"]

    changes = hub.refresh(
        *records([p for p in people if p.customer_id != customer], [c for c in contacts if c.contact_id != prospect]),
        LATER,
    )
    assert {"source": "crm", "source_id": str(prospect)} in changes.deleted["xref"]
    assert {"golden_id": lone} in changes.deleted["golden"], "no record left: the golden record is erased"
    if state["golden_of"].get(f"crm:{its_contact}") == gid:  # the contact was linked to the customer
        kept = next(g for g in changes.rows["golden"] if g["golden_id"] == gid)
        assert kept["customer_id"] is None and kept["sources"] == "crm", "only the CRM's contribution is left"


def test_stewards_decisions_hold_through_a_rematch() -> None:
    people, contacts, _ = world()
    state: dict[str, Any] = {}
    hub = MasterData(state, RULES, anchor_id="customer_id")
    first = hub.refresh(*records(people, contacts), NOW)
    pending = first.rows["reviews"][0]
    matched = next(x for x in first.rows["xref"] if x["band"] == "match")
    crm_key, partner = f"crm:{matched['source_id']}", matched["partner"]
    both = records(people, contacts)

    taken = hub.decide("match", pending["anchor"], pending["record"], "ana", "same birth date and street", *both, LATER)
    assert taken.rows["decisions"][0]["action"] == "match"
    assert {"anchor": pending["anchor"], "record": pending["record"]} in taken.deleted["reviews"]
    split = hub.decide("split", partner, crm_key, "ana", "a namesake", *both, LATER)
    assert split.rows["decisions"][0]["decision"] == 2
    assert state["golden_of"][crm_key] != state["golden_of"][partner]

    hub.refresh(*both, LATER, rematch=True)  # a new model, every pair scored again
    assert state["golden_of"][pending["record"]] == state["golden_of"][pending["anchor"]]
    assert state["golden_of"][crm_key] != state["golden_of"][partner]
    with pytest.raises(DecisionRefused, match="no crm record"):
        hub.decide("match", partner, "crm:1", "ana", "", *both, LATER)
    with pytest.raises(DecisionRefused, match="match or split"):
        hub.decide("merge", partner, crm_key, "ana", "", *both, LATER)
    assert len(state["decisions"]) == 2, "a refused decision leaves nothing behind"


# --- the pure parts --------------------------------------------------------------------------------


def test_golden_ids_are_stable_through_adds_merges_splits_and_erasures() -> None:
    s, k, k2 = "subscriptions:1", "crm:7", "crm:8"
    start = assign_ids([(s,), (k,)], {}, {}, {(s,): s, (k,): k})
    a, b = start.ids[(s,)], start.ids[(k,)]
    assert (a, b) == (mint(s), mint(k))
    # k (a prospect, older) and s are found to be one person: the older id survives, the other retires.
    merged = assign_ids([(k, s)], {s: a, k: b}, start.founders, {(k, s): s})
    assert merged.ids[(k, s)] == a and merged.retired == {b}
    # A second contact joins: nothing moves.
    grown = assign_ids([(k, k2, s)], {s: a, k: a}, merged.founders, {(k, k2, s): s})
    assert grown.ids[(k, k2, s)] == a and not grown.retired
    # A steward splits k off: s keeps its id; k gets back the id it was founded with.
    split = assign_ids([(k2, s), (k,)], {s: a, k: a, k2: a}, grown.founders, {(k2, s): s, (k,): k})
    assert split.ids[(k2, s)] == a and split.ids[(k,)] == mint(k)
    # s is erased: its remaining contact keeps the id.
    erased = assign_ids([(k2,), (k,)], {k2: a, k: b}, split.founders, {(k2,): k2, (k,): k})
    assert erased.ids[(k2,)] == a and erased.ids[(k,)] == b


def test_links_follow_the_bands_and_the_decisions() -> None:
    none = Decisions()
    assert link("crm:1", {"subscriptions:1": 0.99}, none, {"subscriptions:1"}).linked
    review = link("crm:1", {"subscriptions:1": 0.7}, none, {"subscriptions:1"})
    assert review.band is Band.REVIEW and not review.linked and review.partner == "subscriptions:1"
    assert link("crm:1", {}, none).band is Band.NO_MATCH
    at = NOW
    decisions = Decisions.of(
        [
            Decision(Action.MATCH, "subscriptions:2", "crm:1", "ana", "", at, 1),
            Decision(Action.SPLIT, "subscriptions:1", "crm:1", "ana", "", at, 2),
        ]
    )
    forced = link("crm:1", {"subscriptions:1": 0.99}, decisions, {"subscriptions:1", "subscriptions:2"})
    assert forced.linked and forced.partner == "subscriptions:2" and "steward match by ana" in forced.rule
    undone = Decisions.of([*_decisions(decisions), Decision(Action.SPLIT, "subscriptions:2", "crm:1", "bo", "", at, 3)])
    vetoed = link("crm:1", {"subscriptions:1": 0.99}, undone, {"subscriptions:1", "subscriptions:2"})
    assert not vetoed.linked and "split" in vetoed.rule
    assert groups(["subscriptions:1"], [forced]) == [("subscriptions:1",), ("crm:1",)]


def _decisions(d: Decisions) -> list[Decision]:
    return [*d.matched.values(), *d.split.values()]


def test_survivorship_rules_and_their_errors(tmp_path: Path) -> None:
    a = SourceRecord("subscriptions", 1, {"phone": "+311", "birth": "1980", "name": ""}, NOW, NOW)
    b = SourceRecord("crm", 2, {"phone": "+312", "birth": "1980-02-03", "name": "Bo"}, NOW, LATER)
    rules = Survivorship(("subscriptions", "crm"), {"phone": Rule.MOST_RECENT, "birth": Rule.MOST_COMPLETE,
                                                    "name": Rule.SOURCE_PRIORITY})  # fmt: skip
    golden = rules.golden([a, b])
    assert (golden["phone"].value, golden["phone"].record) == ("+312", "crm:2")
    assert golden["birth"].value == "1980-02-03"
    assert golden["name"].value == "Bo", "an empty value never survives another record's"
    bad = tmp_path / "survivorship.yaml"
    bad.write_text("sources: [a]\nattributes:\n  phone: {rule: newest}\n")
    with pytest.raises(RulesInvalid, match=r"attributes.phone: unknown rule 'newest'; choose source priority"):
        Survivorship.load(bad)


def test_the_steward_names_records_by_key_or_by_id() -> None:
    from mesh_client.stewardship import record_key

    assert record_key("42", "subscriptions") == "subscriptions:42"
    assert record_key("crm:700123", "crm") == "crm:700123"
    with pytest.raises(ValueError, match="'crm:7' is not a subscriptions record"):
        record_key("crm:7", "subscriptions")


def test_scoring_only_the_changed_records_finds_the_pairs_scoring_everything_finds() -> None:
    from mesh_mdm.matching import Matcher, pairs_of

    people, contacts, _ = world()
    anchors, others = records(people, contacts)
    left, right = list(anchors.comparables), list(others.comparables)
    with Matcher(left, right) as trained:
        model, everything = trained.save(), trained.pairs(0.05)
    changed_right, changed_left = right[::40], left[::50]
    wanted = {k for k in (c.unique_id for c in changed_right + changed_left)}
    some = pairs_of(model, left, right, changed_left, changed_right, 0.05)
    expected = {(p.left, p.right): p.probability for p in everything if p.left in wanted or p.right in wanted}
    assert {(p.left, p.right): p.probability for p in some} == pytest.approx(expected)
    assert len(expected) > len(wanted) / 2


def test_a_model_trained_while_the_inputs_were_loading_is_trained_again_on_all_of_them() -> None:
    people, contacts, _ = world()
    state: dict[str, Any] = {}
    hub = MasterData(state, RULES, anchor_id="customer_id")
    hub.refresh(*records(people[:300], contacts[:300]), NOW)
    assert state["trained_on"] == {"subscriptions": 300, "crm": 300}
    hub.refresh(*records(people, contacts), LATER)
    assert state["trained_on"] == {"subscriptions": len(people), "crm": len(contacts)}
    model = state["model"]
    hub.refresh(*records(people, contacts[:-5]), LATER)  # a few records fewer: the model stays
    assert state["model"] is model
