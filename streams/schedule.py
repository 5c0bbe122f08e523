"""Zone schedules (SPEC Z3): ``Fri,Sat 20:00-02:00`` parsed, and its sessions in UTC.

Pure: the standard library's ``zoneinfo`` and nothing else; no clock. Times are
``int`` microseconds since the Unix epoch, UTC, as everywhere in ``streams/``.

Syntax, decided where the SPEC is silent:

* Parts are joined by ``;``. A part is days, a space, then ``HH:MM-HH:MM``.
* Days are ``Mon`` … ``Sun`` (any case), joined by ``,``; a range ``Mon-Fri``
  takes every day from the first to the last, and may wrap round the week
  (``Sat-Mon`` = Sat, Sun, Mon). A range from a day to itself, and a day named
  twice in one part, are refused as ambiguous.
* ``00:00`` to ``23:59``; ``24:00`` only as an end (midnight at the end of the
  day). An end at or before the start means the next day: the session crosses
  midnight and belongs to the day it starts. Start equal to end is refused
  (``00:00-24:00`` is a whole day).
* Sessions of different parts may meet but not overlap (a moment lies in at
  most one session of a zone, so a visit's first slot names one session).

Local times become UTC by one rule: **a local time is the first instant at which
the local clock shows that time or later**. A time that occurs twice (the hour
the clocks go back) is its first occurrence (PEP 495's ``fold=0``); a time that
does not occur (the hour the clocks go forward) is the instant the clocks jump
(02:00 BST for 01:30 in Europe/London). The rule is monotone, so a session never
ends before it starts; a session whose whole local interval falls in a skipped
hour is empty in UTC and left out.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from beatlight.errors import BeatlightError

__all__ = ["DAYS", "Schedule", "ScheduleError", "Session", "parse_schedule", "to_utc_us"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_INDEX = {name.lower(): i for i, name in enumerate(DAYS)}
_EPOCH = datetime(1970, 1, 1)
_US = 1_000_000
_WEEK_MINUTES = 7 * 24 * 60
_PART = re.compile(r"(?P<days>\S(?:.*\S)?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


class ScheduleError(BeatlightError, ValueError):
    """A schedule string that does not follow the syntax; the message says how to fix it."""


@dataclass(frozen=True, order=True)
class Session:
    """One scheduled interval [start_us, end_us) in UTC; ``day`` is the local day it starts."""

    start_us: int
    end_us: int
    day: date
    part: int  # index of the schedule part that made it


@dataclass(frozen=True)
class _Part:
    days: frozenset[int]  # 0 = Monday
    start_minute: int  # minutes after local midnight, 0..1439
    minutes: int  # length in local clock minutes, 1..1440
    text: str


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: weekly sessions in local time (see the module docstring)."""

    parts: tuple[_Part, ...]
    text: str

    def sessions(self, start_us: int, end_us: int, zone: tzinfo) -> list[Session]:
        """The sessions that overlap [start_us, end_us), in UTC, sorted by start.

        Sessions are whole (not cut to the range); an empty range has none.
        """
        if end_us <= start_us:
            return []
        # A session starts at most a day (plus an offset change) before it ends, so the
        # local days from two before the range to one after it hold every candidate.
        first = _local_date(start_us, zone) - timedelta(days=2)
        last = _local_date(end_us, zone) + timedelta(days=1)
        found = []
        day = first
        while day <= last:
            found += [s for s in _day_sessions(self.parts, day, zone)
                      if s.start_us < end_us and s.end_us > start_us]  # fmt: skip
            day += timedelta(days=1)
        return sorted(found)


@functools.lru_cache(maxsize=65_536)
def _day_sessions(parts: tuple[_Part, ...], day: date, zone: tzinfo) -> tuple[Session, ...]:
    """The non-empty sessions of ``parts`` that start on the local ``day``, in UTC.

    Cached: every snapshot with zones lists four weeks of each zone's sessions, and
    zones share schedules; converting local times to UTC was most of that work.
    """
    found = []
    for number, part in enumerate(parts):
        if day.weekday() not in part.days:
            continue
        local_start = datetime.combine(day, time()) + timedelta(minutes=part.start_minute)
        local_end = local_start + timedelta(minutes=part.minutes)
        begin, end = to_utc_us(local_start, zone), to_utc_us(local_end, zone)
        if begin < end:
            found.append(Session(begin, end, day, number))
    return tuple(found)


