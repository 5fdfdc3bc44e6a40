"""Refresh the web assets the ports' pages load (GraphiQL, Swagger UI) in platform/mesh_web/static.

They are kept in the repository, not fetched by the pages from a CDN: a workshop room may have no
internet, and a page that loads code from elsewhere is code nobody here reviewed. This script fetches
each file from its package in the npm registry (verifying the tarball against the registry's sha512
integrity), writes it, and writes sources.json: package, version, path and the sha384 a browser's
subresource integrity would check. Run it when strawberry's GraphiQL page or FastAPI's Swagger page
asks for other versions (tests/unit/test_web_assets.py says when).

Usage: python platform/scripts/vendor_web_assets.py"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
STATIC = Path(__file__).resolve().parents[1] / "mesh_web" / "static"

# file name here -> (package, version, path in the package)
WANTED: dict[str, tuple[str, str, str]] = {
    "react.production.min.js": ("react", "18.2.0", "umd/react.production.min.js"),
    "react-dom.production.min.js": ("react-dom", "18.2.0", "umd/react-dom.production.min.js"),
    "js.cookie.min.js": ("js-cookie", "3.0.5", "dist/js.cookie.min.js"),
    "graphiql.min.css": ("graphiql", "3.8.3", "graphiql.min.css"),
    "graphiql.min.js": ("graphiql", "3.8.3", "graphiql.min.js"),
    "graphiql-plugin-explorer.css": ("@graphiql/plugin-explorer", "1.0.2", "dist/style.css"),
    "graphiql-plugin-explorer.umd.js": ("@graphiql/plugin-explorer", "1.0.2", "dist/index.umd.js"),
    "swagger-ui-bundle.js": ("swagger-ui-dist", "5.17.14", "swagger-ui-bundle.js"),
    "swagger-ui.css": ("swagger-ui-dist", "5.17.14", "swagger-ui.css"),
}


def _tarball(package: str, version: str) -> tarfile.TarFile:
    with urllib.request.urlopen(f"{REGISTRY}/{package}/{version}", timeout=60) as answer:
        dist = json.load(answer)["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=120) as answer:
        data = answer.read()
    algorithm, expected = dist["integrity"].split("-", 1)
    if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != expected:
        raise SystemExit(f"{package}@{version}: the tarball does not match the registry's {algorithm} integrity")
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    tarballs: dict[tuple[str, str], tarfile.TarFile] = {}
    sources = {}
    for name, (package, version, path) in WANTED.items():
        tarball = tarballs.get((package, version)) or tarballs.setdefault(
            (package, version), _tarball(package, version)
        )
        member = tarball.extractfile(f"package/{path}")
        if member is None:
            raise SystemExit(f"{package}@{version} has no {path}")
        data = member.read()
        (STATIC / name).write_bytes(data)
        sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
        sources[name] = {"package": package, "version": version, "path": path, "integrity": sri}
        print(f"{name}: {package}@{version}/{path} ({len(data):,} bytes)")
    (STATIC / "sources.json").write_text(json.dumps(sources, indent=2) + "\n")


if __name__ == "__main__":
    main()
