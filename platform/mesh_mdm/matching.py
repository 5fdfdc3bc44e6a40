"""Scoring pairs of records from two systems with Splink on DuckDB, and sorting them into bands.

The model: blocking rules choose the pairs worth comparing (the same mailbox, the same names in either
box, the same last name and initial, the same first name and birth year, the same letters of an
address, the same phone number); comparisons grade each pair field by field; Splink estimates each
level's match weight (u by random sampling, m by expectation maximisation, the prior from the pairs that
share a mailbox) and turns their sum into a match probability. Each record of the second system keeps
its most probable partner in the first, in one of three bands: match, review (a person decides), no
match."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from mesh_mdm.normalise import Comparable, as_table

MATCH_AT = 0.95  # a probability at least this is a match
REVIEW_AT = 0.5  # below MATCH_AT and at least this: a person decides
_JW = "jaro_winkler_similarity"
# The two systems' tables, as Splink names their records' source datasets.
LEFT, RIGHT = "left_records", "right_records"


class Band(StrEnum):
    MATCH = "match"
    REVIEW = "review"
    NO_MATCH = "no-match"


def band_of(probability: float, match_at: float = MATCH_AT, review_at: float = REVIEW_AT) -> Band:
    if probability >= match_at:
        return Band.MATCH
    return Band.REVIEW if probability >= review_at else Band.NO_MATCH


@dataclass(frozen=True)
class Candidate:
    """The most probable partner of a record of the second system, and how sure the model is."""

    left: str  # unique id in the first system
    right: str  # unique id in the second system
    probability: float
    band: Band


def _name() -> cl.CustomComparison:
    both = f'{_JW}("first_l", "first_r") >= 0.9 AND {_JW}("last_l", "last_r") >= 0.9'
    initial = (
        '(length("first_l") = 1 OR length("first_r") = 1) AND substr("first_l", 1, 1) = substr("first_r", 1, 1) '
        f'AND {_JW}("last_l", "last_r") >= 0.9'
    )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.CustomLevel('"name_key_l" IS NULL OR "name_key_r" IS NULL').configure(is_null_level=True),
            cll.CustomLevel('"first_l" = "first_r" AND "last_l" = "last_r"', "the same names"),
            cll.CustomLevel('"name_key_l" = "name_key_r"', "the same names, in the other boxes"),
            cll.CustomLevel(both, "both names close"),
            cll.CustomLevel(initial, "an initial and a close last name"),
            cll.CustomLevel(f'"first_l" = "first_r" OR {_JW}("last_l", "last_r") >= 0.9', "one name close"),
            cll.ElseLevel(),
        ],
    )


def _email() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            cll.ExactMatchLevel("email_letters"),
            cll.ElseLevel(),
        ],
    )


# The blocking rules: a pair is compared only if both records share one of these keys.
BLOCKS: tuple[tuple[str, ...], ...] = (
    ("email",),
    ("name_key",),
    ("last", "substr(first, 1, 1)"),
    ("first", "birth_year"),
    ("email_letters",),
    ("phone",),
)


def block_key(record: Comparable, columns: tuple[str, ...]) -> tuple[object, ...] | None:
    """A record's key under one blocking rule, as the rule's SQL equality sees it (None never matches)."""
    values: list[object] = []
    for column in columns:
        value = (record.first or "")[:1] or None if column == "substr(first, 1, 1)" else getattr(record, column)
        if value is None:
            return None
        values.append(value)
    return tuple(values)


def sharing_a_block(changed: list[Comparable], others: list[Comparable]) -> list[Comparable]:
    """The records of `others` that share a blocking key with one of `changed`: the only ones a blocking
    rule could pair with them."""
    wanted = [{k for c in changed if (k := block_key(c, cols)) is not None} for cols in BLOCKS]
    return [o for o in others if any(block_key(o, cols) in keys for cols, keys in zip(BLOCKS, wanted, strict=True))]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=[block_on(*columns) for columns in BLOCKS],
        comparisons=[_name(), _email(), cl.ExactMatch("phone"), cl.ExactMatch("country"), cl.ExactMatch("birth_year")],
    )


@dataclass(frozen=True)
class Pair:
    left: str  # unique id in the first system
    right: str  # unique id in the second system
    probability: float


class Matcher:
    """The records of two systems in their own DuckDB connection, with a model: trained on them, or a
    saved one (`model`, as `save()` wrote it). Pairs are scored all at once, or only those between the
    records that changed and the other system's (incremental matching)."""

    def __init__(
        self, left: list[Comparable], right: list[Comparable], *, model: dict[str, Any] | None = None, seed: int = 1
    ) -> None:
        for name in ("splink", "splink.internals"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._connection = duckdb.connect()
        # A cursor, and a schema of its own: Splink's work tables and views stay out of the caller's way.
        self._api = DuckDBAPI(connection=self._connection.cursor(), output_schema="splink_work")
        self._left = self._api.register(as_table(left), table_name=LEFT)
        self._right = self._api.register(as_table(right), table_name=RIGHT)
        self.linker = Linker([self._left, self._right], model if model is not None else settings())
        if model is None:
            training = self.linker.training
            training.estimate_probability_two_random_records_match([block_on("email")], recall=0.85)
            training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
            training.estimate_parameters_using_expectation_maximisation(block_on("email"))
            training.estimate_parameters_using_expectation_maximisation(block_on("name_key"))

    def save(self) -> dict[str, Any]:
        """The trained model (settings and match weights) as JSON-ready data."""
        model: dict[str, Any] = self.linker.misc.save_model_to_json()
        return model

    def pairs(self, floor: float = 0.01) -> list[Pair]:
        """Every pair the blocking rules produce with a probability of at least `floor`."""
        return self._oriented(self.linker.inference.predict(threshold_match_probability=floor))

    @staticmethod
    def _oriented(predicted: Any) -> list[Pair]:
        pairs = []
        for row in predicted.as_pyarrow_table().to_pylist():
            left, right = row["unique_id_l"], row["unique_id_r"]
            if not str(row["source_dataset_l"]).startswith(LEFT):
                left, right = right, left
            pairs.append(Pair(left, right, float(row["match_probability"])))
        return pairs

    def candidates(self, floor: float = 0.01) -> list[Candidate]:
        """Each right record's most probable left record (at least `floor`), with its band."""
        best: dict[str, tuple[str, float]] = {}
        for pair in self.pairs(floor):
            if pair.right not in best or pair.probability > best[pair.right][1]:
                best[pair.right] = (pair.left, pair.probability)
        return [Candidate(left, right, p, band_of(p)) for right, (left, p) in sorted(best.items())]

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def pairs_of(
    model: dict[str, Any],
    left: list[Comparable],
    right: list[Comparable],
    changed_left: list[Comparable],
    changed_right: list[Comparable],
    floor: float = 0.01,
) -> list[Pair]:
    """The pairs of changed records, each against the other system's records, scored by a saved model:
    the changed records of the first system against those of the second that share a blocking key with
    them, and the other way round. The same pairs, with the same probabilities, as scoring everything
    and keeping those of changed records (Splink's predict_between on whole tables gets there too, but
    its memory grows with changed x all once there are three rules or more: 300 changed records against
    11,000 took 1.9 GB)."""
    found: dict[tuple[str, str], Pair] = {}
    for ones, theirs in (
        (changed_left, sharing_a_block(changed_left, right)),
        (sharing_a_block(changed_right, left), changed_right),
    ):
        if ones and theirs:
            with Matcher(ones, theirs, model=model) as matcher:
                found |= {(p.left, p.right): p for p in matcher.pairs(floor)}
    return list(found.values())
