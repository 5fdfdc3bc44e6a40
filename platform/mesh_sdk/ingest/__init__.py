"""Ingestion: Kafka and change-data-capture input ports into the history table, exactly once. Decoding,
deduplication, dead letters, and the one commit that holds both the rows and the consumed offsets."""
