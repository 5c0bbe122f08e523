"""Report documents with zones for the PCC report's tests, from the independent oracles.

The zones test city (``tests/zones_city.py``) over the synthetic wards, a simulated feed
as a real one delivers it (``tests/feeds.py``), and a patroller who spends random hours
in random zones for five weeks, so that sessions are met and missed across the October
clock change. The document at ``AS_OF`` is the oracle's (``reference_report_with_zones``);
the documents at local midnights are the batch report's ward figures, and some carry the
zone oracle's figures at their own ``as_of`` (as a store does that kept zones only lately).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pyproj import Transformer

__all__ = ["AS_OF", "PERIOD_DAYS", "ZONED_MIDNIGHTS", "ZoneRun", "zone_run"]

ZONE = ZoneInfo("Europe/London")
#: The report's time, during Friday night's sessions: its 35 days run from Saturday
#: 3 October to Friday 6 November 2026, over the night the clocks go back (25 October).
AS_OF = "2026-11-07T01:00:00Z"
PERIOD_DAYS = 35
NOW = datetime(2027, 1, 1, tzinfo=UTC)
#: The local midnights whose documents carry zones: on Saturdays 17, 24 and 31 October the
#: Friday night's sessions (20:00 to 02:00) are still on.
ZONED_MIDNIGHTS = ("2026-10-11", "2026-10-17", "2026-10-24", "2026-10-31")
_FIRST = datetime(2026, 10, 2, tzinfo=UTC)
_PATROLLER, _BEAT = "u-5ca1ab1e", "u-0ddba11c"
_CENTRE = (388_000.0, 346_000.0)  # the town centre's middle (tests/zones_city.py), in BNG


@dataclass
class ZoneRun:
    """What ``beatlight report --format html`` hands to the builder, with zones."""

    document: dict[str, Any]
    history: list[dict[str, Any]]
    outlines: dict[str, Any]
    units: set[str]


def zone_run(tmp_path) -> ZoneRun:
    from beatlight.api.shapes import AreaShapes
    from beatlight.configs import lane_config
    from beatlight.geo import write_synthetic
    from beatlight.geo.geography import load_geography
    from beatlight.reports import is_local_midnight
    from beatlight.streams.batch import batch_reports
    from beatlight.streams.events import parse_lines
    from beatlight.streams.simulate import SimulationConfig, simulate_annotated
    from beatlight.times import parse_time
    from tests.feeds import real_feed
    from tests.zone_oracle import reference_report_with_zones, reference_zones
    from tests.zones_city import oracle_zones, synthetic_zones

    geography = load_geography(write_synthetic(tmp_path / "wards.geojson"))
    config = SimulationConfig(seed=15, start=datetime(2026, 11, 5, 8, tzinfo=UTC),
                              duration=timedelta(hours=40), units=8, ping_seconds=60)  # fmt: skip
    events = [e for e, faults in simulate_annotated(geography.wards, config)
              if not faults and isinstance(e, dict)]  # fmt: skip
    lines = [line.decode() for line in real_feed(events, seed=15)]
    frame = synthetic_zones()
    lines += _patrols(frame)
    zones = oracle_zones(frame)

    as_of = parse_time(AS_OF)
    now_us = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    as_of_us = (as_of - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    batches = [parse_lines(lines[i : i + 2000], max_event_bytes=8192)
               for i in range(0, len(lines), 2000)]  # fmt: skip
    found = batch_reports(geography, batches, lane_config(), now_us=now_us, as_of_us=as_of_us,
                          hours=lambda us: is_local_midnight(us, ZONE))  # fmt: skip
    history = [dict(d) for d in found.hours.values()]
    for document in history:
        local = parse_time(document["as_of"]).astimezone(ZONE).date().isoformat()
        if local in ZONED_MIDNIGHTS:
            document["zones"] = reference_zones(lines, zones, as_of=document["as_of"], now=NOW)
    document = reference_report_with_zones(lines, _oracle_wards(geography), zones,
                                           as_of=AS_OF, now=NOW)  # fmt: skip
    units = {e["unit"] for e in events} | {_PATROLLER, _BEAT}
    return ZoneRun(document, history, AreaShapes(geography).level("ward"), units)


def _patrols(frame) -> list[str]:  # noqa: ANN001
    """Pings every two minutes: one patroller spends random hours in random zones,
    afternoons to small hours; another walks the middle of the town centre (inside HS01
    and HS02 too) on most Friday and Saturday nights, with an hour off now and then."""
    rng = random.Random(2026)
    to_lonlat = Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True)
    spots = []
    for code, shape in zip(frame["code"], frame.geometry, strict=True):
        point = shape.representative_point()
        spots.append((code, *to_lonlat.transform(point.x, point.y)))
    centre = ("TC", *to_lonlat.transform(*_CENTRE))
    lines = []
    for day in range(37):
        for hour in range(14, 28):
            if rng.random() < 0.45:
                continue
            lines += _hour(_PATROLLER, rng.choice(spots), _FIRST + timedelta(days=day, hours=hour))
        if (_FIRST + timedelta(days=day)).weekday() in (4, 5) and rng.random() < 0.7:
            for hour in range(18, 27):
                if rng.random() < 0.85:
                    lines += _hour(_BEAT, centre, _FIRST + timedelta(days=day, hours=hour))
    return lines


def _hour(unit: str, spot: tuple[str, float, float], start: datetime) -> list[str]:
    code, lon, lat = spot
    lines = []
    for minute in range(0, 60, 2):
        ts = (start + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(orjson.dumps({
            "event_id": f"{unit}-{code}-{ts}", "unit": unit, "ts": ts, "lat": lat, "lon": lon,
            "mode": "foot", "accuracy_m": 8.0,
        }).decode())  # fmt: skip
    return lines


def _oracle_wards(geography) -> list[dict]:  # noqa: ANN001
    """The wards as the ward oracle takes them (default attributes)."""
    wards, attrs = geography.wards, geography.attributes
    return [
        {
            "code": code, "name": wards.names[i], "geometry": wards.geometry.iloc[i],
            "neighbourhood": attrs.neighbourhood[i],
            "district": None if attrs.district is None else attrs.district[i],
            "district_name": None if attrs.district_name is None else attrs.district_name[i],
            "population": None,
            "target_minutes_per_week": float(attrs.target_minutes_per_week[i]),
        }
        for i, code in enumerate(wards.codes)
    ]  # fmt: skip
