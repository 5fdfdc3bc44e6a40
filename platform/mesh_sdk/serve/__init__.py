"""The output ports: REST, GraphQL, the SQL views, the table reader and its in-memory cache, the masked
twins of streams and tables, and how every HTTP API words an error."""
