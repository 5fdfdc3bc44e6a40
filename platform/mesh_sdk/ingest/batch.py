"""The decisions of exactly-once ingestion, as pure functions: which input records of a micro-batch
become rows, which become dead letters and why, which are duplicates, and which offsets the batch's
snapshot holds. No broker and no table here: the engine (mesh_sdk.ingest.engine) does the I/O, in the
order that makes the decisions exactly once (dead letters acknowledged, then one snapshot with the
rows and these offsets, then the output stream's transaction)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from mesh_adapters.avro import RegistryUnavailable, WireFormatError
from mesh_sdk.ingest.changes import UnexpectedChange
from mesh_sdk.ingest.deadletter import DeadLetter
from mesh_sdk.observe.outcome import Defect
from mesh_sdk.spec.logic import BatchContext, EndOfInput, Skip, Transform

Offsets = dict[str, dict[int, int]]  # topic -> partition -> the next offset to read


class Incoming(Protocol):
    """An input message as ingestion reads it (a confluent_kafka Message is one)."""

    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...

    def key(self) -> str | bytes | None: ...

    def value(self) -> str | bytes | None: ...


M = TypeVar("M", bound=Incoming)
Decode = Callable[[Any], Mapping[str, Any]]  # an input message -> the record the product's logic receives
Check = Callable[[Mapping[str, Any]], list[str]]  # a row -> the contract's rules it breaks
Accepted = tuple[dict[str, Any] | Skip, None] | tuple[None, DeadLetter]


def accept(msg: Incoming, decode: Decode, transform: Transform, check: Check, context: BatchContext) -> Accepted:
    """One input message: the history row it becomes, or the dead letter that says why it cannot."""
    topic, value = msg.topic() or "", msg.value()
    raw = value.encode() if isinstance(value, str) else value
    key = msg.key()

    def letter(defect: Defect, reason: str) -> tuple[None, DeadLetter]:
        kept = key.encode() if isinstance(key, str) else key
        return None, DeadLetter(defect, reason, topic, msg.partition() or 0, msg.offset() or 0, kept, raw)

    if not raw or raw[0] != 0:
        return letter(Defect.UNDECODABLE, "not in the registry's Avro wire format (magic byte 0 + schema id)")
    try:
        record = decode(msg)
    except RegistryUnavailable:
        raise  # not the message's fault: the batch is retried from the last snapshot
    except WireFormatError as exc:
        return letter(Defect.SCHEMA_INVALID, str(exc))
    except UnexpectedChange as exc:
        return letter(Defect.UNEXPECTED, str(exc))
    except Exception as exc:  # fastavro raises several types; every one means the same here
        return letter(Defect.SCHEMA_INVALID, f"cannot be read with the product's input schema: {exc!r}")
    try:
        row = transform(record, context)
    except Exception as exc:
        return letter(Defect.CONTRACT, f"the product's logic rejected it: {exc}")
    if row is None:
        return letter(Defect.CONTRACT, "the product's logic dropped it")
    if isinstance(row, Skip):
        return row, None
    broken = check(row)
    if broken:
        return letter(Defect.CONTRACT, "; ".join(broken))
    return dict(row), None


class RecentKeys:
    """Primary keys already written, remembered for a bounded number of rows (duplicates arrive
    minutes apart, not months)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: str) -> None:
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class SortedBatch:
    """A micro-batch sorted: what to write, what to dead-letter, and how far it read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    skipped: int = 0  # read and passed by on purpose (the logic returned SKIP)
    ended: set[str] = field(default_factory=set)  # input topics whose source said its last word
    keys: set[str] = field(default_factory=set)  # the rows' keys: remembered once the snapshot commits
    offsets: Offsets = field(default_factory=dict)  # per partition read: the offset after its last message
    consumed: int = 0

    def count_dead(self) -> dict[Defect, int]:
        counts = dict.fromkeys(Defect, 0)
        for letter in self.dead:
            counts[letter.defect] += 1
        return counts


def sort_batch(
    messages: Iterable[M],
    accept_one: Callable[[M], Accepted],
    key_of: Callable[[Mapping[str, Any]], str],
    written: Container[str],
) -> SortedBatch:
    """Sort a micro-batch. A row whose key is in `written` (rows already in the table) or earlier in
    this batch is a duplicate; every message read, accepted or not, moves its partition's offset on,
    so a committed snapshot never reads it again."""
    batch = SortedBatch()
    for msg in messages:
        batch.consumed += 1
        topic = msg.topic() or ""
        batch.offsets.setdefault(topic, {})[msg.partition() or 0] = (msg.offset() or 0) + 1
        if topic in batch.ended:  # after its source's last word: nothing it says counts any more
            batch.skipped += 1
            continue
        row, letter = accept_one(msg)
        if letter is not None:
            batch.dead.append(letter)
            continue
        if isinstance(row, Skip):
            batch.skipped += 1
            if isinstance(row, EndOfInput):
                batch.ended.add(topic)
            continue
        assert row is not None
        key = key_of(row)
        if key in written or key in batch.keys:
            batch.duplicates += 1
            continue
        batch.keys.add(key)
        batch.rows.append(row)
    return batch


def advance(offsets: Offsets, read: Offsets) -> None:
    """The offsets after a batch: each partition read moves on to where the batch stopped."""
    for topic, partitions in read.items():
        offsets.setdefault(topic, {}).update(partitions)
