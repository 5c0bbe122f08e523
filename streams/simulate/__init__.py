"""Seeded simulation of anonymised patrol-presence pings, for demos, tests and benchmarks.

A simulated force works any ward geography: a roster of units (foot, cycle,
vehicle) on early, late and night shifts with breaks and radio silences. Foot
units walk one ward of their beat per shift, cycles ride between the wards of
their beat, vehicles drive between targets across the force and park up at some.
Movement is computed in the wards' metric CRS, all units at once per time step,
and projected to WGS84 in batches.

A feed layer then does what real feeds do: jittered ping intervals, GPS noise,
and the faults a worker must survive (SPEC "The presence event"): duplicates,
late and out-of-order delivery, bad coordinates, missing fields, inaccurate
fixes, truncated JSON lines and identifying fields that must be dropped on
arrival. Events come out in arrival order while only a small reorder heap is
held, so a simulation of any length streams.

Same seed and config, same output: every random draw comes from the seed.

The package's modules, in the order a ping is made: ``config`` (what to simulate),
``roster`` (where units patrol, planned from the wards), ``patrol`` (how they move,
tick by tick) and ``feed`` (noise, faults, arrival order). The entry points are here.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import orjson
import pyproj

from beatlight.streams.events import MODES
from beatlight.streams.simulate.config import (
    FAULTS,
    IDENTIFYING_FIELDS,
    Event,
    Labelled,
    SimulationConfig,
    SimulationError,
    UnitPlan,
    WardsLike,
)
from beatlight.streams.simulate.feed import Feed
from beatlight.streams.simulate.patrol import Patrol
from beatlight.streams.simulate.roster import SHIFT_NAMES, setup

__all__ = [
    "FAULTS",
    "IDENTIFYING_FIELDS",
    "SimulationConfig",
    "SimulationError",
    "UnitPlan",
    "plan_units",
    "simulate",
    "simulate_annotated",
    "simulate_lines",
    "write_ndjson",
]

_log = logging.getLogger(__name__)


def simulate(wards: WardsLike, config: SimulationConfig) -> Iterator[Event | str]:
    """Presence events in arrival order: dicts per SPEC, raw ``str`` for broken lines.

    The geography is checked at once; events are generated as they are consumed.
    """
    return (item for item, _ in simulate_annotated(wards, config))


def simulate_lines(wards: WardsLike, config: SimulationConfig) -> Iterator[str]:
    """The simulation as NDJSON lines (without newlines)."""
    dumps = orjson.dumps
    run = simulate_annotated(wards, config)
    return (item if isinstance(item, str) else dumps(item).decode() for item, _ in run)


def write_ndjson(target: str | Path | TextIO | None, lines: Iterable[str]) -> int:
    """Write lines as NDJSON to a path, an open text stream, or stdout (``None``/``"-"``)."""
    if target is None or target == "-":
        return _write_lines(sys.stdout, lines)
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8", newline="\n") as out:
            return _write_lines(out, lines)
    return _write_lines(target, lines)


def simulate_annotated(wards: WardsLike, config: SimulationConfig) -> Iterator[Labelled]:
    """Like :func:`simulate`, with each item's ground truth: the set of faults applied.

    A duplicate re-send is labelled ``duplicate`` (plus its original's faults);
    clean events carry the empty set.
    """
    area, roster, rng_move, rng_feed = setup(wards, config)
    to_wgs84 = pyproj.Transformer.from_crs(wards.metric_crs, "EPSG:4326", always_xy=True)
    patrol = Patrol(area, roster, config, rng_move)
    return _run(patrol, Feed(roster, config, rng_feed, to_wgs84))


def plan_units(wards: WardsLike, config: SimulationConfig) -> tuple[UnitPlan, ...]:
    """The roster :func:`simulate` uses for these wards and this config."""
    _, roster, _, _ = setup(wards, config)
    codes = [str(c) for c in wards.codes]
    return tuple(
        UnitPlan(name, MODES[mode], SHIFT_NAMES[shift], tuple(codes[w] for w in beat[:length]))
        for name, mode, shift, beat, length in zip(
            roster.names,
            roster.mode.tolist(),
            roster.shift.tolist(),
            roster.beat.tolist(),
            roster.beat_len.tolist(),
            strict=True,
        )
    )


def _run(patrol: Patrol, feed: Feed) -> Iterator[Labelled]:
    for batch in patrol.batches():
        yield from feed.deliver(batch)
    yield from feed.drain()
    _log.info(
        "simulated %d pings of %d units over %d wards; faults %s",
        feed.pings,
        len(patrol.roster.names),
        len(patrol.area.geoms),
        dict(feed.faults),
    )


def _write_lines(out: TextIO, lines: Iterable[str]) -> int:
    count = 0
    for chunk in _chunks(lines):
        out.write("\n".join(chunk) + "\n")
        count += len(chunk)
    out.flush()
    return count


def _chunks(lines: Iterable[str]) -> Iterator[tuple[str, ...]]:
    it = iter(lines)
    while chunk := tuple(itertools.islice(it, 4096)):
        yield chunk
