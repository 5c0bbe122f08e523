"""The hour documents of a batch report: stage 2 of the stream, run in-process.

:func:`beatlight.streams.batch.batch_reports` feeds a :class:`BatchHours` each lane's
hour figures, final runs and reported spans as the stream's workers would send them,
and keeps the documents of the chosen hours the aggregator publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from beatlight.geo.geography import Geography
from beatlight.streams.aggregate import Aggregator
from beatlight.streams.lane import Lane, LaneConfig, Outcome
from beatlight.streams.wire import Kind, LaneStatus, Message

__all__ = ["BatchHours"]


class BatchHours:
    """The chosen hour documents, from the lanes' hour figures (as stage 2 of the stream)."""

    def __init__(
        self,
        geography: Geography,
        config: LaneConfig,
        partitions: int,
        as_of_us: int | None,
        chosen: Callable[[int], bool],
        keep_us: int | None,
    ) -> None:
        self.aggregator = Aggregator(geography.areas, config, partitions)
        self.as_of_us = as_of_us
        self.chosen = chosen
        self.keep_us = keep_us
        self.found: dict[int, dict[str, Any]] = {}

    def wanted(self, hour_us: int) -> bool:
        return (self.as_of_us is None or hour_us <= self.as_of_us) and self.chosen(hour_us)

    def receive(self, p: int, lane: Lane, outcome: Outcome) -> None:
        status = _status(p, lane, caught_up=False)
        # Hour figures before the final runs they were taken before (as the workers send).
        for hour in outcome.hours:
            if self.wanted(hour.as_of_us):
                self._take(Message(Kind.HOUR, status, partial=hour))
        self._reported(lane, status)
        if outcome.final is not None:
            self._take(Message(Kind.FINAL, status, final=outcome.final))

    def expire(self, lanes: list[Lane]) -> None:
        """Let the aggregator forget final runs that no hour still to come can reach.

        Once every lane has a watermark, no lane can send an hour before its settled
        time any more (older pings are too late), so a long file keeps bounded state.
        """
        settled = [lane.settled_until_us for lane in lanes]
        if all(s is not None for s in settled):
            self.aggregator.expire(min(settled) - _HOUR_US)  # type: ignore[type-var]

    def finish(self, lanes: list[Lane], as_of_us: int) -> dict[int, dict[str, Any]]:
        """Hours no lane could settle (too near the end of the file): their exact figures."""
        self.as_of_us = as_of_us
        for p, lane in enumerate(lanes):
            status = _status(p, lane, caught_up=True)
            for hour in lane.provisional_hours(as_of_us):
                if self.wanted(hour.as_of_us):
                    self._take(Message(Kind.PROVISIONAL, status, partial=hour))
            self._reported(lane, status)
            if not lane.intake.has_watermark:
                # A lane that accepted nothing vouches that it holds nothing, as an idle
                # worker's live tick does; without it every hour would wait for it.
                self._take(
                    Message(Kind.LIVE, status, partial=lane.partial(as_of_us, complete=False))
                )
        return {h: doc for h, doc in sorted(self.found.items()) if h <= as_of_us}

    def _reported(self, lane: Lane, status: LaneStatus) -> None:
        reported = lane.take_reported()
        if reported is not None:
            until, skipped = reported
            self._take(Message(Kind.REPORTED, replace(status, reported_until_us=until,
                                                      skipped=skipped)))  # fmt: skip

    def _take(self, message: Message) -> None:
        for snapshot in self.aggregator.receive(message):
            self.found[snapshot.as_of_us] = snapshot.document
        if self.keep_us is not None and self.found:
            latest = max(self.found)
            for old in [h for h in self.found if h < latest - self.keep_us]:
                del self.found[old]


_HOUR_US = 3_600_000_000


def _status(p: int, lane: Lane, *, caught_up: bool) -> LaneStatus:
    return LaneStatus(
        lane=p,
        watermark_us=lane.intake.watermark_us if lane.intake.has_watermark else None,
        first_hour_us=lane.first_hour_us,
        offset=-1,
        caught_up=caught_up,
        rejected=dict(lane.rejected),
        duplicates=lane.duplicates,
    )
