"""What the benchmarks with ``--zones N`` share: N hot spots where the simulated patrols go,
the feed that sends patrols to them, and the share of pings that fall inside them.

The hot spots' centres are pings of a pilot run of the same simulation (its first
day, without the feed's faults), picked with the seed
(:func:`beatlight.geo.hot_spots.hot_spot_zones`); the feed measured is then simulated
with those centres as ``SimulationConfig.hot_spots``, so that units are sent to them
for 12-16 minute visits, as in the hot-spot trials. Without that, pings picked at
random from a feed of a country are hundreds of metres apart and almost none fall in
a 150 m hot spot: the benchmark would measure nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from beatlight.geo.demo_zones import write_demo_zones, zone_points
from beatlight.geo.hot_spots import hot_spot_zones
from beatlight.geo.zones import Zones, load_zones
from beatlight.streams.schedule import parse_schedule
from beatlight.streams.simulate import SimulationConfig, simulate

__all__ = ["hot_spot_file", "share_in_zones"]


def hot_spot_file(
    wards: Any, config: SimulationConfig, n: int, path: Path
) -> tuple[SimulationConfig, Zones]:
    """N hot spots over ``wards`` written to ``path`` (GeoJSON), centred on pings of the
    first day of ``config``'s simulation (every tenth one); ``config`` with patrols sent
    to them, and the zones as the product loads them."""
    faults = {f.name: 0.0 for f in dataclasses.fields(config) if f.name.endswith("_rate")}
    calm = dataclasses.replace(config, duration=timedelta(days=1), **faults)
    lon, lat = [], []
    for event in itertools.islice(simulate(wards, calm), 0, None, 10):
        lon.append(event["lon"])
        lat.append(event["lat"])
    frame = hot_spot_zones(lon, lat, n, seed=config.seed, metric_crs=wards.metric_crs)
    write_demo_zones(frame, path)
    zones = load_zones(path, parse_schedule=parse_schedule, metric_crs=wards.metric_crs)
    return dataclasses.replace(config, hot_spots=zone_points(zones.metric)), zones


def share_in_zones(zones: Zones, lon: Any, lat: Any, sample: int = 1_000_000) -> str:
    """The share of pings in at least one zone (of an even sample of at most ``sample``),
    and how many zones hold any, as words."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    step = max(1, lon.size // sample)
    hits = zones.match_lonlat(lon[::step], lat[::step])
    inside = np.diff(hits.offsets) > 0
    visited = np.unique(hits.zones).size
    overlaps = int((np.diff(hits.offsets) > 1).sum())
    every = "" if step == 1 else f" (every {step}th ping)"
    return (
        f"{inside.mean():.1%} of {inside.size:,} pings{every} are in a zone, {overlaps:,} of "
        f"them in two or more; {visited} of the {len(zones)} zones hold pings"
    )
