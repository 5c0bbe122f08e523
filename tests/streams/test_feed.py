"""The lanes' feed reads each partition from where its lane is, on a real broker.

``LaneFeed.poll`` is given every lane's next offset before each poll: it reads from
there, moves when a lane has got elsewhere (ahead by itself, or back after records it
returned were not handed over), and a lane past its partition's end (a topic recreated
empty) is not sent back to the start at every poll.
"""

from __future__ import annotations

import time

import pytest

from beatlight.runtime.feed import LaneFeed

pytestmark = pytest.mark.e2e

RECORDS = 300


@pytest.fixture
def topic(broker: str, new_topic) -> str:  # noqa: ANN001
    """Two partitions of ``RECORDS`` records each, valued by partition and offset."""
    from kafka import KafkaProducer

    name = new_topic(partitions=2)
    producer = KafkaProducer(bootstrap_servers=broker, linger_ms=5)
    try:
        for offset in range(RECORDS):
            for partition in (0, 1):
                producer.send(name, b"%d:%d" % (partition, offset), partition=partition)
        producer.flush()
    finally:
        producer.close()
    return name


def _poll_until(feed: LaneFeed, lanes_at: dict[int, int], want, timeout_s: float = 20.0):  # noqa: ANN001, ANN202
    """Poll (the lanes taking every record given) until ``want(got)`` holds, at least once."""
    got: dict[int, list[int]] = {p: [] for p in lanes_at}
    deadline = time.monotonic() + timeout_s
    while True:
        for partition, records in feed.poll(lanes_at, timeout_ms=200).items():
            assert [r.value for r in records] == [b"%d:%d" % (partition, r.offset)
                                                  for r in records]  # fmt: skip
            got[partition] += [r.offset for r in records]
            lanes_at[partition] = max(lanes_at[partition], records[-1].offset + 1)
        if want(got):
            break
        assert time.monotonic() < deadline, got
    return got


def test_each_partition_is_read_from_its_lanes_offset_and_follows_the_lane(broker, topic):
    feed = LaneFeed(broker, topic, fetch_wait_ms=50, max_records=100, max_partition_bytes=2048)
    try:
        lanes_at = {0: 0, 1: 120}
        got = _poll_until(feed, lanes_at, lambda g: len(g[0]) >= 50 and len(g[1]) >= 50)
        assert got[0][:50] == list(range(50))
        assert got[1][:50] == list(range(120, 170))

        # A lane read ahead by itself: the feed goes on from there.
        lanes_at[0] = 250
        got = _poll_until(feed, lanes_at, lambda g: g[0])
        assert got[0][0] == 250

        # Records returned but not handed over (a rebalance, say): the lane is behind the
        # feed, which goes back to it.
        lanes_at[1] = 10
        got = _poll_until(feed, lanes_at, lambda g: g[1])
        assert got[1][0] == 10

        # A lane the partition has gone from: read no more.
        del lanes_at[1]
        got = _poll_until(feed, lanes_at, lambda g: lanes_at[0] == RECORDS)
        assert set(feed.positions) == {0}
        assert feed.ends() == {0: RECORDS}
    finally:
        feed.close()


def test_a_lane_past_its_partitions_end_is_not_sent_back_to_the_start_at_every_poll(broker, topic):
    """The topic recreated with fewer records than the lane has counted: Apache Kafka
    answers out of range, and the consumer starts again from the earliest record (Tansu
    answers a fetch past the end with nothing, so the test moves the consumer there as
    kafka-python's reset does). The lane skips what it has counted; the feed reads on
    instead of going back to the lane, and to the start again, at every poll."""
    from kafka import TopicPartition

    feed = LaneFeed(broker, topic, fetch_wait_ms=50, max_records=50, max_partition_bytes=2048)
    try:
        lanes_at = {0: RECORDS + 1000}  # the lane counted records this log does not have
        assert feed.poll(lanes_at, timeout_ms=200) == {}
        feed._consumer.seek(TopicPartition(topic, 0), 0)  # auto_offset_reset="earliest"
        offsets: list[int] = []
        deadline = time.monotonic() + 20
        while len(offsets) < RECORDS:
            assert time.monotonic() < deadline, offsets[-5:]
            for records in feed.poll(lanes_at, timeout_ms=200).values():
                offsets += [r.offset for r in records]
        assert offsets == list(range(RECORDS)), "read again from the start"
        assert feed.positions == lanes_at  # where the lane will be
    finally:
        feed.close()
