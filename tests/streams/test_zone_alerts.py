"""SPEC Z5's alerts from successive live documents: ``zone_unattended`` while a session
is on and nobody has been in the zone for its ``max_gap_minutes``, ``session_missed``
when a session ends not ``met``.

The documents are the batch report's (``streams.batch`` with zoning, the stream's
figures at every as_of) over the synthetic city of tests/zones_city.py, every 15
minutes of Friday 23 October 2026. The town centre ``TC`` has a session Fri 20:00-02:00
local (19:00-01:00 UTC), owing 120 patrol minutes with nobody away for over 60;
``HS03`` one Fri 15:00-18:00 local owing 15 minutes, with no max gap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pyproj import Transformer

from beatlight.configs import alert_tracker, lane_config, zone_config
from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.geo.synthetic import synthetic_wards
from beatlight.geo.zones import zones_from_frame
from beatlight.streams.batch import Zoning, batch_reports
from beatlight.streams.events import parse_lines
from beatlight.streams.schedule import parse_schedule
from tests.zones_city import synthetic_zones

pytestmark = pytest.mark.unit

T0 = datetime(2026, 10, 23, 16, tzinfo=UTC)  # Friday, 17:00 local
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SESSION_START, SESSION_END = T0 + timedelta(hours=3), T0 + timedelta(hours=9)


@pytest.fixture(scope="module")
def city():
    wards = wards_from_frame(synthetic_wards(), source="synthetic")
    geography = geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0))
    frame = synthetic_zones()
    zones = zones_from_frame(frame, parse_schedule=parse_schedule, source="city")
    return geography, zones, frame


def pings_in(frame, code: str, start: datetime, end: datetime) -> list[dict]:  # noqa: ANN001
    """One unit's pings every minute in [start, end) at a point of zone ``code``."""
    point = frame.loc[frame["code"] == code].geometry.iloc[0].representative_point()
    lon, lat = Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True).transform(
        point.x, point.y
    )
    minutes = int((end - start).total_seconds() // 60)
    return [
        {"event_id": f"{code}-{start:%H%M}-{m}", "unit": "u1", "mode": "foot", "lat": lat,
         "lon": lon, "ts": (start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for m in range(minutes)
    ]  # fmt: skip


def alerts_over(
    city, events: list[dict], hours: float = 10, *,  # noqa: ANN001
    down: tuple[int, int] | None = None, primed: bool = True,
) -> list[dict]:  # fmt: skip
    """Every zone alert a tracker raises on the documents every 15 minutes from T0.
    ``down``: the steps ``[a, b)`` no aggregator ran; at ``b`` a new tracker takes over,
    primed with the last document before ``a`` (unless not ``primed``)."""
    _, zones, _ = city
    tracker = alert_tracker(zones=zones)
    raised, last = [], None
    for step in range(1, int(hours * 4) + 1):
        if down is not None and down[0] <= step < down[1]:
            continue
        if down is not None and step == down[1]:
            tracker = alert_tracker(zones=zones)
            if primed and last is not None:
                tracker.prime(last)
        as_of = T0 + timedelta(minutes=15 * step)
        document = document_at(city, events, as_of)
        raised += [a for a in tracker.update(document) if a["level"] == "zone"]
        last = document
    return raised


def document_at(city, events: list[dict], as_of: datetime) -> dict:  # noqa: ANN001
    """The report with zones as of ``as_of`` on the events before it (the stream's figures
    then), plus a ping in ``HS05`` (no schedule) before T0: a report needs a valid event."""
    geography, zones, frame = city
    events = events + pings_in(
        frame, "HS05", T0 - timedelta(hours=3), T0 - timedelta(hours=3, minutes=-1)
    )
    as_of_us = (as_of - EPOCH) // timedelta(microseconds=1)
    text = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [orjson.dumps(e) for e in events if e["ts"] < text]
    batch = parse_lines(lines, max_event_bytes=8192, first_position=0, keep_text=True)
    return batch_reports(geography, [batch], lane_config(), now_us=as_of_us, as_of_us=as_of_us,
                         zoning=Zoning(zones, zone_config())).document  # fmt: skip


def of(alerts: list[dict], code: str, kind: str) -> list[dict]:
    return [a for a in alerts if a["code"] == code and a["kind"] == kind]


def test_zone_unattended_is_raised_once_while_the_session_is_on(city):
    """Seen until 19:30 UTC: at 20:30, 60 minutes without anybody, with the session on."""
    _, _, frame = city
    alerts = alerts_over(
        city, pings_in(frame, "TC", SESSION_START, SESSION_START + timedelta(minutes=31))
    )
    (alert,) = of(alerts, "TC", "zone_unattended")
    assert alert["as_of"] == "2026-10-23T20:30:00Z"
    assert (alert["session_start"], alert["session_end"]) == ("2026-10-23T19:00:00Z",
                                                              "2026-10-24T01:00:00Z")  # fmt: skip
    assert alert["minutes_unattended"] == pytest.approx(60.0)
    assert alert["name"] and "unit" not in alert and "u1" not in orjson.dumps(alert).decode()


def test_a_session_nobody_visits_is_unattended_from_its_start_and_then_missed(city):
    alerts = alerts_over(city, [])
    (unattended,) = of(alerts, "TC", "zone_unattended")
    assert unattended["as_of"] == "2026-10-23T20:00:00Z"  # 60 minutes after 19:00
    (missed,) = of(alerts, "TC", "session_missed")
    assert missed["as_of"] == "2026-10-24T01:00:00Z"
    assert missed["session_end"] == "2026-10-24T01:00:00Z"


def test_a_zone_visited_in_time_raises_nothing(city):
    """Present all session but for 45 minutes (under the 60 allowed): met, no alert."""
    _, _, frame = city
    events = pings_in(frame, "TC", SESSION_START, SESSION_START + timedelta(hours=2)) + pings_in(
        frame, "TC", SESSION_START + timedelta(hours=2, minutes=45), SESSION_END
    )
    alerts = alerts_over(city, events)
    assert [a for a in alerts if a["code"] == "TC"] == []


def test_session_missed_only_for_sessions_not_met(city):
    """HS03 (no max gap) owes 15 minutes from 14:00 to 17:00 UTC: met with 20, missed without."""
    _, _, frame = city
    met = pings_in(frame, "HS03", T0, T0 + timedelta(minutes=20))
    assert of(alerts_over(city, met, hours=1.5), "HS03", "session_missed") == []
    (missed,) = of(alerts_over(city, [], hours=1.5), "HS03", "session_missed")
    assert (
        missed["session_start"] == "2026-10-23T14:00:00Z" and missed["minutes_unattended"] is None
    )


def test_no_zone_alert_without_a_max_gap_or_a_schedule(city):
    alerts = alerts_over(city, [])
    assert of(alerts, "HS03", "zone_unattended") == []  # a schedule, no max gap
    assert [a for a in alerts if a["code"] in ("HS05", "HS06")] == []  # no schedule


def test_sessions_that_ended_before_the_tracker_started_raise_nothing(city):
    """The first document lists HS03's session ended and missed: old news."""
    geography, zones, frame = city
    as_of_us = (T0 + timedelta(hours=2) - EPOCH) // timedelta(microseconds=1)
    lines = [orjson.dumps(e) for e in pings_in(frame, "HS05", T0 - timedelta(hours=3), T0)]
    batch = parse_lines(lines, max_event_bytes=8192, first_position=0, keep_text=True)
    document = batch_reports(
        geography,
        [batch],
        lane_config(),
        now_us=as_of_us,
        as_of_us=as_of_us,
        zoning=Zoning(zones, zone_config()),
    ).document
    (hs03,) = [z for z in document["zones"] if z["code"] == "HS03"]
    assert hs03["sessions"][-1]["met"] is False
    assert of(alert_tracker(zones=zones).update(document), "HS03", "session_missed") == []


def test_a_tracker_taking_over_raises_nothing_twice_and_misses_no_session(city):
    """A new aggregator at 21:00 (step 20) after one that stopped at 20:45 raises no second
    ``zone_unattended``; one back at 02:00 (step 40) after an outage from 23:00, primed
    with the last document before it, still raises the session that ended at 01:00."""
    _, _, frame = city
    events = pings_in(frame, "TC", SESSION_START, SESSION_START + timedelta(minutes=31))
    always = alerts_over(city, events)
    assert len(of(always, "TC", "zone_unattended")) == len(of(always, "TC", "session_missed")) == 1
    assert alerts_over(city, events, down=(20, 20)) == always
    after_outage = alerts_over(city, events, down=(29, 40))
    (missed,) = of(after_outage, "TC", "session_missed")
    assert missed["as_of"] == "2026-10-24T02:00:00Z"
    assert len(of(after_outage, "TC", "zone_unattended")) == 1
    unprimed = alerts_over(city, events, down=(29, 40), primed=False)
    assert of(unprimed, "TC", "session_missed") == []  # what priming is for
