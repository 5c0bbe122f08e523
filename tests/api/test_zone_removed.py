"""A zone removed from the zones file: the workers restart without it, so the live
snapshots stop carrying it; the API drops it from the live answers and keeps its hours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.test_zones import client, fill, zoned  # noqa: F401 (fixtures)
from tests.zones_city import synthetic_zones

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_a_zone_removed_from_the_file_leaves_the_live_views_and_keeps_its_hours(engine, zoned):  # noqa: F811
    from beatlight.geo.zones import zones_from_frame
    from beatlight.streams.schedule import parse_schedule

    geography, _, documents = zoned
    hours = sorted(documents)
    fill(engine, {h: documents[h] for h in hours[:-3]}, live=documents[hours[-4]])
    # The workers restart with a file without HS06: later snapshots do not carry it.
    frame = synthetic_zones()
    kept = frame[frame["code"] != "HS06"]
    later = {h: documents[h] | {"zones": [z for z in documents[h]["zones"] if z["code"] != "HS06"]}
             for h in hours[-3:]}  # fmt: skip
    fill(engine, later, live=later[hours[-1]])
    zones = zones_from_frame(kept, parse_schedule=parse_schedule, source="city")
    for meta in (zones, None):  # with the new file, and an API without one
        with client(engine, geography, meta, hours[-1] + timedelta(hours=1)) as api:
            pcc = api.as_role("pcc")
            live = api.get("/api/v1/zones", headers=pcc).json()
            codes = [z["code"] for z in live["zones"]]
            assert "HS06" not in codes and "TC" in codes, codes
            assert all(z["windows"] for z in live["zones"])
            assert api.get("/api/v1/zones/HS06", headers=pcc).status_code == 404
            then = api.get("/api/v1/zones", params={"as_of": hours[10].isoformat()},
                           headers=pcc).json()  # fmt: skip
            (old,) = [z for z in then["zones"] if z["code"] == "HS06"]
            assert old["windows"]["28d"] == next(
                z for z in documents[hours[10]]["zones"] if z["code"] == "HS06"
            )["windows"]["28d"] | {"last_seen": old["windows"]["28d"]["last_seen"]}
