"""Every product's OpenAPI document is complete: schemathesis fuzzes each operation of a source-aligned
and a derived product's HTTP ports (REST, SQL, discovery, observation, control, GraphQL), with a
consumer's key and without one, and finds no server error, no status code and no content type the
document does not list."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mesh_testing.mesh import RunningMesh
from mesh_testing.products import consumer_key, fuzz_openapi, fuzzed_cases

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("product", ["playback.events", "engagement.viewing"])
@pytest.mark.parametrize("keyed", [True, False], ids=["a-consumer", "nobody"])
def test_a_product_answers_only_what_its_openapi_documents(
    running_mesh: RunningMesh, product: str, keyed: bool, tmp_path: Path
) -> None:
    runtime = running_mesh[product]
    headers = {"Authorization": f"Bearer {consumer_key(runtime, 'fuzzer', pii=False)}"} if keyed else {}
    run = fuzz_openapi(f"http://127.0.0.1:{runtime.options.http_port}", tmp_path, headers=headers, examples=10)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert fuzzed_cases(run.stdout) >= 200, "the fuzz reached every operation"


def test_a_products_openapi_names_its_security_schemes_and_every_answer(running_mesh: RunningMesh) -> None:
    runtime = running_mesh["playback.events"]
    document = httpx.get(f"http://127.0.0.1:{runtime.options.http_port}/openapi.json", timeout=30).json()
    schemes = document["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"} and "PlatformToken" in schemes
    operations = {(m.upper(), p): op for p, ops in document["paths"].items() for m, op in ops.items()}
    sql = operations[("POST", "/sql")]
    assert set(sql["responses"]) == {"200", "400", "401", "403"}
    assert set(sql["responses"]["200"]["content"]) == {"application/json", "application/vnd.apache.arrow.stream"}
    assert {"HTTPBearer", "APIKeyHeader"} <= {name for s in sql["security"] for name in s}
    assert operations[("PUT", "/control/policy")]["security"] == [{"PlatformToken": []}]
    refusing = {"/control/policy", "/control/commands/{name}"}  # a rule's refusal: a policy, a decision
    assert not [key for key, op in operations.items() if "422" in op["responses"] and key[1] not in refusing]
    command = operations[("POST", "/control/commands/{name}")]
    assert set(command["responses"]) == {"200", "400", "401", "404", "409", "422"}
