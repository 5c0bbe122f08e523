"""Feeds as messy as real ones, from a clean simulated one (for tests of order and clocks).

:func:`real_feed` takes events in the order they were made and gives the lines in the
order a real feed delivers them: time stamps jittered, some events sent again hours after
the first copy, and devices whose clocks ran hours or days fast for a shift. The ways
an export comes out are :func:`by_time`, :func:`by_unit` and :func:`shuffled`.
:func:`alone_at_the_end` leaves one unit alone in its partition and the only one out at
the end.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from beatlight.streams.partitioning import partition_of

__all__ = ["FastClock", "alone_at_the_end", "by_time", "by_unit", "real_feed", "shuffled"]


@dataclass(frozen=True)
class FastClock:
    """``unit``'s clock ran ``ahead`` fast for the pings it made in [start, end)."""

    unit: str
    ahead: timedelta
    start: datetime
    end: datetime


def real_feed(
    events: Sequence[dict],
    *,
    seed: int,
    jitter: timedelta = timedelta(seconds=90),
    resend_share: float = 0.02,
    resend_within: timedelta = timedelta(hours=3),
    fast: Sequence[FastClock] = (),
) -> list[bytes]:
    """``events`` (dicts with ``ts`` as RFC 3339, in the order made) as delivered."""
    rng = random.Random(seed)
    delivered: list[tuple[datetime, int, bytes]] = []
    for i, event in enumerate(events):
        made = datetime.fromisoformat(event["ts"])
        stamped = made + timedelta(seconds=rng.uniform(-1, 1) * jitter.total_seconds())
        for clock in fast:
            if event["unit"] == clock.unit and clock.start <= made < clock.end:
                stamped += clock.ahead
        line = orjson.dumps(event | {"ts": _stamp(stamped)})
        delivered.append((made, i, line))
        if rng.random() < resend_share:
            again = made + timedelta(seconds=rng.uniform(60, resend_within.total_seconds()))
            delivered.append((again, i, line))
    delivered.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line in delivered]


def alone_at_the_end(
    events: Sequence[dict], partitions: int, quiet_from: datetime
) -> tuple[list[dict], str]:
    """``events`` with one unit alone in its partition and the only one out from
    ``quiet_from``: the unit whose last ping is the latest (one that went off duty early
    could settle no hour after its shift), and that unit.

    Its partition's other units are dropped, and the other partitions' pings from
    ``quiet_from`` on.
    """
    last: dict[str, datetime] = {}
    for event in events:
        ts = datetime.fromisoformat(event["ts"])
        last[event["unit"]] = max(last.get(event["unit"], ts), ts)
    solo = max(sorted(last), key=last.__getitem__)
    alone = partition_of(solo, partitions)
    kept = [e for e in events if e["unit"] == solo or (partition_of(e["unit"], partitions) != alone
            and datetime.fromisoformat(e["ts"]) < quiet_from)]  # fmt: skip
    return kept, solo


def by_time(lines: Sequence[bytes]) -> list[bytes]:
    """Sorted by the ``ts`` text (lines without one first)."""
    return sorted(lines, key=lambda line: (_field(line, "ts"), line))


def by_unit(lines: Sequence[bytes]) -> list[bytes]:
    """As many database exports come out: by unit, then time (stable: ties as delivered)."""
    return sorted(lines, key=lambda line: (_field(line, "unit"), _field(line, "ts")))


def shuffled(lines: Sequence[bytes], seed: int) -> list[bytes]:
    out = list(lines)
    random.Random(seed).shuffle(out)
    return out


def _field(line: bytes, name: str) -> str:
    try:
        value = orjson.loads(line).get(name)
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
