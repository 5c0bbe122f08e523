"""Stage 2 of the stream: merge every lane's figures into per-area snapshots (SPEC rule 11).

Units never span lanes (the input is partitioned by unit), so a snapshot is the
merge of one figure set per lane: sums for the per-unit counts, unions for
presence, foot slots and cells, maxima for last-seen. The :class:`Aggregator`
keeps each lane's final runs (sent once, see :mod:`beatlight.streams.wire`) and merges them
with the lanes' ticks:

* an **hour** snapshot H is published once every lane that can hold pings
  before H has sent its figures for H; they are exact, equal to
  ``beatlight report --as-of H --partitions N`` on the same events;
* a **live** snapshot merges the latest live tick of every lane.

An hour is published again, as a **revision** (SPEC "Late uploads"), when a lane sends
figures for it that change some figure of the document: a lane's late pings, or an idle
lane waking up. Each hour snapshot says which publication it is (:class:`Revision`), and
which areas' figures changed after the first one. Figures sent again unchanged (a lane
settling an hour it published early, a restarted lane) publish nothing.

Pure: no Kafka, no clock (the caller says what time it is). :mod:`beatlight.runtime.app` feeds it
and publishes what it returns.

Long because the :class:`Aggregator` is one state machine over every lane's messages,
whose publish-once and revision rules share one ledger; the record form of its snapshots
sits beside it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import orjson

from beatlight.geo.areas import Areas
from beatlight.geo.zones import Zones
from beatlight.streams.lane import LaneConfig, SkippedSpan
from beatlight.streams.metrics import figures
from beatlight.streams.presence import Partial
from beatlight.streams.report import report_document
from beatlight.streams.runs import AreaRuns, RunStore
from beatlight.streams.wire import Kind, LaneStatus, Message, decode
from beatlight.streams.zone_figures import returns_hours, zone_entries
from beatlight.streams.zones import ZoneConfig, ZoneRuns
from beatlight.times import format_us

__all__ = [
    "Aggregator",
    "Revision",
    "Snapshot",
    "SnapshotKind",
    "document_from_records",
    "snapshot_records",
]

log = logging.getLogger("beatlight.aggregate")

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
#: Published hours stay revisable for at least this long after the latest one.
_KEEP_REVISABLE_US = 2 * _DAY_US


@dataclass(frozen=True)
class Revision:
    """Which publication of an hour's figures a snapshot is (SPEC "Late uploads").

    ``number`` is 0 for the first publication, then 1, 2, … for each one that changed a
    figure; ``revised_at_us`` is when it was made (the caller's clock; ``None`` without
    one). ``areas`` holds the areas whose figures changed after the first publication,
    ``"{level}|{code}"`` → the revision that last changed them, and when.
    """

    number: int
    revised_at_us: int | None
    areas: dict[str, tuple[int, int | None]]


class SnapshotKind(Enum):
    """Which figures a snapshot holds: an hour's (exact, revisable) or the live ones."""

    HOUR = "hour"
    LIVE = "live"


@dataclass
class Snapshot:
    """Figures of every area as of one time, as the SPEC's report document."""

    kind: SnapshotKind
    as_of_us: int
    document: dict[str, Any]
    revision: Revision | None = None  # hour snapshots only


