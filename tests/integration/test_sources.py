"""The operational sources on the real PostgreSQL: installs are idempotent and agree with the playback
generator, and what the workloads say they did is what the WAL holds, change for change and
transaction for transaction (read back through a `test_decoding` replication slot, as CDC would).

Each test gets a database of its own, so the stack's `legacy` and `content` databases are left alone."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from mesh_cli.generate import generate_app
from mesh_config import MeshSettings
from mesh_generate.playback_sessions import Catalogue, Population
from mesh_sources.content import ContentService, ContentWorkload, install_content
from mesh_sources.content_model import (
    TITLE_COLUMNS,
    TITLE_CREATED,
    TITLE_RETIRED,
    TITLE_UPDATED,
    TitleChanges,
    TitleDraft,
    TitleRuleViolation,
    TitleState,
)
from mesh_sources.crm import CrmWorkload, install_crm
from mesh_sources.db import SourceUnavailable
from mesh_sources.legacy import LegacyWorkload, install_legacy
from mesh_sources.running import run_workload
from mesh_stack import Stack

pytestmark = pytest.mark.integration

CHANGE_LINE = re.compile(r"^table public\.(\w+): (INSERT|UPDATE|DELETE):")
OUTBOX_TYPE = re.compile(r" type\[text\]:'(\w+)'")  # not aggregatetype


@dataclass(frozen=True)
class Scratch:
    """A fresh database on the session's PostgreSQL."""

    settings: MeshSettings
    name: str

    @property
    def dsn(self) -> str:
        return self.settings.postgres_dsn(self.name)

    def scalar(self, query: str) -> Any:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


@pytest.fixture
def scratch(embedded_stack: Stack) -> Iterator[Scratch]:
    settings = embedded_stack.settings
    database = Scratch(settings, f"test_sources_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(settings.postgres_dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name)))
    yield database
    with psycopg.connect(settings.postgres_dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s",
            (database.name,),
        )
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database.name)))


class Wal:
    """A logical replication slot with the `test_decoding` plugin: every committed change, as text."""

    def __init__(self, dsn: str) -> None:
        self.slot = f"test_{uuid.uuid4().hex[:8]}"
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (self.slot,))

    def changes(self) -> list[tuple[int, str]]:
        """(xid, line) of every change since the slot was created (or last read)."""
        rows = self._conn.execute(
            "SELECT xid::text::bigint, data FROM pg_logical_slot_get_changes(%s, NULL, NULL)", (self.slot,)
        )
        return [(int(xid), data) for xid, data in rows]

    def close(self) -> None:
        self._conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
        self._conn.close()


@pytest.fixture
def wal(scratch: Scratch) -> Iterator[Wal]:
    slot = Wal(scratch.dsn)
    yield slot
    slot.close()


def row_changes(lines: list[tuple[int, str]]) -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for _, line in lines:
        match = CHANGE_LINE.match(line)
        if match:
            counted[(match[1], match[2].lower())] += 1
    return counted


def transactions(lines: list[tuple[int, str]]) -> dict[int, list[str]]:
    """The changes of each committed transaction, by xid (BEGIN and COMMIT lines left out)."""
    grouped: dict[int, list[str]] = defaultdict(list)
    for xid, line in lines:
        if line.startswith("table "):
            grouped[xid].append(line)
    return dict(grouped)


# --- the legacy monolith ----------------------------------------------------------------------------


def test_installing_the_monolith_twice_seeds_it_once_with_the_playback_population(scratch: Scratch) -> None:
    first = install_legacy(scratch.dsn)
    second = install_legacy(scratch.dsn)

    assert first.seeded and not second.seeded
    assert first.rows["plans"] == 4
    assert first.rows["customers"] == first.rows["subscriptions"] == 10_000
    assert first.rows["payments"] > 10_000
    for table, count in first.rows.items():
        assert scratch.scalar(f"SELECT count(*) FROM {table}") == count
    population = Population.generate(10_000)
    with psycopg.connect(scratch.dsn) as conn:
        countries = conn.execute("SELECT customer_id, country FROM customers ORDER BY customer_id").fetchall()
    assert [c for c, _ in countries] == list(range(1, 10_001))
    assert all(country == population.country_of(customer_id) for customer_id, country in countries)
    # New ids continue after the seeded ones.
    assert scratch.scalar("SELECT nextval('customers_customer_id_seq')") == 10_001


