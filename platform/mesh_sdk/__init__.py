"""The data product SDK: what every product gets from the platform, so a product folder stays a
specification (descriptor, contract, queries, a little domain logic) and never plumbing."""
