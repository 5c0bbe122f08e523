"""The feed: true positions → delivered events, with GPS noise, faults and arrival order."""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Iterator
from typing import cast

import numpy as np
import orjson
import pyproj

from beatlight.streams.events import MODES, UNKNOWN
from beatlight.streams.simulate.config import (
    FAULTS,
    IDENTIFYING_FIELDS,
    Event,
    Labelled,
    SimulationConfig,
)
from beatlight.streams.simulate.patrol import Pings
from beatlight.streams.simulate.roster import Roster

__all__ = ["Feed"]

_MODE_MISSING_P = 0.01
_MODE_UNKNOWN_P = 0.01
_CLEAN: frozenset[str] = frozenset()
_REQUIRED = ("event_id", "unit", "ts", "lat", "lon")
_FAKE_FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Jamie", "Kim", "Lee", "Ash")
_FAKE_LAST = ("Morgan", "Hughes", "Bennett", "Shaw", "Turner", "Walsh", "Price", "Lloyd")


class Feed:
    """Turns true positions into delivered events: noise, modes, faults, arrival order."""

    def __init__(
        self,
        roster: Roster,
        config: SimulationConfig,
        rngs: tuple[np.random.Generator, np.random.Generator],
        to_wgs84: pyproj.Transformer,
    ) -> None:
        self.names, self.modes, self.to_wgs84 = roster.names, roster.mode, to_wgs84
        # One stream draws the same numbers per ping whatever the rates; the other
        # shapes the faults.
        self.rng, self.fault_rng = rngs
        rng = self.fault_rng
        self.rates = np.array(config.fault_rates)
        self.heap: list[tuple[float, int, Event | str, frozenset[str]]] = []
        self.seq = itertools.count()
        self.pings = 0
        self.faults: Counter[str] = Counter()
        # A leaking device leaks the same identity every time.
        self.identity = [
            {
                "officer_name": f"{_FAKE_FIRST[a]} {_FAKE_LAST[b]}",
                "collar_number": f"PC {c}",
                "badge_id": f"B{d:06d}",
                "radio_id": f"R-{e:05d}",
            }
            for a, b, c, d, e in zip(
                rng.integers(0, len(_FAKE_FIRST), len(self.names)).tolist(),
                rng.integers(0, len(_FAKE_LAST), len(self.names)).tolist(),
                rng.integers(1000, 10_000, len(self.names)).tolist(),
                rng.integers(0, 1_000_000, len(self.names)).tolist(),
                rng.integers(0, 100_000, len(self.names)).tolist(),
                strict=True,
            )
        ]

    def deliver(self, pings: Pings) -> Iterator[Labelled]:
        heap, pop = self.heap, heapq.heappop
        n = pings.ts.size
        if n:
            rng = self.rng
            order = np.argsort(pings.ts, kind="stable")
            ts, unit = pings.ts[order], pings.unit[order]
            faults = rng.random((n, len(FAULTS))) < self.rates
            accuracy = np.clip(rng.lognormal(math.log(8.0), 0.5, n), 3.0, 30.0)
            bad_fix = faults[:, FAULTS.index("inaccurate")]
            accuracy = np.where(bad_fix, rng.uniform(150, 2000, n), accuracy)
            noise = rng.normal(0.0, 1.0, (2, n)) * accuracy / 2
            lon, lat = self.to_wgs84.transform(pings.x[order] + noise[0], pings.y[order] + noise[1])
            mode_draw = rng.random(n)
            modes = np.array([*MODES, ""], dtype=object)[
                np.where(
                    mode_draw < _MODE_MISSING_P,
                    len(MODES),  # ""
                    np.where(mode_draw < _MODE_MISSING_P + _MODE_UNKNOWN_P, UNKNOWN,
                             self.modes[unit]),
                )
            ]  # fmt: skip
            names = self.names
            rows = zip(
                range(n),
                ts.tolist(),
                np.datetime_as_string(
                    ts.astype(np.int64).astype("datetime64[s]"), timezone="UTC"
                ).tolist(),
                unit.tolist(),
                pings.counter[order].tolist(),
                np.round(lat, 6).tolist(),
                np.round(lon, 6).tolist(),
                modes.tolist(),
                np.round(accuracy, 1).tolist(),
                cast(list[bool], faults.any(axis=1).tolist()),
                strict=True,
            )
            for i, t, stamp, u, c, la, lo, mode, acc, faulty in rows:
                name = names[u]
                event = {
                    "event_id": f"{name}-{c}",
                    "unit": name,
                    "ts": stamp,
                    "lat": la,
                    "lon": lo,
                    "mode": mode,
                    "accuracy_m": acc,
                }
                if not mode:
                    del event["mode"]
                while heap and heap[0][0] <= t:
                    yield pop(heap)[2:]
                if faulty:
                    item = self._inject(event, u, t, faults[i])
                    if item is not None:
                        yield item
                else:
                    yield event, _CLEAN
            self.pings += n
        while heap and heap[0][0] < pings.until:
            yield pop(heap)[2:]

    def drain(self) -> Iterator[Labelled]:
        while self.heap:
            yield heapq.heappop(self.heap)[2:]

    def _inject(self, event: Event, unit: int, t: float, hits: np.ndarray) -> Labelled | None:
        """Apply one ping's faults; return it if due now, else queue it for later delivery."""
        rng = self.fault_rng
        labels = frozenset(name for name, hit in zip(FAULTS, hits.tolist(), strict=True) if hit)
        self.faults.update(labels)
        if "identifying" in labels:
            leak = self.identity[unit]
            for k in sorted(rng.choice(len(IDENTIFYING_FIELDS), rng.integers(1, 3), replace=False)):
                event[IDENTIFYING_FIELDS[k]] = leak[IDENTIFYING_FIELDS[k]]
        if "bad_coordinates" in labels:
            kind = int(rng.integers(4))
            if kind == 0:
                event["lat"] = event["lon"] = 0.0
            elif kind == 1:
                event["lat"] = round(float(rng.uniform(90.01, 95.0)), 6)
            elif kind == 2:
                event["lat"] = "NaN"
            else:  # swapped: a valid position, far away
                event["lat"], event["lon"] = event["lon"], event["lat"]
        if "missing_field" in labels:
            del event[_REQUIRED[int(rng.integers(len(_REQUIRED)))]]
        item: Event | str = event
        if "malformed" in labels:
            line = orjson.dumps(event).decode()
            item = line[: int(rng.integers(max(1, len(line) // 3), len(line) - 1))]
        delay = 0.0
        if "late" in labels:  # 5-150 min: some within the allowed hour, some beyond
            delay = float(rng.uniform(300.0, 9000.0))
        if "out_of_order" in labels:  # seconds to minutes
            delay = max(delay, math.exp(float(rng.uniform(math.log(2.0), math.log(300.0)))))
        if "duplicate" in labels:
            again = item if isinstance(item, str) else dict(item)
            self._push(t + delay + float(rng.uniform(0.0, 60.0)), again, labels)
            labels = labels - {"duplicate"}
        if delay:
            self._push(t + delay, item, labels)
            return None
        return item, labels

    def _push(self, due: float, item: Event | str, labels: frozenset[str]) -> None:
        heapq.heappush(self.heap, (due, next(self.seq), item, labels))
