-- Databases of the mesh, as the embedded stack creates them (see mesh_stack.components.postgres).
CREATE DATABASE legacy;
CREATE DATABASE content;
CREATE DATABASE crm;
CREATE DATABASE subscriptions;
CREATE DATABASE iceberg_catalog;
CREATE DATABASE registry;
