"""Apicurio Registry 3.x: the schema registry, used only through its Confluent-compatible API,
stored durably in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx

from mesh_stack.errors import StackError
from mesh_stack.health import http_ok
from mesh_stack.jvm_component import JvmComponent


class Registry(JvmComponent):
    name = "registry"
    artifacts = ("apicurio",)
    depends_on = ("postgres",)

    def ports(self) -> list[int]:
        return [self.settings.registry_port, self.settings.registry_management_port]

    def url(self) -> str:
        return self.settings.schema_registry_url

    def prepare(self) -> None:
        self.resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> None:
        s = self.settings
        env = self.java_env()
        env.update(
            {
                "QUARKUS_HTTP_HOST": s.host,
                "QUARKUS_HTTP_PORT": str(s.registry_port),
                "QUARKUS_MANAGEMENT_HOST": s.host,
                "QUARKUS_MANAGEMENT_PORT": str(s.registry_management_port),
                "APICURIO_STORAGE_KIND": "sql",
                "APICURIO_STORAGE_SQL_KIND": "postgresql",
                "APICURIO_DATASOURCE_URL": f"jdbc:postgresql://{s.pg_host}:{s.postgres_port}/{s.registry_db}",
                "APICURIO_DATASOURCE_USERNAME": s.postgres_user,
                "APICURIO_DATASOURCE_PASSWORD": s.postgres_password,
                "APICURIO_DATASOURCE_JDBC_INITIAL_SIZE": "2",
                "APICURIO_DATASOURCE_JDBC_MIN_SIZE": "2",
                "APICURIO_DATASOURCE_JDBC_MAX_SIZE": "20",
                "APICURIO_STORAGE_SNAPSHOT_LOCATION": str(self.state_dir),
            }
        )
        argv = [self.java(), *self.jvm_options(), "-jar", str(self._runner())]
        self.process.start(argv, env=env, cwd=self.state_dir)

    def _runner(self) -> Path:
        app = self.artifact_dir("apicurio") / "app"
        runners = sorted(app.glob("*-runner.jar")) or sorted(app.glob("quarkus-run.jar"))
        if not runners:
            raise StackError(f"no Apicurio runner jar in {app}: delete that directory to resolve it again")
        return runners[0]

    def healthy(self) -> bool:
        return http_ok(f"{self.url()}/subjects")

    def provision(self) -> None:
        # Every subject evolves under BACKWARD compatibility unless a product says otherwise.
        httpx.put(
            f"{self.url()}/config",
            json={"compatibility": "BACKWARD"},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            timeout=10,
        ).raise_for_status()
