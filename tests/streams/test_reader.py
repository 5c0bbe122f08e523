"""The partition reader never skips records silently: a start retention has deleted reads
from the log's first offset, and says so.

Tansu deletes no records (no retention, no DeleteRecords), so these tests give the reader
a partition of their own: offsets 5 to 9 left of 0 to 9, served the way Kafka does
(a fetch out of the log's range is reset by ``auto_offset_reset``).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import pytest

from beatlight.runtime.reader import PartitionReader

pytestmark = pytest.mark.unit

FIRST, END = 5, 10  # the log holds offsets 5..9


class _Message(NamedTuple):
    offset: int
    value: bytes
    key: bytes | None = None


class _TrimmedPartition:
    """kafka-python's consumer, as far as :class:`PartitionReader` uses it, on one partition."""

    def __init__(self, **config: Any) -> None:
        self.reset = config.get("auto_offset_reset", "latest")
        self.tp: Any = None
        self.position_ = 0
        self.high: int | None = None

    def assign(self, tps: list[Any]) -> None:
        self.tp = tps[0]

    def seek(self, tp: Any, offset: int) -> None:
        self.position_ = offset

    def beginning_offsets(self, tps: list[Any], timeout_ms: int | None = None) -> dict:
        return dict.fromkeys(tps, FIRST)

    def end_offsets(self, tps: list[Any], timeout_ms: int | None = None) -> dict:
        return dict.fromkeys(tps, END)

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        if not FIRST <= self.position_ <= END:  # OffsetOutOfRange: the reset policy decides
            self.position_ = FIRST if self.reset == "earliest" else END
        messages = [_Message(o, b"%d" % o) for o in range(self.position_, END)][:max_records]
        self.high = END
        self.position_ += len(messages)
        return {self.tp: messages} if messages else {}

    def highwater(self, tp: Any) -> int | None:
        return self.high

    def position(self, tp: Any, timeout_ms: int | None = None) -> int:
        return self.position_

    def close(self) -> None:
        pass


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> PartitionReader:
    monkeypatch.setattr("kafka.KafkaConsumer", _TrimmedPartition)
    return PartitionReader("127.0.0.1:9", "patrol.presence")


def _offsets(reader: PartitionReader, start: int, stop: int | None = None) -> list[int]:
    return [r.offset for chunk in reader.read(0, start, stop, idle_ms=100) for r in chunk]


def test_a_start_retention_deleted_reads_from_the_logs_first_offset(reader, caplog):
    with caplog.at_level(logging.WARNING, "beatlight"):
        assert _offsets(reader, 0) == [5, 6, 7, 8, 9]
    assert reader.at_end
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (
        "patrol.presence[0]: offset 0 is no longer in the log (deleted by retention); "
        "reading from its first offset, 5"
    )


def test_a_start_in_the_log_reads_from_there_without_a_word(reader, caplog):
    with caplog.at_level(logging.WARNING, "beatlight"):
        assert _offsets(reader, 7) == [7, 8, 9]
        assert _offsets(reader, 2, 8) == [5, 6, 7]
    assert [r.getMessage() for r in caplog.records].count(
        "patrol.presence[0]: offset 2 is no longer in the log (deleted by retention); "
        "reading from its first offset, 5"
    ) == 1


def test_a_start_past_the_end_reads_nothing(reader):
    """A recreated topic that ends before the lane's offset: nothing to read, as before."""
    assert _offsets(reader, 12) == []
    assert reader.at_end
