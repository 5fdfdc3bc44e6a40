"""Access control inside a product: the gate every output port asks, the access log, the SQL logins,
and the policies and grants that reach a running product on the control topic."""
