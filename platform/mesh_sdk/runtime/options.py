"""How a product process runs: its ports' addresses, its batch sizes and intervals, its limits. The
product folder says what a product is; these say how one process of it runs (`mesh run` sets them)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RuntimeOptions:
    http_port: int = 18100
    sql_port: int = 15433
    batch_size: int = 5000
    batch_interval_s: float = 1.0
    observe_interval_s: float = 15.0
    sql_max_rows: int = 100_000
    sql_timeout_s: float = 60.0
    hot_max_rows: int = 5_000_000
    sql_snapshot_views: int = 10
    masked_tables_every_s: float = 5.0  # how often the PII-masked twins of the tables catch up
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
