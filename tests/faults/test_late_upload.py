"""A body-worn camera's shift arrives eight hours late (SPEC "Late uploads").

With ``BEATLIGHT_LATENESS_SECONDS=86400`` a real worker publishes each hour an hour
behind the feed. One unit's pings of an 8-hour shift are held back and sent eight hours
after the shift ended, once the hours they belong to are published. Every one of them
counts: each hour they touch is published again as a revision that equals the batch
report on all the events (``beatlight report --as-of H``), and the API, over the store
the materialiser fills, serves the newest revision with ``revision`` and ``revised_at``,
marks the wards whose figures changed, and its history says when.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy.orm import Session

from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.documents import report_document_at
from beatlight.api.materialise import Materialiser
from beatlight.configs import lane_config, materialiser_config
from beatlight.runtime.history import read_history
from beatlight.streams.batch import batch_report
from beatlight.streams.events import parse_lines
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.faults.workers import Worker, wait_for
from tests.streams.e2e_support import START, replay_lines, same_figures, wait_for_hour

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DAY_S = 86_400
SHIFT = (START + timedelta(hours=3), START + timedelta(hours=11))  # the camera's shift
UPLOAD = SHIFT[1] + timedelta(hours=8)  # docked eight hours after it ended
END = START + timedelta(hours=21)
_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_a_shift_uploaded_eight_hours_late_counts_and_revises_its_hours(
    kafka, geography, wards_file, tmp_path
):
    lines = list(simulate_lines(geography.wards, SimulationConfig(
        seed=14, start=START, duration=END - START, units=16, late_rate=0.0)))  # fmt: skip
    camera, shift, before, after = _split(lines)
    # The hours after the shift's first ping, published before the upload came.
    touched, hour = [], _ceil_hour(min(_ts(line) for line in shift))
    while hour <= UPLOAD - 2 * _HOUR:
        touched.append(hour)
        hour += _HOUR
    assert len(touched) >= 8, touched

    worker = Worker.start(kafka, wards_file, tmp_path / "worker.log",
                          lateness_seconds=str(DAY_S))  # fmt: skip
    engine = create_engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(str(engine.url))
    stop = threading.Event()
    materialiser = Materialiser(materialiser_config(None, kafka), engine)
    thread = threading.Thread(target=materialiser.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _send(kafka, before)
        # History is an hour behind the feed, not the day of lateness.
        first = wait_for_hour(kafka, touched[-1], 120, [worker.process])
        assert first["revision"] == 0 and first["revised_at"]
        _send(kafka, shift)  # the camera docks
        revised = {hour: _revision(kafka, hour, worker) for hour in touched}
        _send(kafka, after)
        later = wait_for_hour(kafka, END - 2 * _HOUR, 120, [worker.process])

        everything = before + shift + after
        for hour, document in revised.items():
            assert document["revision"] >= 1 and document["revised_at"] > first["revised_at"]
            same_figures(document, _batch(geography, everything, hour))
        # Each of the camera's pings counted: the hours after its shift hold all of them.
        assert later["revision"] == 0
        same_figures(later, _batch(geography, everything, END - 2 * _HOUR))
        assert worker.metrics()["beatlight_aggregator_revisions"] >= len(touched)

        # The API, over the store the materialiser fills, serves the newest revisions.
        wait_for("the store to hold the revisions", lambda: all(
            (_stored(engine, hour) or {}).get("revision") == revised[hour]["revision"]
            for hour in touched), 60)  # fmt: skip
        _check_api(engine, geography, revised, camera_wards=_wards_of(geography, shift))
    finally:
        stop.set()
        thread.join(30)
        assert worker.stop() == 0, worker.tail()
        engine.dispose()


def _split(lines: list[str]) -> tuple[str, list[str], list[str], list[str]]:
    """The busiest unit in the shift's hours is the camera: its pings then are held back
    until the upload; everything else goes as it was made, split at the upload."""
    events = [(line, _load(line)) for line in lines]
    timed = [(line, e) for line, e in events if isinstance(e, dict) and _has_time(e)]
    in_shift = Counter(e.get("unit") for line, e in timed if SHIFT[0] <= _time(e) < SHIFT[1])
    camera = in_shift.most_common(1)[0][0]
    shift = [line for line, e in timed
             if e.get("unit") == camera and SHIFT[0] <= _time(e) < SHIFT[1]]  # fmt: skip
    held = set(shift)
    cut = next(i for i, (line, e) in enumerate(events)
               if isinstance(e, dict) and _has_time(e) and _time(e) >= UPLOAD)  # fmt: skip
    before = [line for line, _ in events[:cut] if line not in held]
    after = [line for line, _ in events[cut:] if line not in held]
    assert len(shift) > 500, len(shift)
    return camera, shift, before, after


def _send(bootstrap: str, lines: list[str]) -> None:
    replay_lines(bootstrap, [line.encode() for line in lines])


def _revision(bootstrap: str, hour: datetime, worker: Worker) -> dict:
    """The hour's document once it has been published again."""
    return wait_for(f"a revision of {hour:%H:%M}", lambda: _if_revised(bootstrap, hour, worker),
                    120, every_s=1)  # fmt: skip