class Aggregator:
    """Merges the lanes of ``partitions`` input partitions into snapshots."""

    def __init__(self, areas: Areas, config: LaneConfig, partitions: int) -> None:
        """``config``: the lanes' configuration, for the model's parameters and the
        lanes' allowed lateness. Published hours stay revisable for that lateness plus a
        day's margin (lanes lag each other, idle lanes vouch for hours and wake later),
        and for two days at least. With zones, see :meth:`count_zones`."""
        self.zones: Zones | None = None
        self.zone_config: ZoneConfig | None = None
        #: Per lane, the zone runs of the hours it sent, by hour (the latest always kept).
        self._zone_runs: dict[int, dict[int, ZoneRuns]] = {}
        self.areas = areas
        self.params = config.model
        self.partitions = partitions
        self.revisable_us = max(_KEEP_REVISABLE_US, config.lateness_us + _DAY_US)
        self._present = {p: RunStore(AreaRuns.empty()) for p in range(partitions)}
        self._foot = {p: RunStore(AreaRuns.empty()) for p in range(partitions)}
        self._status: dict[int, LaneStatus] = {}
        #: Per lane: every hour up to this one it has sent, or skipped as empty for it;
        #: and the hours it skipped, with its counts then and its status.
        self._reported: dict[int, int] = {}
        self._skipped: dict[int, list[_Skip]] = {}
        # Hours waiting for slower lanes, and published hours a late lane may still revise,
        # are held as the lanes' wire bytes where they came from Kafka (see _hold).
        self._hours: dict[int, dict[int, tuple[_Held, LaneStatus]]] = {}
        self._settled: dict[int, set[int]] = {}  # hour -> lanes whose figures are settled
        self._published: dict[int, dict[int, tuple[_Held, LaneStatus]]] = {}
        self._live: dict[int, tuple[_Held, LaneStatus]] = {}
        self._ledgers: dict[int, _Ledger] = {}  # of the published hours still revisable
        self._area_keys: tuple[str, ...] | None = None
        self._expired_before_us: int | None = None
        self.published_hour_us: int | None = None
        self.revisions = 0  # hour snapshots published again with a figure changed
        self.too_old = 0  # lane figures for hours past revision, not taken
        self.other_zones = 0  # messages of lanes counting other zones (or none), not taken

    def receive(self, message: Message, now_us: int | None = None) -> list[Snapshot]:
        """Take one message from a lane; return the hour snapshots it completes or revises.

        ``now_us``: the wall clock, which stamps each publication (``revised_at``).
        """
        status = message.status
        lane = status.lane
        if not 0 <= lane < self.partitions:
            raise ValueError(f"lane {lane} outside the {self.partitions} partitions")
        if self.zones is not None and status.zones != self.zones.digest:
            self._other_zones(lane)
            return []
        self._status[lane] = status
        if message.kind is Kind.FINAL:
            assert message.final is not None
            self._present[lane].append(message.final.present)
            self._foot[lane].append(message.final.foot)
            return []
        if message.kind is Kind.REPORTED:
            until = status.reported_until_us
            if until is not None and until > self._reported.get(lane, until - 1):
                self._reported[lane] = until
            skipped = self._skipped.setdefault(lane, [])
            skipped += [_Skip(span, status) for span in status.skipped]
            done = self._complete_hours(now_us)
            if self.published_hour_us is not None:  # no snapshot to come can be that old
                cut = self.published_hour_us - self.revisable_us
                skipped[:] = [skip for skip in skipped if skip.span.last_us >= cut]
            return done
        if message.kind is Kind.LIVE:
            assert message.partial is not None
            self._live[lane] = (message.partial, status)
            return self._complete_hours(now_us)
        hour = message.as_of_us
        settled = message.kind is Kind.HOUR
        if not settled and lane in self._settled.get(hour, ()):
            return []  # a provisional figure never replaces a settled one
        if settled:
            self._settled.setdefault(hour, set()).add(lane)
        if (hour not in self._published and hour not in self._hours
                and self.published_hour_us is not None
                and hour < self.published_hour_us - self.revisable_us):  # fmt: skip
            # Figures for an hour that is history now (a lane idle for days woke up, and
            # settles the hours it vouched for then): held, it would wait for the other
            # lanes' figures for it, long gone, and every later hour behind it.
            self.too_old += 1
            return []
        if hour in self._published:
            # Figures for a published hour: late pings, an idle partition waking up with
            # pings before it, or the lane settling an hour it published early.
            ticks = self._published[hour]
            ticks[lane] = (_hold(message), status)
            self._keep_zone_runs(hour, {lane: ticks[lane]})
            merged = self._merge(ticks, hour)
            document = self._document(merged, self._with_skipped(ticks, hour), hour=True)
            revision = self._revise(hour, document, now_us)
            if revision is None:
                return []  # no figure changed: nothing to publish again
            self.revisions += 1
            return [Snapshot(SnapshotKind.HOUR, hour, document, revision)]
        self._hours.setdefault(hour, {})[lane] = (_hold(message), status)
        return self._complete_hours(now_us)

    def count_zones(self, zones: Zones, zone_config: ZoneConfig) -> Aggregator:
        """Give snapshots ``zones`` (SPEC Z4) from the lanes' zone runs (before any message).

        A lane that skipped an hour as empty had no ping for longer than the longest
        window, yet its older runs count in sessions up to 28 days back: they are its
        runs from the latest hour it sent before.

        Only messages of lanes counting these zones are taken (``LaneStatus.zones``).
        ``beatlight.partials`` may hold others: written before the zones were set or
        changed, or by a worker of another app id on the same broker. Their figures
        have no zone runs, or runs of other zones, and their lanes are rebuilt from the
        input (their checkpoints do not fit either) and send every hour again. Taken,
        they would publish hours whose zones miss those lanes' runs, then publish each
        hour again as each rebuilt lane sent it."""
        self.zones, self.zone_config = zones, zone_config
        return self

    def live_snapshot(self) -> Snapshot | None:
        """Every lane's latest live figures merged (``None`` until each lane has reported)."""
        if len(self._live) < self.partitions:
            return None
        as_of = max(_unhold(held).as_of_us for held, _ in self._live.values())
        merged = self._merge(self._live, as_of)
        return Snapshot(SnapshotKind.LIVE, as_of, self._document(merged, self._live.values()))

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
            "revisions": self.revisions,
        }

    def expire(self, before_us: int) -> None:
        """Forget final runs that no snapshot from ``before_us`` on can reach."""
        cut = (before_us - self.params.longest_window_us) // self.params.slot_us
        for store in (*self._present.values(), *self._foot.values()):
            store.drop_before(cut - 1)

    # -- internals --------------------------------------------------------------------

    def _other_zones(self, lane: int) -> None:
        if not self.other_zones:
            log.warning("lane %d's figures count other zones than this worker's (or none): "
                        "not taken; its lane sends them again with these", lane)  # fmt: skip
        self.other_zones += 1

    def _complete_hours(self, now_us: int | None) -> list[Snapshot]:
        done = []
        for hour in sorted(self._hours):
            if self.waiting_for(hour):
                break  # hours are published in order
            ticks = self._hours.pop(hour)
            merged = self._merge(ticks, hour)
            document = self._document(merged, self._with_skipped(ticks, hour), hour=True)
            revision = self._first(hour, document, now_us)
            done.append(Snapshot(SnapshotKind.HOUR, hour, document, revision))
            if self.published_hour_us is None or hour > self.published_hour_us:
                self.published_hour_us = hour  # (an hour no lane had figures for comes late)
            self._published[hour] = ticks
            self._keep_zone_runs(hour, ticks)
            # Hours stay revisable for the lateness plus a margin; older ones are history.
            for old in [h for h in self._published if h < hour - self.revisable_us]:
                del self._published[old]
                self._settled.pop(old, None)
                self._ledgers.pop(old, None)
        if done:
            self._expire_unreachable()
        return done

    def _expire_unreachable(self) -> None:
        """Final runs no snapshot still to come can reach (a day at a time).

        Every snapshot to come is as of a revisable hour or later: live ones are newer,
        and hours still waiting for lanes are after the last published one.
        """
        assert self.published_hour_us is not None
        cut = self.published_hour_us - self.revisable_us
        if self._expired_before_us is None or cut - self._expired_before_us >= _DAY_US:
            self.expire(cut)
            self._expired_before_us = cut

    def _first(self, hour_us: int, document: dict[str, Any], now_us: int | None) -> Revision:
        """Revision 0 of an hour, remembered as digests of its areas' figures."""
        keys, digests = _digests(document)
        self._area_keys = keys
        self._ledgers[hour_us] = _Ledger.first(now_us, digests, len(keys))
        return Revision(0, now_us, {})

    def _revise(
        self, hour_us: int, document: dict[str, Any], now_us: int | None
    ) -> Revision | None:
        """The hour's next revision if a figure of ``document`` changed; else ``None``."""
        keys, digests = _digests(document)
        ledger = self._ledgers.get(hour_us)
        if ledger is None or keys != self._area_keys:
            # Not remembered (the aggregator started after it was published), or the
            # areas differ: every area counts as changed.
            self._area_keys = keys
            ledger = _Ledger.first(None, np.zeros_like(digests), len(keys))
        changed = digests != ledger.digests
        if not changed.any():
            return None
        ledger.number += 1
        ledger.revised_at_us = now_us
        ledger.digests = digests
        areas = changed[:-1]  # the last digest is the document's own figures
        ledger.area_revision[areas] = ledger.number
        ledger.area_revised_at[areas] = _NO_TIME if now_us is None else now_us
        self._ledgers[hour_us] = ledger
        return Revision(ledger.number, now_us, {
            keys[i]: (int(ledger.area_revision[i]), _time_or_none(ledger.area_revised_at[i]))
            for i in np.flatnonzero(ledger.area_revision).tolist()})  # fmt: skip

    def _merge(self, ticks: dict[int, tuple[_Held, LaneStatus]], as_of_us: int) -> Partial:
        """One complete partial from each lane's tick plus its final runs before the tick."""
        n_windows = len(self.params.windows)
        n_pairs = len(self.areas.ward_cell_keys)
        empty = np.empty(0, dtype=np.int64)
        present: list[AreaRuns] = []
        foot: list[AreaRuns] = []
        held = {lane: _unhold(h) for lane, (h, _) in ticks.items()}
        parts = list(held.values())
        skipped = self._skipped_at(as_of_us, ticks)
        for lane, partial in held.items():
            present.append(partial.present)
            foot.append(partial.foot)
            if partial.final_slot is not None:
                # The final runs that were final when the tick was taken.
                present.append(self._present[lane].runs().before(partial.final_slot))
                foot.append(self._foot[lane].runs().before(partial.final_slot))
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
            present=AreaRuns.concat(present).merged(),
            foot=AreaRuns.concat(foot).merged(),
            covered=covered,
            stray=tuple(
                np.unique(np.concatenate([empty, *(p.stray[w] for p in parts)]))
                for w in range(n_windows)
            ),
            ward_last_seen=last_seen,
            outside=sum(p.outside for p in parts) + sum(s.span.outside for s in skipped),
            accepted=sum(p.accepted for p in parts) + sum(s.span.accepted for s in skipped),
            zones=None if self.zones is None else self._zone_merge(held, skipped, as_of_us),
        )

    def _zone_merge(self, held: dict[int, Partial], skipped: list[_Skip], as_of_us: int
                    ) -> ZoneRuns:  # fmt: skip
        """The lanes' zone runs as of ``as_of_us``: each lane's own, or for a lane that
        skipped the hour, those of the latest hour it sent before."""
        parts = [p.zones for p in held.values() if p.zones is not None]
        for skip in skipped:
            sent = self._zone_runs.get(skip.status.lane, {})
            before = [hour for hour in sent if hour < as_of_us]
            if before:
                parts.append(sent[max(before)])
        if not parts:
            assert self.zones is not None
            empty = np.empty(0, dtype=np.int64)
            no_time = np.full(len(self.zones), _NO_TIME, dtype=np.int64)
            return ZoneRuns.build(empty, empty, empty, empty, np.empty(0, dtype=bool), no_time)
        return parts[0] if len(parts) == 1 else ZoneRuns.merge(parts)

    def _keep_zone_runs(self, hour_us: int, ticks: dict[int, tuple[_Held, LaneStatus]]) -> None:
        """Remember each lane's zone runs of a published hour (see :meth:`_zone_merge`)."""
        if self.zones is None:
            return
        for lane, (held, _) in ticks.items():
            runs = _unhold(held).zones
            if runs is None:
                continue
            sent = self._zone_runs.setdefault(lane, {})
            sent[hour_us] = runs
            latest = max(sent)
            cut = hour_us - self.revisable_us
            for old in [h for h in sent if h < cut and h != latest]:
                del sent[old]

    def _with_skipped(
        self, ticks: dict[int, tuple[_Held, LaneStatus]], hour_us: int
    ) -> list[tuple[_Held | None, LaneStatus]]:
        """Each lane's status for the hour: with its figures, or with its skip."""
        return [*ticks.values(), *((None, s.status) for s in self._skipped_at(hour_us, ticks))]

    def _skipped_at(self, hour_us: int, ticks: dict[int, tuple[_Held, LaneStatus]]) -> list[_Skip]:
        """The skip covering ``hour_us`` of each lane without figures for it (the latest)."""
        found = []
        for lane, skips in self._skipped.items():
            if lane in ticks:
                continue
            for skip in reversed(skips):
                if skip.span.covers(hour_us):
                    found.append(skip)
                    break
        return found

    def _document(
        self,
        merged: Partial,
        ticks: Iterable[tuple[_Held | None, LaneStatus]],
        *,
        hour: bool = False,
    ) -> dict[str, Any]:
        """The snapshot's document; an hour's zones carry their ``returns_hour``."""
        rejected: Counter[str] = Counter()
        duplicates = 0
        for _, status in ticks:
            rejected.update(status.rejected)
            duplicates += status.duplicates
        document = report_document(
            self.areas,
            figures(merged, self.areas, self.params),
            as_of_us=merged.as_of_us,
            slot_seconds=self.params.slot_us // 1_000_000,
            outside=merged.outside,
            accepted=merged.accepted,
            rejected=rejected,
            duplicates=duplicates,
        )
        if self.zones is not None and merged.zones is not None:
            assert self.zone_config is not None
            document["zones"] = zone_entries(self.zones, merged.zones, self.zone_config,
                                             merged.as_of_us)  # fmt: skip
            if hour:
                settled = returns_hours(self.zones, merged.zones, self.zone_config,
                                        merged.as_of_us)  # fmt: skip
                for entry, returns in zip(document["zones"], settled, strict=True):
                    entry["returns_hour"] = returns
        return document


_NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class _Skip:
    """Hours a lane skipped as empty, with its status when it said so."""

    span: SkippedSpan
    status: LaneStatus


@dataclass
class _Ledger:
    """What the aggregator remembers of a published hour to number its revisions: a
    digest of each area's figures (in document order) and of the document's own, and
    the revision that last changed each area, and when."""

    number: int
    revised_at_us: int | None
    digests: np.ndarray  # int64: one per area, then one of the document's own figures
    area_revision: np.ndarray  # int32
    area_revised_at: np.ndarray  # int64 microseconds, _NO_TIME when unknown

    @classmethod
    def first(cls, now_us: int | None, digests: np.ndarray, n_areas: int) -> _Ledger:
        return cls(0, now_us, digests, np.zeros(n_areas, dtype=np.int32),
                   np.full(n_areas, _NO_TIME, dtype=np.int64))  # fmt: skip


def _digests(document: dict[str, Any]) -> tuple[tuple[str, ...], np.ndarray]:
    """Each area's key and a digest of its figures, then a digest of the document's own.

    Python's hash of the JSON bytes: the ledger lives in this process only, and a
    collision (one in 2**64) would only leave one change of one area unpublished until
    the next.
    """
    keys, digests = [], []
    for level, area in _areas_of(document):
        keys.append(f"{level}|{area['code']}")
        digests.append(hash(orjson.dumps(area["windows"])))
    own = {k: document[k] for k in ("fairness", "outside", "accepted", "zones") if k in document}
    digests.append(hash(orjson.dumps(own)))
    return tuple(keys), np.array(digests, dtype=np.int64)


