"""Adapters: the one place where the mesh talks to each server (S3, Kafka, registry, catalog, SQL).

Everything else receives these clients, configured from `mesh_config`, and never builds its own."""
