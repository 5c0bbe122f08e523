"""Stage 2 of the stream: merge every lane's figures into per-area snapshots (SPEC rule 11).

Units never span lanes (the input is partitioned by unit), so a snapshot is the
merge of one figure set per lane: sums for the per-unit counts, unions for
presence, foot slots and cells, maxima for last-seen. The :class:`Aggregator`
keeps each lane's final runs (sent once, see :mod:`streams.wire`) and merges them
with the lanes' ticks:

* an **hour** snapshot H is published once every lane that can hold pings
  before H has sent its figures for H; they are exact, equal to
  ``beatlight report --as-of H --partitions N`` on the same events;
* a **live** snapshot merges the latest live tick of every lane.

Pure: no Kafka, no clock. :mod:`streams.app` feeds it and publishes what it returns.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.areas import Areas
from streams.metrics import figures
from streams.presence import ModelParams, Partial, _concat, _RunStore
from streams.report import report_document
from streams.runs import merge_runs
from streams.wire import LaneStatus, Message, decode

__all__ = ["Aggregator", "Snapshot", "document_from_records", "snapshot_records"]

log = logging.getLogger("beatlight.aggregate")


@dataclass
class Snapshot:
    """Figures of every area as of one time, as the SPEC's report document."""

    kind: str  # "hour" or "live"
    as_of_us: int
    document: dict[str, Any]


