"""Derivation: a product computed from other products' lakehouse ports. Its keyed output tables and
the replay of one past refresh."""
