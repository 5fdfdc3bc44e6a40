"""OpenLineage run events of a running product (openlineage-python), sent to the catalog.

A product is a long-running job: one run per process, START when its ports serve, RUNNING after it
committed new snapshots (at most every `lineage_every_s`), COMPLETE when it stops (FAIL if it stops on
an error). Each event names the datasets the product reads and writes with their current versions
(Iceberg snapshot ids), their schemas and the column lineage its contract declares, so the catalog
can tell the lineage products declare from the lineage their runs show.

Dataset names follow OpenLineage's naming: Kafka topics `kafka://<bootstrap>` + topic, captured tables
`postgres://<host>:<port>` + `<database>.<schema>.<table>`, Iceberg tables the warehouse + the table's
name; a product's port also carries a symlink `mesh` / `<product id>/<port>`, by which the catalog
finds the product. Best effort: a catalog that does not answer costs a log line, never the product."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    dataset_version_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    ownership_job,
    schema_dataset,
    symlinks_dataset,
)
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid

from mesh_config import MeshSettings
from mesh_sdk.spec.column_lineage import derivations
from mesh_sdk.spec.descriptor import CdcInput, KafkaInput, ProductInput
from mesh_sdk.spec.product import DataProduct, dump

log = logging.getLogger(__name__)

PRODUCER = "https://github.com/streamline/mesh/platform/mesh_sdk"
JOB_NAMESPACE = "mesh"
SYMLINK_NAMESPACE = "mesh"  # symlinks `mesh` / `<product id>/<port>`: a product's port, whatever its storage
PORT_SYMLINK = "DATA_PRODUCT_PORT"

Versions = Callable[[], dict[str, str | None]]  # input port or output table -> its current version


@dataclass(frozen=True)
class DatasetName:
    namespace: str
    name: str
    port: str | None = None  # `<product id>/<port>` when the dataset is a product's port


def kafka_dataset(settings: MeshSettings, topic: str) -> DatasetName:
    return DatasetName(f"kafka://{settings.bootstrap_servers}", topic)


def captured_dataset(settings: MeshSettings, topic: str) -> DatasetName:
    """The operational table a `cdc.<database>.<schema>.<table>` topic carries: the table is the source."""
    return DatasetName(f"postgres://{settings.pg_host}:{settings.postgres_port}", topic.removeprefix("cdc."))


def table_dataset(settings: MeshSettings, table: str, product_id: str, port: str) -> DatasetName:
    return DatasetName(settings.warehouse.rstrip("/"), table, f"{product_id}/{port}")


class RunReporter:
    """Builds and sends the product's run events from a thread of its own, so sending never holds up
    ingestion or a refresh."""

    def __init__(
        self,
        product: DataProduct,
        settings: MeshSettings,
        versions: Versions,
        commits: Callable[[], object],
        *,
        every_s: float | None = None,
        undeclared: Callable[[], Mapping[str, str | None]] | None = None,
        retired: Callable[[], set[str]] = set,
    ) -> None:
        self.product, self.settings = product, settings
        self._retired = retired  # input ports read no more: a run does not name them
        # Lakehouse tables read by name, not through an input port (table -> `<product id>/<port>`).
        self._undeclared = undeclared or dict
        self.url = settings.lineage_endpoint
        self.every_s = settings.lineage_every_s if every_s is None else every_s
        self.run_id = str(generate_new_uuid())
        self.sent = 0
        self._versions, self._commits = versions, commits
        self._queue: queue.Queue[RunEvent | None] = queue.Queue(maxsize=100)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._warned = False
        self._client = (
            OpenLineageClient(transport=HttpTransport(HttpConfig(url=self.url, timeout=5.0, retry={"total": 0})))
            if self.url
            else None
        )
        self._inputs, self._outputs, self._column_lineage = self._datasets()

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._client is None:
            return
        self._threads = [
            threading.Thread(target=self._send_loop, name="lineage-send", daemon=True),
            threading.Thread(target=self._progress_loop, name="lineage-progress", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._enqueue(self.event(RunState.START))

    def stop(self, error: BaseException | None = None) -> None:
        """The run's last event (COMPLETE, or FAIL naming `error`), sent before this returns (or 10 s)."""
        if self._client is None or not self._threads:
            return
        self._stop.set()
        self._enqueue(self.event(RunState.FAIL if error else RunState.COMPLETE, error))
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def _progress_loop(self) -> None:
        reported = self._commits()
        while not self._stop.wait(self.every_s):
            now = self._commits()
            if now != reported:
                reported = now
                self._enqueue(self.event(RunState.RUNNING))

    def _enqueue(self, event: RunEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.info("dropping an OpenLineage %s event: the catalog is not keeping up", event.eventType)

    def _send_loop(self) -> None:
        assert self._client is not None
        while (event := self._queue.get()) is not None:
            try:
                self._client.emit(event)
                self.sent += 1
                self._warned = False
            except Exception as exc:
                if not self._warned:
                    log.info("OpenLineage events are not reaching %s (%s): lineage shows as declared", self.url, exc)
                    self._warned = True

    # --- the events -------------------------------------------------------------------------------------

    def event(self, state: RunState, error: BaseException | None = None) -> RunEvent:
        d = self.product.descriptor
        versions = self._versions() if state is not RunState.START else {}
        run_facets: dict[str, Any] = {}
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=str(error), programmingLanguage="python"
            )
        streaming = not self.product.derived
        job_facets = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="STREAMING" if streaming else "BATCH", integration="MESH", jobType="DATA_PRODUCT"
            ),
            "documentation": documentation_job.DocumentationJobFacet(description=d.description),
            "ownership": ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner(name=d.owner.team, type="team")]),
        }
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=JOB_NAMESPACE, name=d.id, facets=job_facets),
            producer=PRODUCER,
            inputs=[
                InputDataset(n.namespace, n.name, facets=self._facets(n, versions.get(port)))
                for port, n in self._inputs.items()
                if port not in self._retired()
            ]
            + [
                InputDataset(n.namespace, n.name, facets=self._facets(n, None))
                for table, port in self._undeclared().items()
                for n in [DatasetName(self.settings.warehouse.rstrip("/"), table, port)]
            ],
            outputs=[
                OutputDataset(n.namespace, n.name, facets=self._facets(n, versions.get(key), key))
                for key, n in self._outputs.items()
            ],
        )

    def _facets(self, name: DatasetName, version: str | None, output: str | None = None) -> dict[str, Any]:
        facets: dict[str, Any] = {}
        if name.port is not None:
            facets["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[symlinks_dataset.Identifier(SYMLINK_NAMESPACE, name.port, PORT_SYMLINK)]
            )
        if version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version)
        table = output if output in self._column_lineage else None
        if table is not None:
            props = self.product.contract.properties(table)
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(
                        name=p.name or "", type=p.physicalType or p.logicalType, description=p.description
                    )
                    for p in props
                ]
            )
            if self._column_lineage[table]:
                facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                    fields=self._column_lineage[table]
                )
        return facets

    def _datasets(
        self,
    ) -> tuple[dict[str, DatasetName], dict[str, DatasetName], dict[str, dict[str, column_lineage_dataset.Fields]]]:
        s, d = self.settings, self.product.descriptor
        inputs: dict[str, DatasetName] = {}
        for port in d.input_ports:
            if isinstance(port, KafkaInput):
                inputs[port.name] = kafka_dataset(s, port.topic)
            elif isinstance(port, CdcInput):
                inputs[port.name] = captured_dataset(s, port.topic)
            elif isinstance(port, ProductInput):
                inputs[port.name] = (
                    table_dataset(s, port.table, port.product, port.port)
                    if port.from_lakehouse
                    else DatasetName(f"kafka://{s.bootstrap_servers}", port.topic, f"{port.product}/{port.port}")
                )
        tables = [o.name for o in self.product.contract.model.schema_ or [] if o.name]
        outputs = {t: table_dataset(s, d.table(t), d.id, t) for t in tables}
        for stream in d.output_ports:
            if stream.kind == "kafka":
                topic = kafka_dataset(s, d.topic(stream.name))
                outputs[f"stream:{stream.name}"] = DatasetName(topic.namespace, topic.name, f"{d.id}/{stream.name}")
        contract = dump(self.product)["contract"]
        found, _problems = derivations(contract, inputs)  # the folder's loading refused bad references
        lineage: dict[str, dict[str, column_lineage_dataset.Fields]] = {t: {} for t in tables}
        for column in found:
            fields = []
            for ref in column.sources:
                source = inputs[ref.name] if ref.via == "input" else outputs[ref.name]
                fields.append(column_lineage_dataset.InputField(source.namespace, source.name, ref.column))
            if fields:
                lineage[column.table][column.column] = column_lineage_dataset.Fields(
                    inputFields=fields, transformationDescription=column.description or None
                )
        return inputs, outputs, lineage