class Aggregator:
    """Merges the lanes of ``partitions`` input partitions into snapshots."""

    def __init__(self, areas: Areas, params: ModelParams, partitions: int) -> None:
        self.areas = areas
        self.params = params
        self.partitions = partitions
        self._present = {p: _RunStore(with_unit=False) for p in range(partitions)}
        self._foot = {p: _RunStore(with_unit=False) for p in range(partitions)}
        self._status: dict[int, LaneStatus] = {}
        #: Per lane: every hour up to this one it has sent, or skipped as empty for it;
        #: and the hours it skipped, with its counts then and its status.
        self._reported: dict[int, int] = {}
        self._skipped: dict[int, list[tuple[int, int, int, int, LaneStatus]]] = {}
        # Hours waiting for slower lanes, and published hours a late lane may still revise,
        # are held as the lanes' wire bytes where they came from Kafka (see _hold).
        self._hours: dict[int, dict[int, tuple[_Held, LaneStatus]]] = {}
        self._settled: dict[int, set[int]] = {}  # hour -> lanes whose figures are settled
        self._published: dict[int, dict[int, tuple[_Held, LaneStatus]]] = {}
        self._live: dict[int, tuple[_Held, LaneStatus]] = {}
        self._expired_before_us: int | None = None
        self.published_hour_us: int | None = None
        self.revisions = 0
        self.too_old = 0  # lane figures for hours past revision (two days), not taken

    def receive(self, message: Message) -> list[Snapshot]:
        """Take one message from a lane; return the hour snapshots it completes."""
        status = message.status
        lane = status.lane
        if not 0 <= lane < self.partitions:
            raise ValueError(f"lane {lane} outside the {self.partitions} partitions")
        self._status[lane] = status
        if message.kind == "final":
            assert message.final is not None
            self._present[lane].append(message.final.present)
            self._foot[lane].append(message.final.foot)
            return []
        if message.kind == "reported":
            until = status.reported_until_us
            if until is not None and until > self._reported.get(lane, until - 1):
                self._reported[lane] = until
            skipped = self._skipped.setdefault(lane, [])
            skipped += [(first, last, outside, accepted, status)
                        for first, last, outside, accepted in status.skipped]  # fmt: skip
            done = self._complete_hours()
            if self.published_hour_us is not None:  # no snapshot to come can be that old
                cut = self.published_hour_us - _KEEP_REVISABLE_US
                skipped[:] = [gap for gap in skipped if gap[1] >= cut]
            return done
        if message.kind == "live":
            assert message.partial is not None
            self._live[lane] = (message.partial, status)
            return self._complete_hours()
        hour = message.as_of_us
        settled = message.kind == "hour"
        if not settled and lane in self._settled.get(hour, ()):
            return []  # a provisional figure never replaces a settled one
        if settled:
            self._settled.setdefault(hour, set()).add(lane)
        if (hour not in self._published and hour not in self._hours
                and self.published_hour_us is not None
                and hour < self.published_hour_us - _KEEP_REVISABLE_US):  # fmt: skip
            # Figures for an hour that is history now (a lane idle for days woke up, and
            # settles the hours it vouched for then): held, it would wait for the other
            # lanes' figures for it, long gone, and every later hour behind it.
            self.too_old += 1
            return []
        if hour in self._published:
            # A revision: an idle partition woke up with pings before a published hour.
            self._published[hour][lane] = (_hold(message), status)
            self.revisions += 1
            merged = self._merge(self._published[hour], hour)
            ticks = self._published[hour]
            return [Snapshot("hour", hour, self._document(merged, self._with_skipped(ticks, hour)))]
        self._hours.setdefault(hour, {})[lane] = (_hold(message), status)
        return self._complete_hours()

    def live_snapshot(self) -> Snapshot | None:
        """Every lane's latest live figures merged (``None`` until each lane has reported)."""
        if len(self._live) < self.partitions:
            return None
        as_of = max(_unhold(held).as_of_us for held, _ in self._live.values())
        merged = self._merge(self._live, as_of)
        return Snapshot("live", as_of, self._document(merged, self._live.values()))

    def waiting_for(self, hour_us: int) -> list[int]:
        """Lanes whose figures for ``hour_us`` have not arrived (and may hold pings before it)."""
        got = self._hours.get(hour_us, {})
        waiting = []
        for lane in range(self.partitions):
            if lane in got:
                continue
            status = self._status.get(lane)
            if status is None:
                waiting.append(lane)  # never heard of: it may hold anything
            elif status.first_hour_us is None:
                if not status.caught_up:
                    waiting.append(lane)  # nothing accepted yet, but not read to the end
            elif status.first_hour_us <= hour_us and hour_us > self._reported.get(lane, -1):
                waiting.append(lane)  # may hold pings before it, and has not reported it
        return waiting

    def held(self) -> dict[str, int]:
        """What the aggregator holds (the worker's metrics): hours waiting for lanes, hours
        it may still revise, the bytes of their figures, and final runs kept."""
        entries = [e for hours in (self._hours, self._published) for e in hours.values()]
        stores = (*self._present.values(), *self._foot.values())
        ends = [end for s in stores if (end := s.earliest_end()) is not None]
        return {
            "waiting_hours": len(self._hours),
            "revisable_hours": len(self._published),
            "hour_bytes": sum(_size(held) for lanes in entries for held, _ in lanes.values()),
            "final_runs": sum(s.rows for s in stores),
            "oldest_final_slot": min(ends, default=-1),
            "too_old": self.too_old,
        }

    def expire(self, before_us: int) -> None:
        """Forget final runs that no snapshot from ``before_us`` on can reach."""
        cut = (before_us - self.params.longest_window_us) // self.params.slot_us
        for store in (*self._present.values(), *self._foot.values()):
            store.drop_before(cut - 1)

    # -- internals --------------------------------------------------------------------

    def _complete_hours(self) -> list[Snapshot]:
        done = []
        for hour in sorted(self._hours):
            if self.waiting_for(hour):
                break  # hours are published in order
            ticks = self._hours.pop(hour)
            merged = self._merge(ticks, hour)
            done.append(
                Snapshot("hour", hour, self._document(merged, self._with_skipped(ticks, hour)))
            )
            if self.published_hour_us is None or hour > self.published_hour_us:
                self.published_hour_us = hour  # (an hour no lane had figures for comes late)
            self._published[hour] = ticks
            # Revisions are kept possible for two days of hours; older ones are history.
            for old in [h for h in self._published if h < hour - _KEEP_REVISABLE_US]:
                del self._published[old]
                self._settled.pop(old, None)
        if done:
            self._expire_unreachable()
        return done

    def _expire_unreachable(self) -> None:
        """Final runs no snapshot still to come can reach (a day at a time).

        Every snapshot to come is as of a revisable hour or later: live ones are newer,
        and hours still waiting for lanes are after the last published one.
        """
        assert self.published_hour_us is not None
        cut = self.published_hour_us - _KEEP_REVISABLE_US
        if self._expired_before_us is None or cut - self._expired_before_us >= _DAY_US:
            self.expire(cut)
            self._expired_before_us = cut

    def _merge(self, ticks: dict[int, tuple[_Held, LaneStatus]], as_of_us: int) -> Partial:
        """One complete partial from each lane's tick plus its final runs before the tick."""
        n_windows = len(self.params.windows)
        n_pairs = len(self.areas.ward_cell_keys)
        empty = np.empty(0, dtype=np.int64)
        present, foot = [], []
        held = {lane: _unhold(h) for lane, (h, _) in ticks.items()}
        parts = list(held.values())
        skipped = self._skipped_at(as_of_us, ticks)
        for lane, partial in held.items():
            present.append(partial.present)
            foot.append(partial.foot)
            if partial.final_slot is not None:
                present.append(_before(self._present[lane].runs(), partial.final_slot))
                foot.append(_before(self._foot[lane].runs(), partial.final_slot))
        zeros = np.zeros((n_windows, len(self.areas)), dtype=np.int64)
        covered = np.zeros((n_windows, n_pairs), dtype=bool)
        last_seen = np.full(self.areas.n_wards, np.iinfo(np.int64).min, dtype=np.int64)
        for p in parts:
            covered |= p.covered
            np.maximum(last_seen, p.ward_last_seen, out=last_seen)
        return Partial(
            as_of_us=as_of_us,
            unit_slots=sum((p.unit_slots for p in parts), zeros),
            distinct_units=sum((p.distinct_units for p in parts), zeros),
            visits=sum((p.visits for p in parts), zeros),
            koper_visits=sum((p.koper_visits for p in parts), zeros),
            present=merge_runs(*_concat((empty, empty, empty), *present)),
            foot=merge_runs(*_concat((empty, empty, empty), *foot)),
            covered=covered,
            stray=tuple(
                np.unique(np.concatenate([empty, *(p.stray[w] for p in parts)]))
                for w in range(n_windows)
            ),
            ward_last_seen=last_seen,
            outside=sum(p.outside for p in parts) + sum(gap[2] for gap in skipped),
            accepted=sum(p.accepted for p in parts) + sum(gap[3] for gap in skipped),
        )

    def _with_skipped(
        self, ticks: dict[int, tuple[_Held, LaneStatus]], hour_us: int
    ) -> list[tuple[_Held | None, LaneStatus]]:
        """Each lane's status for the hour: with its figures, or with its skip."""
        return [*ticks.values(), *((None, gap[4]) for gap in self._skipped_at(hour_us, ticks))]

    def _skipped_at(
        self, hour_us: int, ticks: dict[int, tuple[_Held, LaneStatus]]
    ) -> list[tuple[int, int, int, int, LaneStatus]]:
        """The skip covering ``hour_us`` of each lane without figures for it (the latest)."""
        found = []
        for lane, gaps in self._skipped.items():
            if lane in ticks:
                continue
            for gap in reversed(gaps):
                if gap[0] <= hour_us <= gap[1]:
                    found.append(gap)
                    break
        return found

    def _document(
        self, merged: Partial, ticks: Iterable[tuple[_Held | None, LaneStatus]]
    ) -> dict[str, Any]:
        rejected: Counter[str] = Counter()
        duplicates = 0
        for _, status in ticks:
            rejected.update(status.rejected)
            duplicates += status.duplicates
        return report_document(
            self.areas,
            figures(merged, self.areas, self.params),
            as_of_us=merged.as_of_us,
            slot_seconds=self.params.slot_us // 1_000_000,
            outside=merged.outside,
            accepted=merged.accepted,
            rejected=rejected,
            duplicates=duplicates,
        )


