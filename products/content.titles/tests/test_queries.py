"""The example queries of content.titles (queries/) run against the running product and give the
answers the content team's database implies: SQL over the catalogue and its events, GraphQL over the
catalogue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from mesh_sdk.product import NamedQuery
from mesh_sdk.runtime import ProductRuntime
from mesh_sdk.testing import eventually, state_matches
from mesh_sources.content import ContentWorkload, EventCounts

from .conftest import COLUMNS, FOLDER, SEEDED_TITLES, database_titles

pytestmark = pytest.mark.integration
QUERY_FILES = sorted(p for p in (FOLDER / "queries").glob("*") if p.suffix in (".sql", ".graphql"))
STATE = "content.titles_titles_v1"
CHANGES = "content.titles_changes_v1"


@pytest.fixture(scope="module")
def workload(titles_product: ProductRuntime) -> EventCounts:
    """Titles added, edited and retired on top of the seed, relayed and queryable over SQL."""
    settings = titles_product.settings
    with ContentWorkload.connect(settings.postgres_dsn(settings.content_db), seed=29) as content:
        for _ in range(80):
            content.step()
        counts = content.counts
    expected = database_titles(settings)
    eventually(lambda: state_matches(titles_product, expected, COLUMNS), attempts=300)
    events = sum(counts.events.values())

    def caught_up() -> bool:  # the SQL port refreshes its views shortly after each commit
        titles = _rows(titles_product, f"SELECT count(*) AS n FROM {STATE}")[0]["n"]
        changes = _rows(titles_product, f"SELECT count(*) AS n FROM {CHANGES}")[0]["n"]
        return titles == len(expected) and changes >= SEEDED_TITLES + events

    eventually(caught_up)
    return counts


@pytest.fixture(scope="module")
def client(titles_product: ProductRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{titles_product.options.http_port}", timeout=30) as http:
        yield http


def _rows(rt: ProductRuntime, sql: str) -> list[dict[str, Any]]:
    return rt.sql_query(sql.strip().rstrip(";"), []).to_pylist()


def _query(rt: ProductRuntime, name: str) -> NamedQuery:
    return next(q for q in rt.product.queries if q.name == name)


def _sql(rt: ProductRuntime, name: str) -> list[dict[str, Any]]:
    return _rows(rt, _query(rt, name).text)


def _graphql(http: httpx.Client, text: str, **variables: Any) -> dict[str, Any]:
    answer = http.post("/graphql", json={"query": text, "variables": variables}).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def test_the_catalog_holds_documented_sql_and_graphql_queries(
    titles_product: ProductRuntime, client: httpx.Client
) -> None:
    queries = titles_product.product.queries
    assert len(queries) == len(QUERY_FILES)
    assert sum(q.language == "sql" for q in queries) >= 3
    assert sum(q.language == "graphql" for q in queries) >= 2
    assert all(len(q.description) > 40 for q in queries), "each query says what it answers"
    served = {q["name"] for q in client.get("/").json()["queries"]}
    assert served == {p.stem for p in QUERY_FILES}


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_every_example_query_runs_on_its_port(
    path: Path, titles_product: ProductRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    text = path.read_text()
    if path.suffix == ".sql":
        response = client.post("/sql", json={"sql": text.strip().rstrip(";")})
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        assert rows, "the seed guarantees rows"
        dsn = f"postgresql://analyst@127.0.0.1:{titles_product.options.sql_port}/content"
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert len(conn.execute(text).fetchall()) == len(rows), "the PostgreSQL port gives the same answer"
    else:
        data = _graphql(client, text)
        assert data and all(value for value in data.values()), "titles are never deleted: the seed guarantees rows"


def test_titles_per_genre_follow_the_main_genre(titles_product: ProductRuntime, workload: EventCounts) -> None:
    titles = database_titles(titles_product.settings).values()
    per_genre = _sql(titles_product, "titles_per_genre")
    assert {r["primary_genre"]: r["titles"] for r in per_genre} == Counter(t["genres"].split(",")[0] for t in titles)
    available = Counter(t["genres"].split(",")[0] for t in titles if t["available"])
    assert {r["primary_genre"]: r["available"] for r in per_genre if r["available"]} == available
    assert all(r["films"] + r["episodes"] == r["titles"] for r in per_genre)


def test_catalogue_by_kind_and_decade_counts_every_title(titles_product: ProductRuntime, workload: EventCounts) -> None:
    titles = database_titles(titles_product.settings).values()
    rows = _sql(titles_product, "catalogue_by_kind_and_decade")
    expected = Counter((t["kind"], t["release_year"] // 10 * 10) for t in titles)
    assert {(r["kind"], r["decade"]): r["titles"] for r in rows} == expected
    assert {r["kind"] for r in rows} == {"film", "episode"}
    assert all(0 < r["median_minutes"] <= 360 for r in rows)


def test_events_per_type_per_day_count_every_published_event(
    titles_product: ProductRuntime, workload: EventCounts
) -> None:
    days = _sql(titles_product, "events_per_type_per_day")
    per_type: Counter[str] = Counter()
    for day in days:
        per_type[day["event_type"]] += day["events"]
    captured = _rows(titles_product, f"SELECT event_type, count(*) AS n FROM {CHANGES} GROUP BY event_type")
    assert per_type == Counter({r["event_type"]: r["n"] for r in captured})
    assert per_type["TitleCreated"] >= SEEDED_TITLES + workload.events["TitleCreated"]
    for event_type, count in workload.events.items():  # other tests of the session may have added more
        assert per_type[event_type] >= count
    assert set(per_type) <= {"TitleCreated", "TitleUpdated", "TitleRetired"}


def test_a_titles_history_starts_with_its_creation_and_ends_in_its_current_state(
    titles_product: ProductRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    history = _sql(titles_product, "title_event_history")
    positions = [h["position"] for h in history]
    assert history and positions == sorted(positions)
    assert history[0]["event_type"] == "TitleCreated" and history[0]["op"] == "c"
    assert all(h["op"] == "u" for h in history[1:])
    now = database_titles(titles_product.settings)[1]
    assert (history[-1]["name"], history[-1]["genres"], history[-1]["available"]) == (
        now["name"],
        now["genres"],
        now["available"],
    )
    rest = client.get("/changes", params={"title_id": 1, "sort": "position"}).json()["items"]
    assert [r["event_id"] for r in rest] == [h["event_id"] for h in history]


def test_title_by_id_is_the_catalogue_row(
    titles_product: ProductRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    found = _graphql(client, _query(titles_product, "title_by_id").text)["titlesByKey"]
    now = database_titles(titles_product.settings)[1]
    assert (found["titleId"], found["name"], found["genres"], found["available"]) == (
        1,
        now["name"],
        now["genres"],
        now["available"],
    )
    assert found["primaryGenre"] == now["genres"].split(",")[0]


def test_available_films_page_through_every_one_of_them(
    titles_product: ProductRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    text = _query(titles_product, "available_films").text
    seen: list[dict[str, Any]] = []
    snapshots: set[int] = set()
    after: str | None = None
    while True:
        page = _graphql(client, text, after=after)["titles"]
        assert len(page["items"]) <= 25
        seen += page["items"]
        snapshots.add(page["snapshotId"])
        after = page["nextCursor"]
        if after is None:
            break
    films = {k for k, t in database_titles(titles_product.settings).items() if t["kind"] == "film" and t["available"]}
    ids = [t["titleId"] for t in seen]
    assert sorted(ids) == sorted(films)
    assert len(ids) > 25, "more than one page"
    years = [t["releaseYear"] for t in seen]
    assert years == sorted(years, reverse=True)
    assert len(snapshots) == 1, "every page reads the snapshot of the first"