def test_the_workload_counts_exactly_what_the_wal_captured(scratch: Scratch) -> None:
    install_legacy(scratch.dsn, customers=500)
    workload = LegacyWorkload.connect(scratch.dsn, seed=4)
    # Erased behind the workload's back: it picks some of them, finds them gone, and picks again.
    with psycopg.connect(scratch.dsn) as conn:
        conn.execute("DELETE FROM customers WHERE customer_id % 10 = 0")
    before = {t: scratch.scalar(f"SELECT count(*) FROM {t}") for t in ("customers", "subscriptions", "payments")}
    wal = Wal(scratch.dsn)
    try:
        with workload:
            tally = run_workload(workload.step, rate=1_000_000, count=600)
        captured = wal.changes()
    finally:
        wal.close()

    counts = workload.counts
    assert tally.transactions == counts.transactions == 600
    assert tally.changes == counts.row_changes
    assert counts.skipped > 0
    assert row_changes(captured) == counts.rows  # cascaded deletes included
    assert len(transactions(captured)) == counts.transactions
    assert counts.operations.keys() == {
        "sign_up",
        "convert_trial",
        "change_plan",
        "pause",
        "resume",
        "cancel",
        "monthly_payment",
        "failed_payment",
        "retry_payment",
        "edit_profile",
        "refund",
        "erase",
    }
    for table, count in before.items():
        assert scratch.scalar(f"SELECT count(*) FROM {table}") == count + counts.net_rows(table)
    # Sign-ups never reuse the ids of erased customers.
    assert scratch.scalar("SELECT count(*) FROM customers WHERE customer_id <= 500 AND customer_id % 10 = 0") == 0
    signed_up = scratch.scalar("SELECT count(*) FROM customers WHERE customer_id > 500")
    assert isinstance(signed_up, int) and 0 < signed_up <= counts.operations["sign_up"]


# --- the content database ----------------------------------------------------------------------------


