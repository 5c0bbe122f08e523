"""The stream's zones end to end (SPEC Z4): a real broker, real ``beatlight worker`` processes
with a zones file, against ``beatlight report --zones --as-of H --partitions 4``.

The city is tests/zones_city.py over the SYNTHETIC wards: a town centre and overlapping
150 m hot spots, with Friday and Saturday night sessions crossing midnight and the night
the clocks go back. Units walk between the zones (tests/streams/test_zones_batch.py), and
the feed comes as a real one does (tests/feeds.py): jittered time stamps, re-sends hours
later, a unit whose clock ran five days fast; and as an export sorted by unit. Checked
hour snapshots on ``visibility.history`` have the batch report's ``zones``, zone by zone,
window by window, session by session, and every version of every hour of the feed equals
the batch report's, also after a worker was SIGKILLed mid-feed and restarted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from beatlight.configs import zone_config
from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.geo.zones import load_zones
from beatlight.runtime.history import read_history
from beatlight.streams.batch import Zoning
from beatlight.streams.schedule import parse_schedule
from tests.faults.workers import Feeder, Progress, Worker, assert_every_version, wait_for
from tests.feeds import by_unit
from tests.streams import e2e_support
from tests.streams.e2e_support import (
    expected,
    replay_lines,
    same_figures,
    same_zones,
    start_worker,
    stop,
    wait_for_hour,
)
from tests.streams.test_zones_batch import T0, messy
from tests.zones_city import synthetic_zones, write_zones

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

kafka = e2e_support.kafka  # a fresh broker per test

#: T0 is Friday 23 October 2026, 16:00 UTC (17:00 BST). Hours the tests check (UTC):
HOURS = [
    T0 + timedelta(hours=11),  # Sat 03:00: Friday night's sessions over (TC, HS01, HS09)
    T0 + timedelta(hours=31),  # Sat 23:00 (00:00 BST): Saturday night's sessions on
    T0 + timedelta(hours=33),  # Sun 01:00 GMT: the clocks just went back, sessions on
    T0 + timedelta(hours=36),  # Sun 04:00 GMT: Saturday's over, across the clock change
    T0 + timedelta(hours=50),  # Sun 18:00: a quiet Sunday, HS04's Sunday session to come
]
#: Every hour of the feed's whole time that the stream settles, every version published.
ALL_HOURS = [T0 + timedelta(hours=h) for h in range(2, 59)]


_T0_TEXT = T0.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class City:
    wards: Path
    geography: Geography
    zones: Path
    zoning: Zoning
    events: Path


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> City:
    folder = tmp_path_factory.mktemp("zones_e2e")
    wards = write_synthetic(folder / "wards.geojson")
    frame = synthetic_zones()
    zones = write_zones(frame, folder / "zones.geojson")
    events = folder / "events.ndjson"
    events.write_bytes(b"".join(line + b"\n" for line in messy(frame, 5)))
    # The zones as the worker loads them (BEATLIGHT_ZONES, default settings).
    zoning = Zoning(load_zones(zones, parse_schedule=parse_schedule), zone_config())
    return City(wards, load_geography(wards), zones, zoning, events)


def _assert_hours(bootstrap: str, city: City, processes) -> dict:  # noqa: ANN001
    """Each of HOURS on visibility.history against the batch report as of it, then every
    version of every one of ALL_HOURS; returns the batch documents of HOURS."""
    wanted = {}
    for hour in HOURS:
        document = wait_for_hour(bootstrap, hour, 150, processes)
        wanted[hour] = _batch(city, hour)
        same_zones(document, wanted[hour])
        same_figures(document, wanted[hour])
    wait_for_hour(bootstrap, ALL_HOURS[-1], 60, processes)
    every = {hour: wanted.get(hour) or _batch(city, hour) for hour in ALL_HOURS}
    versions = assert_every_version(bootstrap, every)
    print(f"hour records published: {sum(versions.values())} for {len(versions)} keys")
    return wanted


def _batch(city: City, hour: datetime) -> dict:
    """``beatlight report --zones --as-of hour --partitions 4`` on the city's feed."""
    return expected(city.geography, city.events, hour, zoning=city.zoning)


def _assert_not_vacuous(documents: dict) -> None:
    """The zones were patrolled, and the sessions checked were met and missed."""
    last = documents[HOURS[-1]]["zones"]
    busy = [z["code"] for z in last if z["windows"]["28d"]["patrol_minutes"] > 0]
    assert len(busy) >= 9, busy
    # Sessions of the feed's nights (those before it were trivially missed).
    met = {(z["code"], s["start"]): s["met"] for document in documents.values()
           for z in document["zones"] for s in z["sessions"] if s["start"] >= _T0_TEXT}  # fmt: skip
    assert True in met.values() and False in met.values(), met
    on = [z["code"] for z in documents[HOURS[1]]["zones"] for s in z["sessions"] if s["open"]]
    assert "TC" in on, on  # Saturday night in the town centre


@pytest.mark.parametrize("order", ["as delivered", "by unit"])
def test_hour_snapshots_have_the_batch_reports_zones(kafka, city, tmp_path, order):
    """Also an export sorted by unit (``by_unit``): each partition's later units arrive
    after its watermark has passed them, so the zones count what the lanes accept."""
    lines = city.events.read_bytes().splitlines()
    if order == "by unit":
        lines = by_unit(lines)
        city = replace(city, events=tmp_path / "by_unit.ndjson")
        city.events.write_bytes(b"".join(line + b"\n" for line in lines))
    replay_lines(kafka, lines)
    log = tmp_path / "worker.log"
    worker = start_worker(kafka, city.wards, log, zones=str(city.zones))
    try:
        documents = _assert_hours(kafka, city, [worker])
    finally:
        assert stop(worker) == 0, log.read_text()[-3000:]
    _assert_not_vacuous(documents)
    rejected = documents[HOURS[-1]]["rejected"].get("too_late", 0)
    assert rejected > (len(lines) // 3 if order == "by unit" else 0), rejected


def test_a_worker_killed_mid_feed_restarts_with_the_same_zones(kafka, city, tmp_path):
    lines = city.events.read_bytes().splitlines()
    log = tmp_path / "worker.log"
    settings = {"checkpoint_seconds": "1", "zones": str(city.zones)}
    progress = Progress()
    first = len(lines) // 4  # Friday evening and night
    replay_lines(kafka, lines[:first])
    worker = Worker.start(kafka, city.wards, log, **settings)
    try:
        wait_for("the worker at work", lambda: progress([worker]) >= first, 120)
        feeder = Feeder(kafka, lines[first:], chunks=15, pause_s=1.0)
        # Killed on Saturday: the later HOURS settle only after the restart, from the
        # zone state its lanes' checkpoints held and what came after them.
        wait_for("Saturday sent", lambda: first + feeder.sent >= len(lines) * 0.4, 60)
        time.sleep(2.5)  # checkpoints after some of the new records
        done = progress([worker])
        worker.kill()
        print(f"SIGKILLed with {done} of {len(lines)} records processed")
        with pytest.raises(BeatlightError):  # the last hour settles after the restart
            read_history(kafka, HOURS[-1], timeout_s=20)
        worker = Worker.start(kafka, city.wards, log, **settings)
        feeder.join()
        documents = _assert_hours(kafka, city, [worker.process])  # before the kill and after
    finally:
        worker.stop()
    assert "from its checkpoint" in log.read_text()
    _assert_not_vacuous(documents)
