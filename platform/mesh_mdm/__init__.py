"""Master data management: records of one entity held by several systems, matched into golden records.
`normalise` makes the sources' records comparable, `matching` scores pairs with Splink (a maintained
record-linkage library: Fellegi-Sunter match weights over blocking rules and comparisons) and sorts them
into bands, `linking` turns scores and stewards' decisions into groups with stable golden ids,
`survivorship` picks each golden value by the rules a product declares, `hub` keeps it all incremental,
and `evaluation` measures a matching against a known truth."""

from mesh_mdm.hub import Changes, DecisionRefused, MasterData, Records
from mesh_mdm.normalise import Comparable, comparable, split_name
from mesh_mdm.survivorship import Rule, SourceRecord, Survivorship

__all__ = [
    "Changes",
    "Comparable",
    "DecisionRefused",
    "MasterData",
    "Records",
    "Rule",
    "SourceRecord",
    "Survivorship",
    "comparable",
    "split_name",
]
