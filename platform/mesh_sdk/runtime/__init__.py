"""The runtime that composes the parts: one serving host, the engine that feeds it (Kafka ingestion or
derivation), and the one place both are built (compose.build_runtime)."""