_KEEP_REVISABLE_US = 48 * 3_600_000_000
_DAY_US = 24 * 3_600_000_000

#: A lane's figures for one hour as the aggregator holds them.
_Held = Partial | bytes


def _hold(message: Message) -> _Held:
    """The wire bytes of a tick that came from Kafka (compressed, a small fraction of the
    decoded arrays), or the partial itself (the batch report's lanes, in this process)."""
    if message.payload is not None:
        return message.payload
    assert message.partial is not None
    return message.partial


def _size(held: _Held) -> int:
    return len(held) if isinstance(held, bytes) else held.nbytes


def _unhold(held: _Held) -> Partial:
    if isinstance(held, bytes):
        partial = decode(held).partial
        assert partial is not None
        return partial
    return held


def _before(runs: tuple[np.ndarray, ...], final_slot: int) -> tuple[np.ndarray, ...]:
    """Runs clipped to the slots before ``final_slot``: what was final when the tick was taken."""
    area, start, end = runs
    end = np.minimum(end, final_slot)
    keep = end > start
    return area[keep], start[keep], end[keep]


# -- snapshot documents as topic records ----------------------------------------------------

_LEVEL_KEYS = ("wards", "neighbourhoods", "districts")
_SUMMARY = ("as_of", "slot_seconds", "fairness", "outside", "accepted", "rejected", "duplicates")


