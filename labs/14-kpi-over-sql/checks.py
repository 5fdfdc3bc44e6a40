"""Lab 14's checks: the learner's answers against the KPI product's own tables (read directly from the
lakehouse), and their reads of the product over its SQL port (the access log)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mesh_labs import Lab, LabMesh, Outcome, failed, passed

lab = Lab()
PRODUCT = "content-insights.kpis"
PRODUCT_ID = "urn:mesh:content-insights:kpis:v1"
SQL_PORTS = {"sql", "sql_http"}


def _rows(mesh: LabMesh, table: str) -> list[dict[str, Any]]:
    return mesh.iceberg_rows(f"content_insights.kpis_{table}_v1")


def _top_genres(mesh: LabMesh) -> set[str]:
    hours: dict[str, float] = defaultdict(float)
    for row in _rows(mesh, "genre_daily"):
        hours[row["genre"]] += row["watch_hours"] or 0.0
    best = max(hours.values(), default=None)
    return {g for g, h in hours.items() if best is not None and abs(h - best) < 1e-9}


def _best_titles(mesh: LabMesh) -> set[int]:
    rows = _rows(mesh, "title_daily")
    newest = max((r["day"] for r in rows), default=None)
    eligible = [r for r in rows if r["day"] == newest and (r["sessions"] or 0) >= 3]
    best = max((r["completion_rate"] or 0.0 for r in eligible), default=None)
    return {r["title_id"] for r in eligible if best is not None and abs((r["completion_rate"] or 0.0) - best) < 1e-9}


def _at_risk(mesh: LabMesh) -> int | None:
    rows = sorted(_rows(mesh, "daily"), key=lambda r: r["day"])
    return int(rows[-1]["at_risk_subscribers"]) if rows else None


def _over_sql(mesh: LabMesh, answer: str, right: bool, what: str) -> Outcome:
    if not right:
        return failed(f"{answer!r} is not {what} (the KPIs may have refreshed since: ask again)")
    if not SQL_PORTS & mesh.learner_ports(PRODUCT_ID):
        return failed(f"right, but not asked over the product's SQL port: use mesh query {PRODUCT} or a SQL client")
    return passed(f"{answer}: {what}, asked over SQL")


@lab.setup
def kpis_computed(mesh: LabMesh) -> None:
    mesh.wait_for(lambda: _best_titles(mesh) and _top_genres(mesh), "the KPIs of the traffic", 180, pause_s=3)


@lab.check("genre")
def genre(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("genre").strip()
    return _over_sql(mesh, answer, answer.lower() in {g.lower() for g in _top_genres(mesh)}, "the most watched genre")


@lab.solve("genre")
def ask_genre(mesh: LabMesh) -> None:
    _, rows = mesh.learner.sql(
        PRODUCT,
        "SELECT genre, sum(watch_hours) AS hours FROM content_insights.kpis_genre_daily_v1 "
        "GROUP BY genre ORDER BY hours DESC LIMIT 1",
    )
    mesh.give_answer("genre", rows[0][0])


@lab.check("title")
def title(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("title").strip()
    right = answer.isdigit() and int(answer) in _best_titles(mesh)
    return _over_sql(mesh, answer, right, "the best-completed title of the newest day")


@lab.solve("title")
def ask_title(mesh: LabMesh) -> None:
    _, rows = mesh.learner.sql(
        PRODUCT,
        "SELECT title_id FROM content_insights.kpis_title_daily_v1 "
        "WHERE day = (SELECT max(day) FROM content_insights.kpis_title_daily_v1) AND sessions >= 3 "
        "ORDER BY completion_rate DESC LIMIT 1",
    )
    mesh.give_answer("title", rows[0][0])


@lab.check("at-risk")
def at_risk(mesh: LabMesh) -> Outcome:
    answer = mesh.answer("at-risk").strip()
    return _over_sql(mesh, answer, answer == str(_at_risk(mesh)), "the subscribers at risk on the newest day")


@lab.solve("at-risk")
def ask_at_risk(mesh: LabMesh) -> None:
    _, rows = mesh.learner.sql(
        PRODUCT, "SELECT at_risk_subscribers FROM content_insights.kpis_daily_v1 ORDER BY day DESC LIMIT 1"
    )
    mesh.give_answer("at-risk", rows[0][0])
