"""A lane run over one partition's records: offset bookkeeping, dead letters, early hours.

Faust delivers records at least once and may hand a partition to another worker
at any time. A :class:`LaneRunner` keeps its lane exact regardless: it knows the
next offset it expects, refuses records past a gap (:class:`GapError`, for the
runtime to read the gap from the partition first), and skips records it has
already seen. Its state is therefore always a pure function of the partition's
first N records, which is what makes a restarted, a re-assigned or a second
worker change no figure (SPEC). Kafka, not a local file, is the system of
record: a new owner rebuilds the lane from the topic (retention covers the
longest window).

The stream core: no Kafka, no Faust, no clock of its own beyond timing its work
(``beatlight.runtime`` reads the partitions and publishes the :class:`Emission`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from beatlight.geo.geography import Geography
from beatlight.streams.dead_letters import dead_letters
from beatlight.streams.events import parse_lines
from beatlight.streams.lane import Lane, LaneConfig, Outcome, SkippedSpan
from beatlight.streams.points import point_records
from beatlight.streams.wire import Kind, LaneStatus, encode_final, encode_reported, encode_tick
from beatlight.streams.zone_lane import ZoneLane
from beatlight.times import format_us

__all__ = ["Emission", "GapError", "LaneRunner", "Record", "first_publication_us"]

log = logging.getLogger("beatlight.worker")

_HOUR_US = 3_600_000_000
#: Hours are first published once a lane's watermark is an hour past them, whatever the
#: allowed lateness (SPEC "Late uploads"): history stays an hour behind the feed, not a day.
FIRST_PUBLICATION_US = _HOUR_US


def first_publication_us(lateness_us: int) -> int:
    """How far a lane's watermark is past an hour when the hour is first published."""
    return min(lateness_us, FIRST_PUBLICATION_US)


@dataclass(frozen=True)
class Record:
    """One input record: where it sits in its partition, and its bytes."""

    offset: int
    value: bytes | None
    key: bytes | None = None


@dataclass
class Emission:
    """What processing some records produced, for the app to publish."""

    dlq: list[tuple[bytes | None, bytes]] = field(default_factory=list)  # (key, value)
    partials: list[bytes] = field(default_factory=list)  # for beatlight.partials, in order
    live: list[bytes] = field(default_factory=list)  # for beatlight.live-ticks
    checkpoints: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # (partition, k, v)
    points: list[tuple[bytes, bytes]] = field(default_factory=list)  # for visibility.points
    accepted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    #: Records skipped because the lane had read them already (see ``beatlight.runtime.lanes``).
    seen: int = 0

    def extend(self, other: Emission) -> None:
        self.dlq += other.dlq
        self.partials += other.partials
        self.live += other.live
        self.checkpoints += other.checkpoints
        self.points += other.points
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.seen += other.seen
        for reason, n in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n