def _time_or_none(value: int | np.integer) -> int | None:
    return None if value == _NO_TIME else int(value)


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


# -- snapshot documents as topic records ----------------------------------------------------

_LEVEL_KEYS = ("wards", "neighbourhoods", "districts")
_SUMMARY = ("as_of", "slot_seconds", "fairness", "outside", "accepted", "rejected", "duplicates")


def snapshot_records(
    document: dict[str, Any], *, prefix: str, revision: Revision | None = None
) -> list[tuple[str, dict]]:
    """One record per area, then one summary, keyed ``{prefix}|{level}|{code}``.

    History uses the hour as prefix (``2026-11-23T06:00:00Z|ward|E05008714``); the
    live topic uses ``live``. Keys make both topics compactable. The summary comes
    last and counts the areas, so a reader knows a snapshot is whole.

    With a ``revision`` (hour snapshots), the summary says which publication of the hour
    this is (``revision``, ``revised_at``), and so does each area whose figures changed
    after the first publication (the revision that last changed them, and when).
    """
    records = []
    revised = {} if revision is None else revision.areas
    for level, area in _areas_of(document):
        key = f"{level}|{area['code']}"
        value = {"as_of": document["as_of"], "level": level, **area}
        if key in revised:
            number, at_us = revised[key]
            value |= {"revision": number, "revised_at": _time_text(at_us)}
        records.append((f"{prefix}|{key}", value))
    for zone in document.get("zones", ()):  # SPEC Z4: one record per zone, after the areas
        records.append((f"{prefix}|zone|{zone['code']}",
                        {"as_of": document["as_of"], "level": "zone", **zone}))  # fmt: skip
    counts = {key[:-1]: len(document[key]) for key in _LEVEL_KEYS}
    if document.get("force"):
        counts["force"] = 1
    if "zones" in document:
        counts["zone"] = len(document["zones"])
    summary = {k: document[k] for k in _SUMMARY} | {"areas": counts}
    if revision is not None:
        summary |= {"revision": revision.number,
                    "revised_at": _time_text(revision.revised_at_us)}  # fmt: skip
    records.append((f"{prefix}|summary", summary))
    return records


