"""A worker taking the aggregator over reads the last live snapshot its predecessor
published (``runtime.history.read_latest_live``) to prime its alert tracker: from the
end of ``visibility.live`` on a real broker, whole even when the last one was cut short."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from kafka import KafkaProducer

from beatlight.configs import alert_tracker
from beatlight.runtime.history import read_latest_live
from beatlight.runtime.topics import VISIBILITY_LIVE
from beatlight.streams.aggregate import snapshot_records
from tests.streams import e2e_support
from tests.streams.test_zone_alerts import T0, city, document_at, pings_in  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
kafka = e2e_support.kafka  # a fresh broker: the topic's name is fixed


def _publish(bootstrap: str, documents: list[dict], *, cut_last: int = 0) -> int:
    """Each document as the worker sends a live snapshot (``live|`` keys without it); the
    last one without its final ``cut_last`` records (a worker killed mid-snapshot)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    records = 0
    for n, document in enumerate(documents):
        batch = snapshot_records(document, prefix="live")
        if n == len(documents) - 1 and cut_last:
            batch = batch[:-cut_last]
        for key, value in batch:
            producer.send(VISIBILITY_LIVE, key=key.removeprefix("live|").encode(),
                          value=orjson.dumps(value))  # fmt: skip
        records = len(snapshot_records(document, prefix="live"))
    producer.flush()
    producer.close()
    return records


def test_the_last_whole_live_snapshot_is_read_from_the_end(kafka, city):  # noqa: F811
    _, _, frame = city
    events = pings_in(frame, "TC", T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=30))
    documents = [document_at(city, events, T0 + timedelta(minutes=15 * k)) for k in range(1, 9)]
    assert read_latest_live(kafka, 100) is None  # nothing published yet
    records = _publish(kafka, documents)
    got = read_latest_live(kafka, records)
    assert got is not None and got["as_of"] == documents[-1]["as_of"]
    assert got["zones"] == documents[-1]["zones"]
    assert [w["code"] for w in got["wards"]] == [w["code"] for w in documents[-1]["wards"]]
    # A snapshot cut short (its summary and last zones never written): the one before,
    # with the newer records it got, is what a successor reads.
    more = [document_at(city, events, T0 + timedelta(minutes=15 * k)) for k in (9, 10)]
    _publish(kafka, more, cut_last=3)
    got = read_latest_live(kafka, records)
    assert got is not None and got["as_of"] == more[0]["as_of"]


def test_a_primed_tracker_does_not_raise_again_what_was_raised(kafka, city):  # noqa: F811
    # TC is unattended from 20:00 UTC (nobody came): the first aggregator raised it; its
    # successor, primed with the last live snapshot from the topic, does not.
    _, zones, _ = city
    first = [document_at(city, [], T0 + timedelta(minutes=15 * k)) for k in range(15, 18)]
    old = alert_tracker(zones=zones)
    raised = [a for d in first for a in old.update(d) if a["kind"] == "zone_unattended"]
    assert [a["code"] for a in raised] == ["TC"]
    records = _publish(kafka, first)
    later = document_at(city, [], T0 + timedelta(minutes=15 * 19))
    fresh = alert_tracker(zones=zones)
    assert [a["code"] for a in fresh.update(later) if a["kind"] == "zone_unattended"] == ["TC"]
    primed = alert_tracker(zones=zones)
    primed.prime(read_latest_live(kafka, records))
    assert [a for a in primed.update(later) if a["kind"] == "zone_unattended"] == []
