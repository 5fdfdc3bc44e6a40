"""What tests start: a product or the whole mesh in-process against a stack, and the checks their
suites share. Built on the SDK, the catalog, the generators and the sources; nothing below imports it."""