def _areas_of(document: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """``(level, area)`` of every area of a document: wards, roll-ups, then the force."""
    for key in _LEVEL_KEYS:
        for area in document[key]:
            yield key[:-1], area
    if document.get("force"):
        yield "force", document["force"]


def _time_text(us: int | None) -> str | None:
    """When a revision was made, to the second (RFC 3339 UTC)."""
    return None if us is None else format_us(us // 1_000_000 * 1_000_000)


def document_from_records(
    records: Iterable[tuple[str, dict]], prefix: str
) -> dict[str, Any] | None:
    """The report document back from :func:`snapshot_records` (``None`` unless it is whole)."""
    summary: dict[str, Any] | None = None
    levels: dict[str, list[dict]] = {key: [] for key in (*_LEVEL_KEYS, "zones")}
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
    found = {key[:-1]: len(levels[key]) for key in (*_LEVEL_KEYS, "zones")}
    found["force"] = int(bool(force))
    if any(found.get(level, 0) != n for level, n in summary.get("areas", {}).items()):
        return None  # not whole yet: its areas are still being written (or were cut short)
    document = {"as_of": summary["as_of"], "slot_seconds": summary["slot_seconds"]}
    for key in _LEVEL_KEYS:
        document[key] = sorted(levels[key], key=lambda area: area["code"])
    document["force"] = force
    for key in ("fairness", "outside", "accepted", "rejected", "duplicates"):
        document[key] = summary[key]
    if "zone" in summary.get("areas", {}):
        document["zones"] = sorted(levels["zones"], key=lambda zone: zone["code"])
    if "revision" in summary:  # an hour snapshot published with its revision
        document["revision"] = summary["revision"]
        document["revised_at"] = summary["revised_at"]
    return document
