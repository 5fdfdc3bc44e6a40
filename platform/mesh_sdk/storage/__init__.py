"""The product's internal storage in the lakehouse: its Iceberg tables (history, current state), what
they keep (retention, compaction), and reading a table pinned to a snapshot."""