def test_installing_the_content_db_twice_seeds_the_catalogue_and_its_events_once(scratch: Scratch) -> None:
    # The slot exists before the seed is written, as the outbox connector's does (capture.py).
    wal = Wal(scratch.dsn)
    try:
        first = install_content(scratch.dsn, titles=200)
        second = install_content(scratch.dsn, titles=200)
        captured = wal.changes()
    finally:
        wal.close()

    assert first.seeded and first.rows == {"titles": 200, "outbox events": 200}
    assert not second.seeded
    assert scratch.scalar("SELECT count(*) FROM titles") == 200
    assert scratch.scalar("SELECT count(*) FROM outbox") == 0  # deleted as written: the events are in the WAL
    assert row_changes(captured) == {("titles", "insert"): 200, ("outbox", "insert"): 200, ("outbox", "delete"): 200}
    assert len(transactions(captured)) == 1
    created = [OUTBOX_TYPE.search(line) for _, line in captured if line.startswith("table public.outbox: INSERT")]
    assert {m[1] for m in created if m} == {TITLE_CREATED}

    catalogue = Catalogue.generate(200)
    with psycopg.connect(scratch.dsn) as conn:
        rows = conn.execute("SELECT title_id, kind, duration_s FROM titles ORDER BY title_id").fetchall()
    assert rows == [(t.title_id, t.kind, t.duration_ms // 1000) for t in catalogue.titles]


def test_kept_outbox_events_carry_each_title_exactly_as_stored(scratch: Scratch) -> None:
    install_content(scratch.dsn, titles=50, delete_outbox=False)

    columns = sql.SQL(", ").join(map(sql.Identifier, TITLE_COLUMNS))
    with psycopg.connect(scratch.dsn) as conn:
        states = {
            s.title_id: s.payload()
            for s in map(TitleState.from_row, conn.execute(sql.SQL("SELECT {} FROM titles").format(columns)))
        }
        events = conn.execute("SELECT aggregatetype, aggregateid, type, payload FROM outbox").fetchall()

    assert len(events) == 50
    for aggregatetype, aggregateid, event_type, payload in events:
        assert (aggregatetype, event_type) == ("title", TITLE_CREATED)
        decoded = json.loads(payload)
        assert list(decoded) == list(TITLE_COLUMNS)
        assert decoded == states[int(aggregateid)]


def test_each_change_writes_the_title_and_its_event_in_one_transaction(scratch: Scratch) -> None:
    install_content(scratch.dsn, titles=20)
    wal = Wal(scratch.dsn)
    try:
        with ContentService.open(scratch.dsn) as service:
            draft = TitleDraft("The Quiet Archive", "film", ("drama", "crime"), 2024, 6_300, "R")
            created = service.add_title(draft)
            updated = service.update_title(3, TitleChanges(genres=("comedy",)))
            retired = service.retire_title(created.state.title_id)
            stored = service.get_title(created.state.title_id)
        captured = wal.changes()
    finally:
        wal.close()

    assert (created.type, updated.type, retired.type) == (TITLE_CREATED, TITLE_UPDATED, TITLE_RETIRED)
    assert created.state.title_id == 21
    assert stored == retired.state and not stored.available
    assert json.loads(retired.payload)["available"] is False
    grouped = list(transactions(captured).values())
    assert [[line.split(":")[0] + ":" + line.split(":")[1] for line in t] for t in grouped] == [
        ["table public.titles: INSERT", "table public.outbox: INSERT", "table public.outbox: DELETE"],
        ["table public.titles: UPDATE", "table public.outbox: INSERT", "table public.outbox: DELETE"],
        ["table public.titles: UPDATE", "table public.outbox: INSERT", "table public.outbox: DELETE"],
    ]
    assert scratch.scalar("SELECT count(*) FROM outbox") == 0


def test_a_failing_change_writes_neither_the_title_nor_the_event(scratch: Scratch) -> None:
    install_content(scratch.dsn, titles=5)
    fixed = uuid.UUID(int=1)
    with psycopg.connect(scratch.dsn, autocommit=True) as conn:
        service = ContentService(conn, delete_outbox=False, new_event_id=lambda: fixed)
        before = service.get_title(2)
        service.update_title(1, TitleChanges(name="First Edit"))

        # The outbox insert fails (the event id is taken) after the title was updated: both roll back.
        with pytest.raises(psycopg.errors.UniqueViolation):
            service.update_title(2, TitleChanges(name="Never Stored"))
        # A change the rules refuse fails before anything is written.
        with pytest.raises(TitleRuleViolation):
            service.update_title(2, TitleChanges(genres=("telenovela",)))

        assert service.get_title(2) == before
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
        assert service.get_title(1).name == "First Edit"


def test_the_content_workload_counts_the_events_in_the_wal(scratch: Scratch) -> None:
    install_content(scratch.dsn, titles=100)
    wal = Wal(scratch.dsn)
    try:
        with ContentWorkload.connect(scratch.dsn, seed=6) as workload:
            run_workload(workload.step, rate=1_000_000, count=300)
        captured = wal.changes()
    finally:
        wal.close()

    types = Counter(
        m[1]
        for _, line in captured
        if line.startswith("table public.outbox: INSERT") and (m := OUTBOX_TYPE.search(line))
    )
    assert types == workload.counts.events
    assert sum(types.values()) == workload.counts.transactions == len(transactions(captured)) == 300
    assert set(types) == {TITLE_CREATED, TITLE_UPDATED, TITLE_RETIRED}


# --- the commands ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "setting"), [("legacy", "LEGACY_DB"), ("content", "CONTENT_DB")])
def test_the_command_installs_runs_a_count_and_summarises(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch, command: str, setting: str
) -> None:
    for name, value in scratch.settings.environment().items():
        if name.startswith("MESH_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv(f"MESH_{setting}", scratch.name)
    runner = CliRunner()

    result = runner.invoke(generate_app, [command, "--count", "25", "--rate", "10000", "--seed", "3"])

    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    assert "seeded" in output and "already seeded" not in output
    assert "done: 25 transactions" in output and f"in {scratch.name}" in output and "seed 3" in output
    again = runner.invoke(generate_app, [command, "--count", "1", "--rate", "10000"])
    assert again.exit_code == 0 and "already seeded" in again.output


def test_the_crm_command_seeds_from_the_monolith_and_changes_contacts(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in scratch.settings.environment().items():
        if name.startswith("MESH_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("MESH_LEGACY_DB", scratch.name)
    monkeypatch.setenv("MESH_CRM_DB", scratch.name)
    runner = CliRunner()
    refused = runner.invoke(generate_app, ["crm", "--count", "5", "--rate", "10000"])
    assert refused.exit_code == 1 and "mesh cdc start legacy" in " ".join(refused.output.split())

    install_legacy(scratch.dsn, customers=50)
    result = runner.invoke(generate_app, ["crm", "--count", "25", "--rate", "10000", "--seed", "3"])

    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    assert "seeded" in output and "contacts" in output and "done: 25 transactions" in output
    assert "second contact" in output and "erase" in output


def test_a_legacy_database_with_customers_but_no_plans_is_refused_with_what_to_do(scratch: Scratch) -> None:
    install_legacy(scratch.dsn, customers=5)
    with psycopg.connect(scratch.dsn) as conn:
        conn.execute("DELETE FROM payments; DELETE FROM subscriptions; DELETE FROM plans")
    with pytest.raises(SourceUnavailable, match="has customers but no plans"):
        install_legacy(scratch.dsn, customers=5)


# --- the customer-care CRM ----------------------------------------------------------------------------


def test_the_crm_is_seeded_once_from_the_monoliths_people_with_the_truth_kept_apart(scratch: Scratch) -> None:
    install_legacy(scratch.dsn, customers=400)
    first = install_crm(scratch.dsn, scratch.dsn)
    second = install_crm(scratch.dsn, scratch.dsn)
    assert first.seeded and not second.seeded
    contacts = scratch.scalar("SELECT count(*) FROM contacts")
    assert contacts == first.rows["contacts"] > 400 * 0.8
    # Every contact has its truth, in a schema of its own; the customers named are the monolith's.
    assert scratch.scalar("SELECT count(*) FROM evaluation.contact_truth") == contacts
    assert scratch.scalar("SELECT count(*) FROM contacts c LEFT JOIN evaluation.contact_truth t USING (contact_id) "
                          "WHERE t.contact_id IS NULL") == 0  # fmt: skip
    assert (
        scratch.scalar(
            "SELECT count(*) FROM evaluation.contact_truth t LEFT JOIN customers c USING (customer_id) "
            "WHERE t.customer_id IS NOT NULL AND c.customer_id IS NULL"
        )
        == 0
    )
    assert scratch.scalar("SELECT count(*) FROM evaluation.contact_truth WHERE customer_id IS NULL") == 60
    assert scratch.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
                          "AND table_name LIKE '%truth%'") == 0  # fmt: skip


def test_the_crm_workload_keeps_the_truth_beside_each_change_in_one_transaction(scratch: Scratch, wal: Wal) -> None:
    install_legacy(scratch.dsn, customers=300)
    install_crm(scratch.dsn, scratch.dsn)
    wal.changes()  # the seed
    with CrmWorkload.connect(scratch.dsn, scratch.dsn, seed=3) as crm:
        for _ in range(120):
            crm.step()
        counts = dict(crm.counts)
    assert set(counts) >= {"edit", "second_contact", "prospect", "erase"}
    changed = transactions(wal.changes())
    assert len(changed) == sum(n for op, n in counts.items() if op != "skipped")
    for lines in changed.values():
        kinds = sorted(line.split(":")[0] + ":" + line.split(":")[1] for line in lines)
        # An insert or an erasure writes the contact and its truth together; an edit, the contact alone.
        assert kinds in (
            ["table evaluation.contact_truth: INSERT", "table public.contacts: INSERT"],
            ["table evaluation.contact_truth: DELETE", "table public.contacts: DELETE"],
            ["table public.contacts: UPDATE"],
        ), lines
    assert scratch.scalar("SELECT count(*) FROM contacts") == scratch.scalar(
        "SELECT count(*) FROM evaluation.contact_truth"
    )
