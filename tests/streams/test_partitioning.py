"""The partitioner the batch report splits events by is the one Kafka's clients use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_murmur2

from beatlight.streams.partitioning import murmur2, partition_of, partitions_of

pytestmark = pytest.mark.unit


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_murmur2_is_the_kafka_clients_hash(key: bytes) -> None:
    assert murmur2(key) == kafka_murmur2(key)


@given(st.text(max_size=40), st.integers(min_value=1, max_value=64))
def test_a_unit_goes_where_kafkas_default_partitioner_sends_its_key(unit: str, partitions: int):
    expected = (kafka_murmur2(unit.encode()) & 0x7FFFFFFF) % partitions if partitions > 1 else 0
    assert partition_of(unit, partitions) == expected


#: ``org.apache.kafka.common.utils.UtilsTest.testMurmur2``'s cases (Java's signed ints).
JAVA_CASES = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "java"), JAVA_CASES.items())
def test_murmur2_gives_the_java_clients_values(key: bytes, java: int) -> None:
    assert murmur2(key) == java & 0xFFFFFFFF


def test_keyless_and_single_partition_events_go_to_partition_0() -> None:
    assert partition_of(None, 4) == 0
    assert partition_of("unit-1", 1) == 0
    assert partitions_of(["unit-1", None, "unit-1"], 1).tolist() == [0, 0, 0]