class LaneRunner:
    """One input partition's lane, kept exact by offset bookkeeping."""

    def __init__(
        self,
        partition: int,
        geography: Geography,
        config: LaneConfig,
        *,
        max_event_bytes: int,
        first_offset: int = 0,
        points_us: int = 900_000_000,
        event_clock: bool = False,
        zones: ZoneLane | None = None,
    ) -> None:
        """``zones``: an empty zone lane: the lane's figures then carry its zone runs.

        ``points_us``: how recent a ping must be to go to ``visibility.points``, behind
        the wall clock or, with ``event_clock``, behind the later of the wall clock and this
        lane's watermark. Points are for the live map: a replay of history sends none, so a
        replay of weeks costs no extra sends (SPEC: inspectors see the last 15 minutes)."""
        self.partition = partition
        self.lane = Lane(geography, config, hourly=True, zones=zones)
        self.max_event_bytes = max_event_bytes
        self.points_us = points_us
        self.event_clock = event_clock
        self.next_offset = first_offset
        self.caught_up = False
        #: Monotonic times records last arrived through the consumer group (a new lane
        #: counts as fed: the consumer has only just been given its partition), and the
        #: lane last read Kafka itself.
        self.fed_at = time.monotonic()
        self.read_at = 0.0
        self.checkpointed_at = time.monotonic()
        self.checkpointed_offset = first_offset
        self.checkpoints = 0  # written by this runner: their parity picks the generation
        self.cost_s = 0.0  # what the last call of process() took
        self._units_ahead = 0  # units whose clocks ran ahead, when last logged
        #: With a lateness over an hour: the last hour published early (see _early_hours).
        self.early_until_us: int | None = None
        self._lock = threading.Lock()

    def status(self) -> LaneStatus:
        lane = self.lane
        return LaneStatus(
            lane=self.partition,
            watermark_us=lane.intake.watermark_us if lane.intake.has_watermark else None,
            first_hour_us=lane.first_hour_us,
            offset=self.next_offset - 1,
            caught_up=self.caught_up,
            rejected=dict(lane.rejected),
            duplicates=lane.duplicates,
            zones=None if lane.zones is None else lane.zones.zones.digest,
        )

    def process(
        self, records: Sequence[Record], *, now_us: int, blocking: bool = True
    ) -> Emission | None:
        """Records of this partition in offset order; ones already seen are skipped.

        Not ``blocking``: ``None`` at once if another thread holds the lane (its live tick).
        """
        if not self._lock.acquire(blocking=blocking):
            return None
        try:
            started = time.perf_counter()
            emission = self._process(records, now_us=now_us)
            self.cost_s = time.perf_counter() - started
            return emission
        finally:
            self._lock.release()

    def _process(self, records: Sequence[Record], *, now_us: int) -> Emission:
        fresh = [r for r in records if r.offset >= self.next_offset]
        if not fresh:
            return Emission(seen=len(records))
        if fresh[0].offset != self.next_offset:
            raise GapError(self.partition, self.next_offset, fresh[0].offset)
        values = [r.value or b"" for r in fresh]
        raw = parse_lines(values, max_event_bytes=self.max_event_bytes)
        # parse_lines skips blank records; keep offsets aligned with rows.
        offsets = [r.offset for r, v in zip(fresh, values, strict=True) if v.strip()]
        raw.position = offsets
        outcome = self.lane.ingest(raw, now_us=now_us)
        self.next_offset = fresh[-1].offset + 1
        self._note_clocks_ahead()
        emission = Emission(
            accepted=int(outcome.accepted.sum()),
            duplicates=int(outcome.duplicate.sum()),
            seen=len(records) - len(fresh),
        )
        emission.dlq, emission.rejected = dead_letters(raw, outcome.events.reason,
                                                       self.partition)  # fmt: skip
        now = max(self.lane.intake.watermark_us, now_us) if self.event_clock else now_us
        emission.points = point_records(
            outcome.events, outcome.ward, self.lane.geography.wards.codes, now - self.points_us
        )
        status = self.status()
        emission.partials += [encode_tick(Kind.HOUR, status, h) for h in outcome.hours]
        emission.partials += self._early_hours(outcome, status)
        emission.partials += self._reported(status)
        if outcome.final is not None:
            emission.partials.append(encode_final(status, outcome.final))
        return emission

    def _note_clocks_ahead(self) -> None:
        """Log when more units' clocks run ahead of the watermark (never which units)."""
        intake = self.lane.intake
        ahead = intake.units_ahead
        if ahead > self._units_ahead:
            log.warning(
                "partition %d: %d unit(s) with clocks running up to %.1f h ahead of the "
                "lane's watermark (%s); their pings count and do not move it (%d so far)",
                self.partition, ahead, intake.furthest_ahead_us / 3.6e9,
                format_us(intake.watermark_us), intake.ahead,
            )  # fmt: skip
        self._units_ahead = ahead

    def _early_hours(self, outcome: Outcome, status: LaneStatus) -> list[bytes]:
        """Figures for hours the lane has not settled yet: published early, then revised.

        With an allowed lateness L over an hour, the lane settles hour H only once its
        watermark is past H + L, which would hold the history a day behind the feed at
        L = 24 h. So the lane sends provisional figures for each hour once its watermark
        is an hour past it, exact for the pings it holds; when it accepts pings older
        than hours it sent that way (a body-worn camera's upload), it sends every hour
        after the earliest of them again, and the aggregator publishes the ones whose
        figures changed as revisions. The settled figures come at H + L as before; the
        aggregator publishes them only if they differ. At most L of hours are open, so
        a jump of the watermark costs at most that many hours of figures. Hours before
        the lane's first ping are reported as skipped, as the lane itself would (an hour
        no lane has a ping for is not published).
        """
        lane = self.lane
        early_us = first_publication_us(lane.config.lateness_us)
        settled = lane.settled_until_us
        if early_us >= lane.config.lateness_us or settled is None or lane.first_hour_us is None:
            return []
        first_open = max((settled // _HOUR_US + 1) * _HOUR_US, lane.first_hour_us)
        last = (lane.intake.watermark_us - early_us) // _HOUR_US * _HOUR_US
        start = first_open
        if self.early_until_us is not None:
            start = max(first_open, self.early_until_us + _HOUR_US)
            accepted = outcome.events.ts_us[outcome.accepted]
            if len(accepted):  # pings before hours already sent change those hours
                touched = (int(accepted.min()) // _HOUR_US + 1) * _HOUR_US
                start = max(first_open, min(start, touched))
        if last < start:
            return []
        self.early_until_us = max(last, self.early_until_us or last)
        messages = []
        owed_from = (lane.data_hours[0] + 1) * _HOUR_US if lane.data_hours else last + _HOUR_US
        if start < owed_from:
            skipped = min(owed_from - _HOUR_US, last)
            span = SkippedSpan(start, skipped, *lane.presence.counts_before(start))
            messages.append(encode_reported(status, skipped, [span]))
            start = skipped + _HOUR_US
        return messages + [encode_tick(Kind.PROVISIONAL, status, lane.partial(hour, complete=False))
                           for hour in range(start, last + 1, _HOUR_US)]  # fmt: skip

    def _reported(self, status: LaneStatus) -> list[bytes]:
        """After the hours: the lane's word for the hours it skipped as empty, if any new."""
        reported = self.lane.take_reported()
        return [] if reported is None else [encode_reported(status, *reported)]

    def restore(self, lane: Lane, next_offset: int) -> None:
        """Continue from a checkpoint; its final runs go to the aggregator again."""
        with self._lock:
            lane.resend_final()
            self.lane = lane
            self.next_offset = self.checkpointed_offset = next_offset
            self.early_until_us = None  # its next batch sends every open hour again

    def dump(self) -> bytes:
        from beatlight.streams.checkpoint import dump_lane

        with self._lock:
            return dump_lane(self.lane, self.next_offset)

    def flush_final(self) -> list[bytes]:
        """Hand out the lane's unsent final runs now (before a checkpoint)."""
        with self._lock:
            final = self.lane.take_final()
            return [] if final is None else [encode_final(self.status(), final)]

    def provisional_ticks(self, until_us: int) -> list[bytes]:
        """Hour figures an idle lane can vouch for (see :meth:`Lane.provisional_hours`)."""
        with self._lock:
            status = self.status()
            ticks = [encode_tick(Kind.PROVISIONAL, status, h)
                     for h in self.lane.provisional_hours(until_us)]  # fmt: skip
            return ticks + self._reported(status)

    def live_tick(self, as_of_us: int) -> bytes:
        """This lane's figures as of ``as_of_us`` (never before what it has finalised)."""
        with self._lock:
            floor = self.lane.presence.earliest_admissible_us
            if floor is not None:
                as_of_us = max(as_of_us, floor)
            return encode_tick(
                Kind.LIVE, self.status(), self.lane.partial(as_of_us, complete=False)
            )


class GapError(RuntimeError):
    """Records arrived beyond the next expected offset: the gap must be read first."""

    def __init__(self, partition: int, expected: int, got: int) -> None:
        super().__init__(f"partition {partition}: expected offset {expected}, got {got}")
        self.partition, self.expected, self.got = partition, expected, got