def _if_revised(bootstrap: str, hour: datetime, worker: Worker) -> dict | None:
    assert worker.process.poll() is None, worker.tail()
    document = read_history(bootstrap, hour, timeout_s=20)
    return document if document.get("revision", 0) >= 1 else None


def _batch(geography, lines: list[str], hour: datetime) -> dict:
    """``beatlight report --as-of H`` on all the events: every one counts."""
    now_us = (datetime.now(UTC) - _EPOCH) // timedelta(microseconds=1)
    return batch_report(geography, [parse_lines(lines, max_event_bytes=8192)],
                        replace(lane_config(), lateness_us=DAY_S * 1_000_000), now_us=now_us,
                        as_of_us=(hour - _EPOCH) // timedelta(microseconds=1))  # fmt: skip


def _stored(engine, hour: datetime) -> dict | None:
    with Session(engine) as session:
        return report_document_at(session, hour)


def _check_api(engine, geography, revised: dict[datetime, dict], camera_wards: set[str]) -> None:
    from fastapi.testclient import TestClient

    from beatlight.api.app import create_app
    from beatlight.api.keys import create_key
    from beatlight.settings import Settings

    with Session(engine) as session, session.begin():
        key = create_key(session, "pcc", "late upload test")[1]
    settings = Settings(rate_limit_per_minute=0, auth_cache_seconds=0)
    app = create_app(settings, engine, geography, clock=lambda: END + timedelta(days=2))
    headers = {"X-API-Key": key}
    with TestClient(app) as client:
        for hour, document in revised.items():
            as_of = hour.strftime("%Y-%m-%dT%H:%M:%SZ")
            report = client.get("/api/v1/report", params={"as_of": as_of}, headers=headers)
            assert report.status_code == 200, report.text
            served = report.json()
            assert served["revision"] == document["revision"] >= 1
            assert served["revised_at"] == document["revised_at"]
            same_figures(served, document)
            # The wards marked as revised are the camera's: a ward's figures are its pings'.
            marked = {w["code"] for w in served["wards"] if w.get("revision")}
            assert marked and marked <= camera_wards
        hour = max(revised)
        ward = sorted(camera_wards)[0]
        history = client.get(f"/api/v1/history/{ward}", headers=headers, params={
            "window": "24h", "start": (min(revised) - _HOUR).isoformat(),
            "end": hour.isoformat()}).json()  # fmt: skip
        changed = {datetime.fromisoformat(r["as_of"].replace("Z", "+00:00"))
                   for r in history["revisions"]}  # fmt: skip
        assert changed and changed <= set(revised)
        assert all(r["revised_at"] > r["first_published_at"] for r in history["revisions"])


def _wards_of(geography, lines: list[str]) -> set[str]:
    """The wards the camera's held-back pings fell in."""
    import numpy as np

    events = [orjson.loads(line) for line in lines]
    lon = np.array([e["lon"] for e in events], dtype=float)
    lat = np.array([e["lat"] for e in events], dtype=float)
    ward, _ = geography.locate(lon, lat)
    return {str(geography.wards.codes[w]) for w in ward.tolist() if w >= 0}


def _load(line: str) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None  # a feed's broken line: it goes as it is


def _has_time(event: dict) -> bool:
    try:
        _time(event)
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _time(event: dict) -> datetime:
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).astimezone(UTC)


def _ts(line: str) -> datetime:
    return _time(orjson.loads(line))


def _ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + _HOUR
