"""Helpers for products' own tests: run a product in-process against a stack, and wait for it."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import psycopg.sql

from mesh_config import MeshSettings
from mesh_sdk.runtime.compose import build_runtime
from mesh_sdk.runtime.host import ProductHost
from mesh_sdk.runtime.options import RuntimeOptions
from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_sdk.spec.product import NamedQuery, load_product

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_product(folder: Path, settings: MeshSettings, **options: object) -> Iterator[Any]:
    """The product with all its ports, on free ports, stopped on exit (a SourceAlignedRuntime, or a
    DerivedRuntime for a product derived from others)."""
    opts = RuntimeOptions(http_port=free_port(), sql_port=free_port(), control_token="test-token", **options)  # type: ignore[arg-type]
    runtime = build_runtime(load_product(folder), settings, opts)
    try:  # a start that fails part way may have started threads and clients: stop them too
        runtime.start()
        yield runtime
    finally:
        runtime.stop()


def consumer_key(runtime: ProductHost, consumer: str = "tester", *, pii: bool = True) -> str:
    """An API key known to this process alone, with a grant on the product (including PII unless
    `pii` is False): tests of a product need no catalog to be let in."""
    return runtime.access.admit(consumer, pii=pii, purpose="the product's tests")


def http_client(runtime: ProductHost, timeout_s: float = 60, *, key: str | None = None) -> httpx.Client:
    """A client of the product's HTTP ports (REST, GraphQL, discovery, observation, control), sending
    `key` (by default a test consumer's, granted PII; "" sends none)."""
    key = consumer_key(runtime) if key is None else key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{runtime.options.http_port}", timeout=timeout_s, headers=headers)


def sql_dsn(runtime: ProductHost, consumer: str = "tester", *, key: str | None = None) -> str:
    """A PostgreSQL URL of the product's SQL port: the consumer logs in with its API key as password."""
    password = consumer_key(runtime, consumer) if key is None else key
    domain = runtime.product.descriptor.domain
    return f"postgresql://{consumer}:{password}@127.0.0.1:{runtime.options.sql_port}/{domain}"


def table_rows(settings: MeshSettings, name: str, snapshot: int | None = None) -> list[dict[str, Any]]:
    """An Iceberg table's rows as of `snapshot` (its newest when None), read as a consumer reads them."""
    from mesh_adapters.lakehouse import iceberg_catalog
    from mesh_sdk.storage.upstream import UpstreamTable

    table = UpstreamTable(iceberg_catalog(settings), name)
    rows: list[dict[str, Any]] = table.rows(snapshot if snapshot is not None else table.newest_snapshot()).to_pylist()
    return rows


def _comparable(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value


REPOSITORY_PRODUCTS = Path(__file__).resolve().parents[2] / "products"


def product_folders(root: Path = REPOSITORY_PRODUCTS) -> list[Path]:
    """Every product folder under `root` (the repository's products by default), by name."""
    return sorted(p for p in root.iterdir() if (p / "dataproduct.yaml").exists())


def rows_by_key(dsn: str, table: str, columns: Sequence[str]) -> dict[Any, dict[str, Any]]:
    """A source database table's rows on `columns`, by the first column (its key): what a product's
    current state must equal."""
    query = psycopg.sql.SQL("SELECT {} FROM {}").format(
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)), psycopg.sql.Identifier(table)
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(query).fetchall()
    return {r[0]: dict(zip(columns, r, strict=True)) for r in rows}


def state_matches(
    runtime: SourceAlignedRuntime, expected: Mapping[Any, Mapping[str, Any]], columns: Sequence[str]
) -> bool:
    """Whether a captured table's current state in the lakehouse equals `expected` (rows by key,
    as the source database holds them) on `columns`, row for row."""
    assert runtime.state is not None, "only products fed by change data capture keep a current state"
    key = runtime.key_columns[0]
    rows = runtime.state.table.refresh().scan(selected_fields=tuple(columns)).to_arrow().to_pylist()
    actual = {r[key]: {c: _comparable(r[c]) for c in columns} for r in rows}
    wanted = {k: {c: _comparable(v[c]) for c in columns} for k, v in expected.items()}
    return len(rows) == len(actual) and actual == wanted


def eventually(probe: Callable[[], T | None], *, attempts: int = 100, pause_s: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy, a bounded number of times."""
    last: T | None = None
    for _ in range(attempts):
        last = probe()
        if last:
            return last
        time.sleep(pause_s)
    raise AssertionError(f"condition not met after {attempts} attempts (last value: {last!r})")


# --- a product's query catalogue, on its ports ----------------------------------------------------------


def query_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "queries").glob("*") if p.suffix in (".sql", ".graphql"))


def sql_rows(runtime: ProductHost, sql: str) -> list[dict[str, Any]]:
    """A query through the product's SQL engine (the one behind `POST /sql` and the PostgreSQL port)."""
    rows: list[dict[str, Any]] = runtime.sql_query(sql.strip().rstrip(";"), []).to_pylist()
    return rows


def example_query(runtime: ProductHost, name: str) -> NamedQuery:
    return next(q for q in runtime.product.queries if q.name == name)


def graphql(http: httpx.Client, text: str, **variables: Any) -> dict[str, Any]:
    answer = http.post("/graphql", json={"query": text, "variables": variables}).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def check_query_catalogue(runtime: ProductHost, http: httpx.Client) -> None:
    """At least three SQL and two GraphQL questions, each saying what it answers, all on discovery."""
    files = query_files(runtime.product.folder)
    queries = runtime.product.queries
    assert len(queries) == len(files)
    assert sum(q.language == "sql" for q in queries) >= 3
    assert sum(q.language == "graphql" for q in queries) >= 2
    assert all(len(q.description) > 40 for q in queries), "each query says what it answers"
    assert {q["name"] for q in http.get("/").json()["queries"]} == {p.stem for p in files}


def run_example_query(runtime: ProductHost, http: httpx.Client, path: Path) -> Any:
    """An example query on its ports: SQL through `POST /sql` and the PostgreSQL port (same answer),
    GraphQL through `/graphql` (no errors). Returns the SQL rows or the GraphQL data."""
    text = path.read_text()
    if path.suffix != ".sql":
        return graphql(http, text)
    response = http.post("/sql", json={"sql": text.strip().rstrip(";")})
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    with psycopg.connect(sql_dsn(runtime), autocommit=True) as conn:
        assert len(conn.execute(text).fetchall()) == len(rows), "the PostgreSQL port gives the same answer"
    return rows


def example_rows(runtime: ProductHost, name: str) -> list[dict[str, Any]]:
    """The rows an example SQL query of the product's catalogue answers now."""
    return sql_rows(runtime, example_query(runtime, name).text)


def publish_grant(settings: MeshSettings, consumer: str, products: Sequence[str], *, pii: bool = True) -> str:
    """On a stack of one's own (a benchmark's, a test running product processes, no catalog): publish an
    access list granting `consumer` the products (ids) on the control topic, as the catalog would, and
    return its key. Any catalog publishing later replaces it."""
    from mesh_access import AccessBook
    from mesh_catalog.adapters import KafkaControlPublisher

    now = datetime.now(UTC)
    book = AccessBook()
    _, key = book.create_consumer(consumer, "Benchmarks", "", now)
    owner, _ = book.create_consumer("platform-owner", "platform", "", now)
    for product in products:
        request = book.request(consumer, product, "benchmarking the mesh", pii, now)
        book.decide(request.id, owner, "platform", True, "", now)
    publisher = KafkaControlPublisher(settings)
    try:
        publisher.publish_access(book.access_list().to_message())
    finally:
        publisher.close()
    return key


# What a port's OpenAPI document promises, checked by schemathesis: no answer is a server error, and every
# status code and content type answered is one the document lists for that operation.
OPENAPI_CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance")


def fuzz_openapi(
    base_url: str, workdir: Path, *, headers: Mapping[str, str] | None = None, examples: int = 20, max_time_s: int = 180
) -> subprocess.CompletedProcess[str]:
    """schemathesis (property-based, from the document at `base_url`/openapi.json) over every operation,
    deterministic and bounded: `examples` per operation and phase (within `max_time_s`, or it fails). Its report, with
    a curl command that reproduces each failure, is the output; the exit code is 0 when nothing failed."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base_url.rstrip('/')}/openapi.json",
        "--checks",
        ",".join(OPENAPI_CHECKS),
        "--max-examples",
        str(examples),
        "--generation-deterministic",  # the same cases every run, and no example database left behind
        "--request-timeout",
        "30",
        "--wait-for-schema",
        "30",
        "--warnings",
        "off",
        "--no-color",
        *(item for name, value in (headers or {}).items() for item in ("--header", f"{name}: {value}")),
    ]
    workdir.mkdir(parents=True, exist_ok=True)  # where schemathesis may leave its files
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=max_time_s + 120)


def fuzzed_cases(report: str) -> int:
    """How many requests a schemathesis run made, by its summary (0 when it did not get that far)."""
    found = re.search(r"(\d+) generated", report)
    return int(found.group(1)) if found else 0
