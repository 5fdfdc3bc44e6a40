"""Hostile input fails safely on a running product and its catalog: a 4xx (or the SQL port's error)
naming the problem, no data beyond what was asked, and the service still answering afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from mesh_sdk.runtime.source_aligned import SourceAlignedRuntime
from mesh_testing.mesh import RunningMesh
from mesh_testing.products import http_client, sql_dsn

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def http(customers: SourceAlignedRuntime) -> Iterator[httpx.Client]:
    with http_client(customers, 30) as client:
        yield client


@pytest.fixture(autouse=True)
def still_serving(http: httpx.Client) -> Iterator[None]:
    yield
    assert http.get("/customers", params={"limit": 1}).status_code == 200, "the product must keep serving"


INJECTIONS = ["' OR '1'='1", "1; DROP TABLE customers --", '" OR ""="', "x') UNION SELECT * FROM duckdb_settings() --"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_injection_through_rest_filters_matches_nothing(http: httpx.Client, value: str) -> None:
    cases: list[dict[str, str | int]] = [
        {"email": value},
        {"country__in": f"{value},NL"},
        {"email__gt": value, "limit": 5},
    ]
    for params in cases:
        answer = http.get("/customers", params=params)
        assert answer.status_code == 200, answer.text
        assert all(value not in str(row.values()) for row in answer.json()["items"])
    assert http.get("/customers", params={"email": value}).json()["items"] == []


@pytest.mark.parametrize("value", ["email; DROP TABLE x", '-email" DESC, (SELECT 1) --', "../../etc/passwd"])
def test_injection_through_sort_or_unknown_parameters_is_refused(http: httpx.Client, value: str) -> None:
    assert http.get("/customers", params={"sort": value}).status_code == 400
    answer = http.get("/customers", params={value: "1"})
    assert answer.status_code == 400 and "unknown query parameter" in answer.json()["error"]


def test_sql_injection_through_graphql_filters_matches_nothing(http: httpx.Client) -> None:
    query = "query($v: String) { customers(where: {email: $v}, first: 5) { items { customerId } } }"
    for value in INJECTIONS:
        answer = http.post("/graphql", json={"query": query, "variables": {"v": value}}).json()
        assert "errors" not in answer and answer["data"]["customers"]["items"] == []
    bad_sort = http.post("/graphql", json={"query": '{ customers(sort: "email; DROP") { items { email } } }'}).json()
    assert "sort" in bad_sort["errors"][0]["message"]


def test_graphql_depth_and_alias_bombs_are_refused_before_they_run(http: httpx.Client) -> None:
    deep = "{ __schema { types { " + "fields { type { " * 12 + "name" + " } }" * 12 + " } } }"
    answer = http.post("/graphql", json={"query": deep})
    assert "depth" in answer.text.lower() and "errors" in answer.json()
    aliases = "{ " + " ".join(f"a{i}: customers(first: 1000) {{ items {{ email }} }}" for i in range(200)) + " }"
    answer = http.post("/graphql", json={"query": aliases})
    assert "aliases" in answer.text.lower()
    tokens = "{ customers { items { " + "email " * 6000 + "} } }"
    assert "token" in http.post("/graphql", json={"query": tokens}).text.lower()


def test_oversized_pages_are_refused_with_the_limit(http: httpx.Client) -> None:
    answer = http.get("/customers", params={"limit": 10**9})
    assert answer.status_code == 400 and "1000" in answer.json()["error"]
    graphql = http.post("/graphql", json={"query": "{ customers(first: 100000000) { items { email } } }"}).json()
    assert "limit must be between 1 and 1000" in graphql["errors"][0]["message"]


@pytest.mark.parametrize("as_of", ["yesterday", "2026-13-45", "²", "9" * 40, "-1", "1e9", "'; SELECT 1; --"])
def test_a_malformed_as_of_is_a_400_on_every_port(
    http: httpx.Client, customers: SourceAlignedRuntime, as_of: str
) -> None:
    listed = http.get("/customers", params={"as_of": as_of})
    assert listed.status_code == 400 and "as_of" in listed.json()["error"], listed.text
    sql = http.post("/sql", json={"sql": "SELECT 1", "as_of": as_of})
    assert sql.status_code == 400 and "as_of" in sql.json()["error"], sql.text
    graphql = http.post("/graphql", json={"query": f'{{ customers(asOf: "{as_of}") {{ items {{ email }} }} }}'})
    assert "as_of" in graphql.json()["errors"][0]["message"]


@pytest.mark.parametrize("identifier", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2f", "..\\..\\windows", "%00"])
def test_path_traversal_in_an_identifier_finds_nothing(
    http: httpx.Client, running_mesh: RunningMesh, identifier: str
) -> None:
    assert http.get(f"/customers/{identifier}").status_code in (400, 404)
    with httpx.Client(base_url=running_mesh.catalog.url, timeout=30) as catalog:
        for path in (f"/products/{identifier}", f"/lineage/{identifier}", f"/portal/products/{identifier}"):
            assert catalog.get(path).status_code in (400, 404), path
        assert catalog.get("/products").status_code == 200


WRITES_AND_FILES = [
    "COPY (SELECT 1) TO '/tmp/mesh-hostile.csv'",
    "CREATE TABLE stolen AS SELECT 1",
    "INSERT INTO subscriptions.customers_customers_v1 VALUES (1)",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH '/tmp/mesh-hostile.duckdb' AS x",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT read_text('/etc/passwd')",
    "SELECT getenv('HOME')",
    "SET enable_external_access = true",
    "SELECT 1; DROP TABLE x",
    "PRAGMA database_list",
    "SELECT * FROM glob('/*')",
]


@pytest.mark.parametrize("sql", WRITES_AND_FILES)
def test_sql_that_writes_reads_files_or_loads_extensions_is_refused(
    http: httpx.Client, customers: SourceAlignedRuntime, sql: str
) -> None:
    answer = http.post("/sql", json={"sql": sql})
    assert answer.status_code in (400, 403) and answer.json()["sqlstate"] in ("42501", "42601"), answer.text
    with psycopg.connect(sql_dsn(customers), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(sql)
        assert refused.value.sqlstate in ("42501", "42601")
        assert conn.execute("SELECT count(*) FROM subscriptions.customers_customers_v1").fetchone() is not None
