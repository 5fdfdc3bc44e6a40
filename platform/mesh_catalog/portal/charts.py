"""Small SVG line charts of a product's observations over time (rows, freshness), drawn on the server:
a picture that needs no chart library and no script. Pure: points in, SVG markup out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH, HEIGHT, PAD = 320, 90, 6


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str  # markup, safe to insert: every text in it is escaped
    latest: str


def line_chart(
    title: str,
    points: Sequence[tuple[datetime, float | None]],
    unit: str = "",
    objective: float | None = None,
) -> Chart:
    """A line through the known values (None leaves a gap), with a dashed line at `objective`."""
    known = [(t, v) for t, v in points if v is not None]
    label = f"{title} over time"
    if len(known) < 2:
        text = "not enough observations yet" if not known else f"{_fmt(known[-1][1])}{unit}"
        svg = (
            f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {HEIGHT}">'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(text)}</text></svg>'
        )
        return Chart(title, svg, text)
    t0, t1 = known[0][0].timestamp(), known[-1][0].timestamp()
    values = [v for _, v in known] + ([objective] if objective is not None else [])
    low, high = min(0.0, *values), max(values)
    span_t, span_v = max(t1 - t0, 1e-9), max(high - low, 1e-9)

    def x(t: datetime) -> float:
        return PAD + (t.timestamp() - t0) / span_t * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - (v - low) / span_v * (HEIGHT - 2 * PAD)

    segments: list[list[str]] = []
    current: list[str] = []
    for t, v in points:
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        if t.timestamp() >= t0:
            current.append(f"{x(t):.1f},{y(v):.1f}")
    if current:
        segments.append(current)
    lines = "".join(f'<polyline class="series" points="{" ".join(s)}"/>' for s in segments if len(s) > 1)
    goal = ""
    if objective is not None:
        goal = (
            f'<line class="objective" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(objective):.1f}" y2="{y(objective):.1f}">'
            f"<title>objective {escape(_fmt(objective))}{escape(unit)}</title></line>"
        )
    latest = f"{_fmt(known[-1][1])}{unit}"
    svg = (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {HEIGHT}">'
        f"{goal}{lines}"
        f'<text class="max" x="{PAD}" y="12">{escape(_fmt(high))}{escape(unit)}</text></svg>'
    )
    return Chart(title, svg, latest)


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
