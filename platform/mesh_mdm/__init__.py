"""Master data management: records of one entity held by several systems, matched into golden records.
`normalise` makes the sources' records comparable, `matching` scores pairs with Splink (a maintained
record-linkage library: Fellegi-Sunter match weights over blocking rules and comparisons) and sorts them
into bands, `evaluation` measures a matching against a known truth."""
