"""customer-360's matching at the demo's size, offline: 10,000 customers of the monolith against the CRM's
contacts of 11,000 people (about 12,000 contacts: most are those customers, some never subscribed),
generated as `mesh demo` seeds them, with the generator's truth.

Three runs, each in a fresh process so that its peak memory is its own:
- **splink**: the baseline. Splink on DuckDB alone, on the same comparable records with the same model
  settings: train, then score every pair (what any team would write first).
- **hub, full**: customer-360's first refresh (`mesh_mdm.MasterData`): the same training and scoring,
  then links, golden ids, survivorship and the rows of its four tables.
- **hub, incremental**: one contact changed at a time, 40 times, on a hub that has seen everything: the
  refresh that follows each change (what runs under the demo's traffic).

Quality of the match band against the truth: precision, recall, F1, and the share of contacts in review.

    .venv/bin/python -m bench.mdm_matching

Results: bench/results/mdm_matching.json.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import multiprocessing
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import console, percentile, write_results

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PEOPLE, CUSTOMERS = 11_000, 10_000
CHANGES = 40


def _world() -> tuple[Any, Any, dict[int, int | None]]:
    from mesh_sources.crm_seed import crm_seed, seeded_people
    from mesh_sources.legacy_seed import legacy_seed

    people = seeded_people(legacy_seed(PEOPLE, NOW, seed=20).customers)
    crm = crm_seed(people, NOW, seed=20)
    customers = {p.customer_id for p in people[:CUSTOMERS]}
    truth = {k: (c if c in customers else None) for k, c in crm.truth.items()}
    return people[:CUSTOMERS], crm.contacts, truth


@functools.cache
def _product() -> Any:
    """customer-360's own logic (how a customer and a contact become records), loaded from its folder."""
    spec = importlib.util.spec_from_file_location("_c360", ROOT / "products" / "customers.customer-360" / "product.py")
    assert spec is not None and spec.loader is not None
    product = importlib.util.module_from_spec(spec)
    sys.modules["_c360"] = product
    spec.loader.exec_module(product)
    return product


def _records(people: Any, contacts: Any) -> tuple[Any, Any]:
    from mesh_mdm import Records

    product = _product()
    made = [product.customer(_customer_row(p)) for p in people]
    typed = [product.contact(_contact_row(c)) for c in contacts]
    anchors = Records("subscriptions", [r for r, _ in made], [c for _, c in made])
    others = Records("crm", [r for r, _ in typed], [c for _, c in typed])
    return anchors, others


def _customer_row(p: Any) -> dict[str, Any]:
    return {"customer_id": p.customer_id, "full_name": p.full_name, "email": p.email, "phone": p.phone,
            "country": p.country, "birth_year": p.birth_year, "created_at": NOW, "updated_at": NOW}  # fmt: skip


def _contact_row(c: Any) -> dict[str, Any]:
    return {"contact_id": c.contact_id, "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
            "phone": c.phone, "country": c.country, "birth_date": c.birth_date, "created_at": c.created_at,
            "updated_at": c.updated_at}  # fmt: skip


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_splink(_: None) -> dict[str, Any]:
    from mesh_mdm.matching import Matcher

    people, contacts, truth = _world()
    anchors, others = _records(people, contacts)
    before = _peak_mib()
    began = time.perf_counter()
    with Matcher(list(anchors.comparables), list(others.comparables)) as matcher:
        candidates = matcher.candidates(0.05)
    seconds = time.perf_counter() - began
    quality = _quality(candidates, truth, len(contacts))
    return {"seconds": seconds, "peak_mib": _peak_mib(), "peak_before_mib": before, "quality": quality}


def run_hub(_: None) -> dict[str, Any]:
    from mesh_mdm import MasterData
    from mesh_mdm.matching import Band, Candidate

    people, contacts, truth = _world()
    anchors, others = _records(people, contacts)
    state: dict[str, Any] = {}
    hub = MasterData(state, _product().RULES, anchor_id="customer_id")
    before = _peak_mib()
    began = time.perf_counter()
    changes = hub.refresh(anchors, others, NOW)
    seconds = time.perf_counter() - began
    peak = _peak_mib()
    candidates = [
        Candidate(x["partner"], f"crm:{x['source_id']}", x["match_probability"], Band(x["band"]))
        for x in changes.rows["xref"]
        if x["source"] == "crm" and x["partner"] is not None
    ]
    quality = _quality(candidates, truth, len(contacts))

    import pickle

    latencies = []
    moved = list(contacts)
    for n in range(CHANGES):
        i = (n * 271) % len(moved)
        moved[i] = replace(moved[i], phone=f"+44 7700 9{n:05d}", updated_at=NOW + dt.timedelta(minutes=n + 1))
        anchors, others = _records(people, moved)
        began = time.perf_counter()
        hub.refresh(anchors, others, NOW + dt.timedelta(minutes=n + 1))
        latencies.append(time.perf_counter() - began)
    return {
        "seconds": seconds,
        "peak_mib": peak,
        "peak_before_mib": before,
        "quality": quality,
        "rows": {t: len(r) for t, r in changes.rows.items()},
        "state_mib": len(pickle.dumps(state)) / 2**20,
        "incremental_p50_s": percentile(latencies, 50),
        "incremental_p99_s": percentile(latencies, 99),
    }


def _quality(candidates: Any, truth: dict[int, int | None], contacts: int) -> dict[str, float]:
    from mesh_mdm.evaluation import quality

    wanted = {f"crm:{k}": (f"subscriptions:{c}" if c is not None else None) for k, c in truth.items()}
    q = quality(candidates, wanted, contacts)
    return {"precision": q.precision, "recall": q.recall, "f1": q.f1, "review_share": q.review_share}


def _in_a_process(run: Any) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(run, (None,))
    return result


def main() -> None:
    console.print(f"{CUSTOMERS:,} customers against the CRM contacts of {PEOPLE:,} people, each run in a process")
    splink = _in_a_process(run_splink)
    console.print(f"splink alone: {splink['seconds']:.1f} s, peak {splink['peak_mib']:.0f} MiB")
    hub = _in_a_process(run_hub)
    console.print(f"customer-360's hub, first refresh: {hub['seconds']:.1f} s, peak {hub['peak_mib']:.0f} MiB")
    ratios = {"time": hub["seconds"] / splink["seconds"], "peak_memory": hub["peak_mib"] / splink["peak_mib"]}
    console.print(
        f"ratio to Splink alone: time {ratios['time']:.2f}, peak memory {ratios['peak_memory']:.2f}; "
        f"one change after: p50 {hub['incremental_p50_s']:.2f} s, p99 {hub['incremental_p99_s']:.2f} s"
    )
    q = hub["quality"]
    console.print(
        f"match band against the truth: precision {q['precision']:.3f}, recall {q['recall']:.3f}, F1 {q['f1']:.3f}; "
        f"in review {100 * q['review_share']:.1f} %"
    )
    write_results(
        "mdm_matching",
        {"customers": CUSTOMERS, "people_in_crm": PEOPLE, "splink": splink, "hub": hub, "ratio_to_splink": ratios},
    )


if __name__ == "__main__":
    main()
