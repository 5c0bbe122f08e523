"""One lane of the pipeline: raw events in, mergeable presence out.

A :class:`Lane` chains the steps a ping walks through, in the SPEC's order:
:func:`beatlight.streams.events.validate` (is it valid?) → :class:`beatlight.streams.intake.Intake`
(late? duplicate?) → :meth:`geo.geography.Geography.locate` (which ward and
cell?) → :class:`beatlight.streams.presence.PresenceLane` (which unit-slots?). The batch
report drives one lane over a whole file; each stream worker drives one lane per
Kafka partition. Same code, same figures.

Long because :class:`Lane` is one state machine: admitting pings, settling final runs
and owing, sending or skipping hour figures share the intake's watermark and the hours kept.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from beatlight.geo.geography import Geography
from beatlight.streams.events import RawEvents, ValidEvents, validate
from beatlight.streams.intake import Intake
from beatlight.streams.presence import FinalDelta, ModelParams, Partial, PresenceLane
from beatlight.streams.runs import AreaRuns

if TYPE_CHECKING:
    from beatlight.streams.zone_lane import ZoneLane

__all__ = ["Lane", "LaneConfig", "Outcome", "SkippedSpan", "checked"]


@dataclass(frozen=True)
class LaneConfig:
    """Admission rules (SPEC "The presence event" and settings) and the model's parameters.

    Built from ``Settings`` by :func:`beatlight.configs.lane_config`, where the defaults
    are declared."""

    model: ModelParams
    lateness_us: int
    future_us: int
    max_accuracy_m: float


def checked(raw: RawEvents, config: LaneConfig, *, now_us: int) -> ValidEvents:
    """The SPEC's checks on one batch with a lane's settings (no state: in any process)."""
    return validate(
        raw,
        now_us=now_us,
        max_accuracy_m=config.max_accuracy_m,
        future_seconds=config.future_us // 1_000_000,
    )


@dataclass(frozen=True, slots=True)
class SkippedSpan:
    """Hour boundaries ``first_us`` to ``last_us`` (both included) that a lane skipped as
    empty: none of its pings reaches them. ``outside`` and ``accepted`` are the lane's
    counts of pings before them, the same at each (see :meth:`Lane.take_reported`)."""

    first_us: int
    last_us: int
    outside: int
    accepted: int

    def covers(self, hour_us: int) -> bool:
        return self.first_us <= hour_us <= self.last_us


@dataclass
class Outcome:
    """What happened to each row of one ingested batch."""

    events: ValidEvents  # parsed rows; ``events.reason`` names each rejection
    accepted: np.ndarray  # bool
    duplicate: np.ndarray  # bool
    ward: np.ndarray  # int32 ward index of accepted rows (-1 outside or not accepted)
    #: With ``hourly=True``: figures as of each hour boundary that became settled, in order.
    hours: list[Partial] = field(default_factory=list)
    #: Final runs to forward to the aggregator, sent about hourly (see Lane.take_final).
    final: FinalDelta | None = None

    @property
    def rejected(self) -> np.ndarray:
        return ~np.equal(self.events.reason, None)


class Lane:
    """Validation, admission and presence for one ordered stream of events."""

    def __init__(
        self,
        geography: Geography,
        config: LaneConfig,
        *,
        ignore_from_us: int | None = None,
        hourly: bool = False,
        hours: Callable[[int], bool] | None = None,
        ordered: bool = False,
        zones: ZoneLane | None = None,
    ) -> None:
        """``ignore_from_us``: a fixed ``as_of``; events at or after it are ignored (rule 9).

        ``ordered``: events will come in ``ts`` order and already de-duplicated (a file
        the batch report has sorted): nothing is late, and every hour up to the latest
        event time is settled at once.

        ``hourly``: compute figures as of every hour boundary H once no admissible
        ping can change them any more (the watermark has passed H + lateness), as
        the stream's history needs; the batch report does not. ``hours``: only at
        the hour boundaries it accepts (the PCC report's trends need local midnights).

        ``zones``: a stream lane's zones; its figures then carry the lane's zone runs.
        """
        self.geography = geography
        self.zones = zones
        self.hourly = hourly
        self._wanted = hours or (lambda _: True)
        #: First hour boundary this lane reports: no accepted ping can precede it.
        self.first_hour_us: int | None = None
        self._next_hour_us: int | None = None
        #: Hours (``ts // 1 h``) holding accepted pings that may still reach an hour to come,
        #: sorted: hours no ping reaches are empty for this lane and skipped (see _owed).
        self.data_hours: list[int] = []
        #: Every hour boundary up to this one has had its figures sent, or was empty here.
        self.reported_until_us: int | None = None
        self._reported_sent_us: int | None = None
        #: Hours skipped since the last :meth:`take_reported`.
        self.skipped: list[SkippedSpan] = []
        self.hours_skipped = 0  # in all
        self._version = 0  # bumped whenever a ping is accepted
        #: Final runs not yet handed out, and the slot up to which they were.
        self._unsent: list[FinalDelta] = []
        self.sent_slot: int | None = None
        self._provisional_until: int | None = None
        self._provisional_version = -1
        self.config = config
        #: How far behind the watermark a ping may still arrive.
        self.lateness_us = 0 if ordered else self.config.lateness_us
        self.intake = Intake(self.config.lateness_us, ordered=ordered)
        self.presence = PresenceLane(geography.areas, self.config.model)
        self.ignore_from_us = ignore_from_us
        self.rejected: Counter[str] = Counter()
        self.duplicates = 0
        self.max_accepted_us: int | None = None

    def ingest(self, raw: RawEvents, *, now_us: int) -> Outcome:
        """Take one batch in arrival order; ``now_us`` is the wall clock for the future rule."""
        return self.admit(self.validate(raw, now_us=now_us))

    def validate(self, raw: RawEvents, *, now_us: int) -> ValidEvents:
        """The SPEC's checks on one batch, with this lane's settings (no state)."""
        return checked(raw, self.config, now_us=now_us)

    def admit(self, events: ValidEvents) -> Outcome:
        """Take one validated batch in arrival order: lateness, duplicates, presence."""
        admission = self.intake.admit(events)
        self.rejected.update(r for r in events.reason.tolist() if r is not None)
        self.duplicates += int(admission.duplicate.sum())

        ward_of_row = np.full(len(events), -1, dtype=np.int32)
        rows = np.flatnonzero(admission.accepted)
        if self.ignore_from_us is not None:
            rows = rows[events.ts_us[rows] < self.ignore_from_us]
        if len(rows):
            self._version += 1
            ward, cell = self.geography.locate(events.lon[rows], events.lat[rows])
            ward_of_row[rows] = ward
            self.presence.add(
                events.unit[rows],
                events.ts_us[rows],
                events.event_id[rows],
                ward,
                events.mode[rows],
                cell,
            )
            if self.zones is not None:
                self.zones.add(events, rows)
            latest = int(events.ts_us[rows].max())
            if self.max_accepted_us is None or latest > self.max_accepted_us:
                self.max_accepted_us = latest
            self._note_data_hours(events.ts_us[rows])
        if self.first_hour_us is None and self.intake.has_watermark:
            # Accepted pings are at most the lateness behind the first one (rule: too_late).
            earliest = int(events.ts_us[admission.accepted].min()) - self.lateness_us
            self.first_hour_us = (earliest // _HOUR_US + 1) * _HOUR_US
            self._next_hour_us = self.first_hour_us
        # Hour figures first: settling may finalise slots those hours must not see.
        hours = self._due_hours() if self.hourly else []
        final = self._settle()
        if final is not None and self.hourly:
            self._unsent.append(final)
            final = self.take_final(at_least_slots=_HOUR_US // self.config.model.slot_us)
        return Outcome(events, admission.accepted, admission.duplicate, ward_of_row, hours, final)

    def partial(self, as_of_us: int, *, complete: bool = True) -> Partial:
        """Mergeable figures as of ``as_of_us`` (see :meth:`PresenceLane.partial`).

        Incomplete figures hold the runs from :attr:`sent_slot` on: what the
        aggregator does not have yet.
        """
        partial = self.presence.partial(as_of_us, sent_slot=self.sent_slot, complete=complete)
        if self.zones is None:
            return partial
        return replace(partial, zones=self.zones.runs(as_of_us))

    def resend_final(self) -> None:
        """Queue every final run for sending again (after a restore: the aggregator may
        have missed the last ones; it takes unions, so repeats change nothing)."""
        final = self.presence.final_runs()
        self._unsent = [] if final is None else [final]
        self.sent_slot = None

    def take_final(self, at_least_slots: int = 0) -> FinalDelta | None:
        """The final runs not handed out yet, merged, once they span ``at_least_slots``.

        Sent in batches (about hourly) rather than per batch, so the aggregator's
        log of them stays small; ticks in between carry those slots themselves.
        """
        if not self._unsent:
            return None
        first, last = self._unsent[0], self._unsent[-1]
        start = first.from_slot if first.from_slot is not None else last.to_slot
        if first.from_slot is not None and last.to_slot - start < at_least_slots:
            return None
        merged = FinalDelta(
            from_slot=first.from_slot,
            to_slot=last.to_slot,
            present=AreaRuns.concat(d.present for d in self._unsent).merged(),
            foot=AreaRuns.concat(d.foot for d in self._unsent).merged(),
        )
        self._unsent = []
        self.sent_slot = merged.to_slot
        return merged

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Everything needed to resume (checkpoints): a JSON-ready header and named arrays.

        Hand out the unsent final runs first (:meth:`take_final`): they are not kept.
        """
        if self._unsent:
            raise ValueError("send the lane's final runs (take_final) before checkpointing it")
        presence, arrays = self.presence.state()
        header = {
            "intake": self.intake.state(),
            "lane": {
                "rejected": dict(self.rejected),
                "duplicates": self.duplicates,
                "max_accepted_us": self.max_accepted_us,
                "first_hour_us": self.first_hour_us,
                "next_hour_us": self._next_hour_us,
                "version": self._version,
                "provisional_until": self._provisional_until,
                "provisional_version": self._provisional_version,
                "sent_slot": self.sent_slot,
                "data_hours": self.data_hours,
                "reported_until_us": self.reported_until_us,
            },
            "presence": presence,
        }
        if self.zones is not None:
            header["zones"], zone_arrays = self.zones.state()
            arrays = arrays | zone_arrays
        return header, arrays

    @classmethod
    def from_state(
        cls,
        geography: Geography,
        config: LaneConfig,
        header: dict[str, Any],
        arrays: dict[str, np.ndarray],
        zones: ZoneLane | None = None,
    ) -> Lane:
        """The hourly lane :meth:`state` described (with the same geography and config).

        ``zones``: an empty zone lane of the same zones, to restore the state's into."""
        if (zones is None) != ("zones" not in header):
            raise ValueError("the state has zones and the lane none, or the other way round")
        lane = cls(geography, config, hourly=True)
        if zones is not None:
            lane.zones = type(zones).from_state(zones.zones, zones.config, header["zones"],
                                                arrays)  # fmt: skip
        lane.intake = Intake.from_state(config.lateness_us, header["intake"])
        meta = header["lane"]
        lane.rejected = Counter(meta["rejected"])
        lane.duplicates = meta["duplicates"]
        lane.max_accepted_us = meta["max_accepted_us"]
        lane.first_hour_us = meta["first_hour_us"]
        lane._next_hour_us = meta["next_hour_us"]
        lane._version = meta["version"]
        lane._provisional_until = meta["provisional_until"]
        lane._provisional_version = meta["provisional_version"]
        lane.sent_slot = meta["sent_slot"]
        if "data_hours" in meta:
            lane.data_hours = meta["data_hours"]
            lane.reported_until_us = meta["reported_until_us"]
        elif lane.max_accepted_us is not None and lane._next_hour_us is not None:
            # A state from before lanes skipped empty hours: owe every hour up to the
            # latest ping's reach, as that worker would have.
            lane.data_hours = list(range((lane._next_hour_us - lane._reach_us) // _HOUR_US - 1,
                                         lane.max_accepted_us // _HOUR_US + 1))  # fmt: skip
        lane.presence = PresenceLane.from_state(
            geography.areas, config.model, header["presence"], arrays
        )
        return lane

    @property
    def settled_until_us(self) -> int | None:
        """No admissible ping can be earlier than this: watermark minus allowed lateness."""
        if not self.intake.has_watermark:
            return None
        return self.intake.watermark_us - self.lateness_us

    def provisional_hours(self, until_us: int) -> list[Partial]:
        """Figures for the hours up to ``until_us`` that this lane has not settled yet.

        For an idle partition: its own watermark does not move, so it cannot
        settle later hours, yet other partitions need its share of them. The
        figures are exact for the pings it holds; if older pings arrive later,
        the hours they touch are sent again (settled, or provisional once more).
        """
        if self._next_hour_us is None:
            return []
        start = self._next_hour_us
        if self._provisional_version == self._version and self._provisional_until is not None:
            start = max(start, self._provisional_until + _HOUR_US)
        hours = []
        hour = start
        last = until_us // _HOUR_US * _HOUR_US
        while hour <= last:
            if not self._owed(hour):
                hour = self._skip(hour, last + _HOUR_US)
                continue
            if self._wanted(hour):
                hours.append(self.partial(hour, complete=False))
            hour += _HOUR_US
        if start <= last:
            self._provisional_until = last
            self._provisional_version = self._version
            self._report(last)
        return hours

    def take_reported(self) -> tuple[int, list[SkippedSpan]] | None:
        """The hour up to which this lane has newly reported (sent or found empty), and the
        hours it skipped on the way (see :attr:`skipped`), once; ``None`` if it skipped none.

        Sent after the hours themselves (``beatlight.partials`` keeps them in order), it
        tells the aggregator not to wait for the hours this lane skipped as empty.
        """
        new = self.reported_until_us
        if new is None or (self._reported_sent_us is not None and new <= self._reported_sent_us):
            return None
        if not self.skipped:
            return None  # every hour reported was sent: the aggregator has them all
        self._reported_sent_us = new
        skipped, self.skipped = self.skipped, []
        return new, skipped

    def _due_hours(self) -> list[Partial]:
        settled = self.settled_until_us
        if settled is None or self._next_hour_us is None:
            return []
        due = []
        end = (settled // _HOUR_US + 1) * _HOUR_US  # the first hour not settled
        while self._next_hour_us < end:
            hour = self._next_hour_us
            if not self._owed(hour):
                self._next_hour_us = self._skip(hour, end)
                continue
            if self._wanted(hour):
                due.append(self.partial(hour, complete=False))
            self._next_hour_us += _HOUR_US
        if self._next_hour_us >= self.first_hour_us + _HOUR_US:  # type: ignore[operator]
            self._report(self._next_hour_us - _HOUR_US)
        self._forget_data_hours()
        return due

    # -- which hours this lane owes figures for -------------------------------------------
    #
    # An hour H's windows end at H and reach back the longest window; gap fill reaches G
    # past a ping. A ping at t in hour d can change H only if t < H <= t + reach, so H is
    # owed iff some data hour d has d < H / 1 h and (d + 1) h + reach >= H. Every other
    # hour is empty for this lane: no ping, run or cell of it is in any of H's windows.
    # A lane whose pings stop for longer than the longest window (an idle partition, a
    # feed's broken clock far in the past) then owes no figures for the hours between.

    @property
    def _reach_us(self) -> int:
        model = self.config.model
        return model.longest_window_us + model.gap_us + model.slot_us

    def _owed(self, hour_us: int) -> bool:
        i = bisect_left(self.data_hours, hour_us // _HOUR_US)
        return i > 0 and (self.data_hours[i - 1] + 1) * _HOUR_US + self._reach_us >= hour_us

    def _next_owed(self, hour_us: int, end_us: int) -> int:
        """The first owed hour after ``hour_us`` (not owed itself), or ``end_us`` if sooner."""
        i = bisect_left(self.data_hours, hour_us // _HOUR_US)
        if i == len(self.data_hours):
            return end_us
        return min(max((self.data_hours[i] + 1) * _HOUR_US, hour_us + _HOUR_US), end_us)

    def _skip(self, hour_us: int, end_us: int) -> int:
        """Skip the hours from ``hour_us`` (not owed) to the next owed one; return that."""
        following = self._next_owed(hour_us, end_us)
        self.hours_skipped += (following - hour_us) // _HOUR_US
        outside, accepted = self.presence.counts_before(hour_us)
        self.skipped.append(SkippedSpan(hour_us, following - _HOUR_US, outside, accepted))
        return following

    def _note_data_hours(self, ts_us: np.ndarray) -> None:
        new = np.unique(ts_us // _HOUR_US).tolist()
        if not self.data_hours or new[0] > self.data_hours[-1]:
            self.data_hours += new
        else:
            self.data_hours = sorted(set(self.data_hours).union(new))

    def _forget_data_hours(self) -> None:
        """Drop data hours that reach no hour still to come (settled or provisional)."""
        assert self._next_hour_us is not None
        floor = (self._next_hour_us - self._reach_us) // _HOUR_US - 1
        cut = bisect_left(self.data_hours, floor)
        if cut:
            del self.data_hours[:cut]

    def _report(self, hour_us: int) -> None:
        if self.reported_until_us is None or hour_us > self.reported_until_us:
            self.reported_until_us = hour_us

    def default_as_of_us(self) -> int | None:
        """Rule 9: the latest accepted event time rounded up to the next slot."""
        if self.max_accepted_us is None:
            return None
        slot = self.config.model.slot_us
        return (self.max_accepted_us // slot + 1) * slot

    def _settle(self) -> FinalDelta | None:
        """Finalise what no admissible ping can change; forget what no window reaches."""
        settled = self.settled_until_us
        if settled is None:
            return None
        model = self.config.model
        if self.ignore_from_us is not None:
            settled = min(settled, self.ignore_from_us)
        if self.zones is not None:
            self.zones.settle(settled)
        final = None
        before = settled - model.gap_us
        floor = self.presence.earliest_admissible_us
        # Finalising sorts and scans the whole buffer, so do it in steps of event time
        # rather than at every batch. Finalising later changes no figure (partial() reads
        # the buffer too); only the buffer holds a few more minutes of pings.
        if floor is None or before - (floor - model.gap_us) >= _FINALISE_STEP_US:
            final = self.presence.finalise(before)
        self.presence.expire(settled - model.longest_window_us - model.slot_us)
        return final


_HOUR_US = 3_600_000_000
_FINALISE_STEP_US = 600_000_000  # ten minutes of event time
