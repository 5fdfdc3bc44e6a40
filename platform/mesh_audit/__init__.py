"""The immutable change audit log: every change event of the mesh (CDC and the products' change
streams) as a hash-chained record, in an append-only Iceberg table and in Object Lock storage.

Pure logic: `record` (records, canonical digests, the hash chain), `chain` (verification), `events`
(what a decoded message says changed). Adapters: `decode` (Kafka messages, Avro via the registry),
`log_table` (Iceberg), `locked_store` (S3 Object Lock). Composition: `service`, `verify`."""

from mesh_audit.chain import Break, ChainSummary, Reason, compare_stores, first_break, summarize, verify_chain
from mesh_audit.config import AuditOptions, load_options
from mesh_audit.record import GENESIS, AuditRecord, ChainHead, Change, canonical_json, digest, link, link_all

__all__ = [
    "GENESIS",
    "AuditOptions",
    "AuditRecord",
    "Break",
    "ChainHead",
    "ChainSummary",
    "Change",
    "Reason",
    "canonical_json",
    "compare_stores",
    "digest",
    "first_break",
    "link",
    "link_all",
    "load_options",
    "summarize",
    "verify_chain",
]
