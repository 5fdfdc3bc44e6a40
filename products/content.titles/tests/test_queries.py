"""The example queries of content.titles (queries/) run against the running product and give the
answers the content team's database implies: SQL over the catalogue and its events, GraphQL over the
catalogue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sources.content import ContentWorkload, EventCounts
from mesh_testing.products import (
    eventually,
    example_query,
    example_rows,
    graphql,
    http_client,
    sql_rows,
    state_matches,
)

from .conftest import COLUMNS, SEEDED_TITLES, database_titles

pytestmark = pytest.mark.integration
STATE = "content.titles_titles_v1"
CHANGES = "content.titles_changes_v1"


@pytest.fixture(scope="module")
def workload(titles_product: SourceAlignedRuntime) -> EventCounts:
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
        titles = sql_rows(titles_product, f"SELECT count(*) AS n FROM {STATE}")[0]["n"]
        changes = sql_rows(titles_product, f"SELECT count(*) AS n FROM {CHANGES}")[0]["n"]
        return titles == len(expected) and changes >= SEEDED_TITLES + events

    eventually(caught_up)
    return counts


@pytest.fixture(scope="module")
def client(titles_product: SourceAlignedRuntime) -> Iterator[httpx.Client]:
    with http_client(titles_product, 30) as http:
        yield http


def test_titles_per_genre_follow_the_main_genre(titles_product: SourceAlignedRuntime, workload: EventCounts) -> None:
    titles = database_titles(titles_product.settings).values()
    per_genre = example_rows(titles_product, "titles_per_genre")
    assert {r["primary_genre"]: r["titles"] for r in per_genre} == Counter(t["genres"].split(",")[0] for t in titles)
    available = Counter(t["genres"].split(",")[0] for t in titles if t["available"])
    assert {r["primary_genre"]: r["available"] for r in per_genre if r["available"]} == available
    assert all(r["films"] + r["episodes"] == r["titles"] for r in per_genre)


def test_catalogue_by_kind_and_decade_counts_every_title(
    titles_product: SourceAlignedRuntime, workload: EventCounts
) -> None:
    titles = database_titles(titles_product.settings).values()
    rows = example_rows(titles_product, "catalogue_by_kind_and_decade")
    expected = Counter((t["kind"], t["release_year"] // 10 * 10) for t in titles)
    assert {(r["kind"], r["decade"]): r["titles"] for r in rows} == expected
    assert {r["kind"] for r in rows} == {"film", "episode"}
    assert all(0 < r["median_minutes"] <= 360 for r in rows)


def test_events_per_type_per_day_count_every_published_event(
    titles_product: SourceAlignedRuntime, workload: EventCounts
) -> None:
    days = example_rows(titles_product, "events_per_type_per_day")
    per_type: Counter[str] = Counter()
    for day in days:
        per_type[day["event_type"]] += day["events"]
    captured = sql_rows(titles_product, f"SELECT event_type, count(*) AS n FROM {CHANGES} GROUP BY event_type")
    assert per_type == Counter({r["event_type"]: r["n"] for r in captured})
    assert per_type["TitleCreated"] >= SEEDED_TITLES + workload.events["TitleCreated"]
    for event_type, count in workload.events.items():  # other tests of the session may have added more
        assert per_type[event_type] >= count
    assert set(per_type) <= {"TitleCreated", "TitleUpdated", "TitleRetired"}


def test_a_titles_history_starts_with_its_creation_and_ends_in_its_current_state(
    titles_product: SourceAlignedRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    history = example_rows(titles_product, "title_event_history")
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
    titles_product: SourceAlignedRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    found = graphql(client, example_query(titles_product, "title_by_id").text)["titlesByKey"]
    now = database_titles(titles_product.settings)[1]
    assert (found["titleId"], found["name"], found["genres"], found["available"]) == (
        1,
        now["name"],
        now["genres"],
        now["available"],
    )
    assert found["primaryGenre"] == now["genres"].split(",")[0]


def test_available_films_page_through_every_one_of_them(
    titles_product: SourceAlignedRuntime, client: httpx.Client, workload: EventCounts
) -> None:
    text = example_query(titles_product, "available_films").text
    seen: list[dict[str, Any]] = []
    snapshots: set[int] = set()
    after: str | None = None
    while True:
        page = graphql(client, text, after=after)["titles"]
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
