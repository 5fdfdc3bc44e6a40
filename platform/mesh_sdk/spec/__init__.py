"""The specification: what a product folder says. Its descriptor (dataproduct.yaml), its data contract
(contract.yaml), the agreement between the two, the column types in Arrow, Iceberg and Avro, column
lineage, and the interface between the product's own logic and the platform (logic, sql_logic)."""
