"""The catalog's OpenAPI document is complete: schemathesis fuzzes every operation of the catalog's REST
and access APIs (an in-memory catalog with the seven real products, served on loopback) without a key,
with a consumer's key and with the platform token, and finds no server error, no status code and no
content type the document does not list."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from mesh_catalog.api import build_app
from mesh_catalog.service import FetchFailed
from mesh_testing.products import free_port, fuzz_openapi, fuzzed_cases
from tests.unit.test_catalog_access_api import catalog_with_access
from tests.unit.test_catalog_column_lineage import Documents, _products

TOKEN = "platform-token-for-the-fuzz"


class KnownProducts(Documents):
    """The real products' documents; any other URL cannot be read (no request leaves the machine)."""

    def fetch(self, url: str) -> Any:
        if url.removeprefix("http://") not in _products():
            raise FetchFailed(url, "does not answer (nothing answers there in this test)")
        return super().fetch(url)


@pytest.fixture(scope="module")
def catalog_url() -> Iterator[tuple[str, str]]:
    """The catalog's URL, and a consumer's key."""
    service, access = catalog_with_access(KnownProducts())
    _, key = access.create_consumer("fuzzer", "Learners", "")
    port = free_port()
    config = uvicorn.Config(
        build_app(service, access=access, platform_token=TOKEN),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/health", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url, key
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("who", ["nobody", "consumer", "platform"])
def test_the_catalog_answers_only_what_its_openapi_documents(
    catalog_url: tuple[str, str], who: str, tmp_path: Path
) -> None:
    url, key = catalog_url
    credential = {"nobody": None, "consumer": key, "platform": TOKEN}[who]
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    run = fuzz_openapi(url, tmp_path, headers=headers, examples=15)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert fuzzed_cases(run.stdout) >= 500, "the fuzz reached every operation"


def test_the_catalogs_openapi_names_its_security_schemes_and_documents_400_not_422(
    catalog_url: tuple[str, str],
) -> None:
    document = httpx.get(f"{catalog_url[0]}/openapi.json", timeout=10).json()
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "PlatformToken"}
    operations = {(m.upper(), p): op for p, ops in document["paths"].items() for m, op in ops.items()}
    assert operations[("DELETE", "/products/{product_id}")]["security"] == [{"PlatformToken": []}]
    assert operations[("POST", "/access/requests")]["security"] == [{"HTTPBearer": []}]
    with_422 = {key for key, op in operations.items() if "422" in op["responses"]}
    assert with_422 == {("POST", "/products")}, "only a governance refusal is a 422; invalid input is a 400"
    assert "HTTPValidationError" not in document["components"]["schemas"]
