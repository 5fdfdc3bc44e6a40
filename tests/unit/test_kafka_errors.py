"""Which producer errors mean the producer never works again (a new one takes its place)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from mesh_adapters.kafka import fatal


def test_a_fatal_error_or_a_transaction_call_stuck_in_progress_retires_the_producer() -> None:
    assert fatal(KafkaException(KafkaError(KafkaError._FENCED, fatal=True)))
    assert fatal(KafkaException(KafkaError(KafkaError._CONFLICT, "commit_transaction already in progress")))


def test_a_timeout_or_another_error_is_retried_with_the_same_producer() -> None:
    assert not fatal(KafkaException(KafkaError(KafkaError._TIMED_OUT)))
    assert not fatal(KafkaException(KafkaError(KafkaError._TRANSPORT)))
    assert not fatal(ValueError("not Kafka's"))