def parse_schedule(text: str) -> Schedule:
    """Parse ``Fri,Sat 20:00-02:00; Mon-Fri 08:00-09:00``, or raise :class:`ScheduleError`."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(
            "the schedule is empty: write days and times, e.g. 'Fri,Sat 20:00-02:00'"
        )
    parts = tuple(_parse_part(piece.strip()) for piece in text.split(";"))
    _check_no_overlap(parts)
    return Schedule(parts=parts, text=text.strip())


def to_utc_us(local: datetime, zone: tzinfo) -> int:
    """The first instant (UTC microseconds) at which the clock in ``zone`` shows ``local`` or later.

    ``local`` is naive. Ambiguous: the first occurrence; nonexistent: the instant
    the clocks jump past it.
    """
    naive = local.replace(tzinfo=None)
    candidates = sorted(
        _us(naive.replace(fold=fold, tzinfo=zone).astimezone(UTC)) for fold in (0, 1)
    )
    for candidate in candidates:
        if _local(candidate, zone) == naive:
            return candidate
    # In a gap: the clock jumps from before ``naive`` to after it between the two
    # candidates; find the jump (whole microseconds) by bisection.
    low, high = candidates  # local(low) < naive < local(high)
    while high - low > 1:
        middle = (low + high) // 2
        if _local(middle, zone) >= naive:
            high = middle
        else:
            low = middle
    return high


def _parse_part(piece: str) -> _Part:
    """One ``DAYS HH:MM-HH:MM`` part."""
    match = _PART.fullmatch(piece)
    if match is None:
        raise ScheduleError(
            f"cannot read {piece!r}: write days then a time range, "
            "e.g. 'Fri,Sat 20:00-02:00' or 'Mon-Fri 08:00-10:00'"
        )
    days = _parse_days(match["days"], piece)
    start = _parse_time(match["start"], piece, end=False)
    end = _parse_time(match["end"], piece, end=True)
    if start == end:
        raise ScheduleError(
            f"{piece!r} starts and ends at the same time: for a whole day write 00:00-24:00"
        )
    minutes = end - start if end > start else end + 1440 - start
    return _Part(days=days, start_minute=start, minutes=minutes, text=piece)


def _parse_days(text: str, piece: str) -> frozenset[int]:
    """``Fri,Sat`` or ``Mon-Fri`` (wrapping round the week allowed) as weekday numbers."""
    days: list[int] = []
    for item in (item.strip() for item in text.split(",")):
        ends = [end.strip() for end in item.split("-")]
        if len(ends) > 2 or not all(ends):
            raise ScheduleError(f"cannot read the days {item!r} in {piece!r}: {_DAY_HINT}")
        first, last = (_day(end, piece) for end in (ends[0], ends[-1]))
        if len(ends) == 2 and first == last:
            raise ScheduleError(
                f"the day range {item!r} in {piece!r} starts and ends on the same day: "
                f"write {DAYS[first]} alone, or Mon-Sun for every day"
            )
        days.extend((first + step) % 7 for step in range((last - first) % 7 + 1))
    repeated = sorted({d for d in days if days.count(d) > 1})
    if repeated:
        names = ", ".join(DAYS[d] for d in repeated)
        raise ScheduleError(f"{piece!r} names {names} more than once: name each day once")
    return frozenset(days)


_DAY_HINT = "use Mon, Tue, Wed, Thu, Fri, Sat, Sun, joined by ',' or as a range like Mon-Fri"


def _day(name: str, piece: str) -> int:
    index = _DAY_INDEX.get(name.lower())
    if index is None:
        raise ScheduleError(f"{name!r} in {piece!r} is not a day: {_DAY_HINT}")
    return index


def _parse_time(text: str, piece: str, *, end: bool) -> int:
    """``HH:MM`` as minutes after midnight; ``24:00`` only as an end."""
    match = _TIME.fullmatch(text)
    hours, minutes = (int(match[1]), int(match[2])) if match else (99, 99)
    if end and (hours, minutes) == (24, 0):
        return 1440
    if hours > 23 or minutes > 59:
        allowed = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise ScheduleError(f"{text!r} in {piece!r} is not a time of day: use HH:MM, {allowed}")
    return hours * 60 + minutes


def _check_no_overlap(parts: tuple[_Part, ...]) -> None:
    """Refuse two sessions that overlap in local time (they would overlap in UTC too)."""
    spans = sorted(
        (day * 1440 + part.start_minute, part.minutes, part.text, day)
        for part in parts
        for day in part.days
    )
    for i, (start, minutes, text, day) in enumerate(spans):
        # The next session round the week, the first one again after the last.
        other_start, _, other_text, other_day = spans[(i + 1) % len(spans)]
        if len(spans) > 1 and (other_start - start) % _WEEK_MINUTES < minutes:
            raise ScheduleError(
                f"the {DAYS[day]} session of {text!r} overlaps the {DAYS[other_day]} session "
                f"of {other_text!r}: sessions may meet but not overlap; join or shorten them"
            )


def _local(us: int, zone: tzinfo) -> datetime:
    """The naive local clock reading at a UTC instant."""
    return (
        (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us))
        .astimezone(zone)
        .replace(tzinfo=None)
    )


def _local_date(us: int, zone: tzinfo) -> date:
    return _local(us, zone).date()


def _us(moment: datetime) -> int:
    return (moment.replace(tzinfo=None) - _EPOCH) // timedelta(microseconds=1)
