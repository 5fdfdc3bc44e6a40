"""DuckDB's own sandbox: the second wall of the SQL port, behind the allowlist in `guard.py`.

Verified on DuckDB 1.5.5 with httpfs against S3 (SeaweedFS): with `enable_external_access=false`,
`allowed_directories` is a plain string-prefix test that works for `s3://` URLs, so views over Iceberg
tables keep working while every other path (local or S3) is refused. Two limits of that test: it does
not normalise `..` in URLs (`s3://bucket/allowed/../other/x` passes it and the request reaches the
server), and it grants writes as well as reads (`COPY ... TO 's3://bucket/allowed/x'` passes). The
allowlist refuses both (no table functions, no COPY); the SQL port's S3 credentials should be read-only.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping

import duckdb

from mesh_sql.quoting import quote_literal

# Settings for a connection that only parses: no files, no extensions, nothing to change.
SANDBOX_CONFIG: Mapping[str, str] = {
    "enable_external_access": "false",
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
    "allow_community_extensions": "false",
    "lock_configuration": "true",
}

_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_GLOB = re.compile(r"[*?\[{]")


def storage_prefixes(relations: Iterable[str]) -> list[str]:
    """The directories a set of view relations read: for each quoted path or URL, its directory, and
    for an Iceberg metadata file, the table's root (its data files live beside `metadata/`)."""
    prefixes: set[str] = set()
    for relation in relations:
        for match in _QUOTED.finditer(relation):
            path = match.group(1).replace("''", "'")
            if "://" not in path and not path.startswith("/"):
                continue
            glob = _GLOB.search(path)
            directory = path[: glob.start()] if glob else path
            directory = directory.rsplit("/", 1)[0] if "/" in directory else directory
            if directory.endswith("/metadata"):
                directory = directory[: -len("/metadata")]
            if "://" not in directory:
                directory = posixpath.normpath(directory)
            prefixes.add(directory.rstrip("/") + "/")
    return sorted(prefixes)


def lock_down(conn: duckdb.DuckDBPyConnection, allowed_directories: Iterable[str]) -> None:
    """Close the connection to everything but the given directories, then lock its configuration so
    no query can SET any of it back."""
    directories = sorted({d.rstrip("/") + "/" for d in allowed_directories})
    conn.execute(f"SET allowed_directories = [{', '.join(quote_literal(d) for d in directories)}]")
    conn.execute("SET enable_external_access = false")
    for name in ("autoinstall_known_extensions", "autoload_known_extensions", "allow_community_extensions"):
        conn.execute(f"SET {name} = false")
    # Python's replacement scans would let a query read the server process's variables as tables.
    conn.execute("SET python_enable_replacements = false")
    conn.execute("SET lock_configuration = true")