def snapshot_records(document: dict[str, Any], *, prefix: str) -> list[tuple[str, dict]]:
    """One record per area, then one summary, keyed ``{prefix}|{level}|{code}``.

    History uses the hour as prefix (``2026-11-23T06:00:00Z|ward|E05008714``); the
    live topic uses ``live``. Keys make both topics compactable. The summary comes
    last and counts the areas, so a reader knows a snapshot is whole.
    """
    records = []
    counts = {}
    for key in _LEVEL_KEYS:
        level = key[:-1]
        counts[level] = len(document[key])
        for area in document[key]:
            records.append((f"{prefix}|{level}|{area['code']}",
                            {"as_of": document["as_of"], "level": level, **area}))  # fmt: skip
    if document.get("force"):
        counts["force"] = 1
        force = document["force"]
        records.append((f"{prefix}|force|{force['code']}",
                        {"as_of": document["as_of"], "level": "force", **force}))  # fmt: skip
    summary = {k: document[k] for k in _SUMMARY} | {"areas": counts}
    records.append((f"{prefix}|summary", summary))
    return records


def document_from_records(
    records: Iterable[tuple[str, dict]], prefix: str
) -> dict[str, Any] | None:
    """The report document back from :func:`snapshot_records` (``None`` unless it is whole)."""
    summary: dict[str, Any] | None = None
    levels: dict[str, list[dict]] = {key: [] for key in _LEVEL_KEYS}
    force: dict[str, Any] = {}
    for key, value in records:
        parts = key.split("|")
        if parts[0] != prefix:
            continue
        if parts[1] == "summary":
            summary = value
            continue
        area = {k: v for k, v in value.items() if k not in ("as_of", "level")}
        if parts[1] == "force":
            force = area
        else:
            levels[parts[1] + "s"].append(area)
    if summary is None:
        return None
    found = {key[:-1]: len(levels[key]) for key in _LEVEL_KEYS} | {"force": int(bool(force))}
    if any(found.get(level, 0) != n for level, n in summary.get("areas", {}).items()):
        return None  # not whole yet: its areas are still being written (or were cut short)
    document = {"as_of": summary["as_of"], "slot_seconds": summary["slot_seconds"]}
    for key in _LEVEL_KEYS:
        document[key] = sorted(levels[key], key=lambda area: area["code"])
    document["force"] = force
    for key in ("fairness", "outside", "accepted", "rejected", "duplicates"):
        document[key] = summary[key]
    return document
