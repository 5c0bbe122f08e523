"""RFC 3339 times as Beatlight writes and reads them: UTC, a ``Z``, microseconds only when
there are some (``2026-11-23T12:00:00Z``, ``2026-11-23T12:00:00.250000Z``).

Every document, topic record and API response writes times through this module, so
they match byte for byte. Times inside the stream are microseconds since the epoch
(``int`` or an ``int64`` array, with :data:`NO_TIME` for "never"); elsewhere, aware
datetimes. The standard library and NumPy only.

``isoformat`` and ``numpy.datetime_as_string``, never ``strftime``: glibc's ``%Y``
writes the year 999 as ``999``, not ``0999``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = [
    "EPOCH",
    "NO_TIME",
    "format_time",
    "format_us",
    "format_us_array",
    "parse_time",
    "parse_us",
    "to_us",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The "no time" marker in arrays of microseconds (e.g. a ward nobody has been seen in).
NO_TIME = np.iinfo(np.int64).min


def format_us(us: int) -> str:
    """The moment ``us`` microseconds after the epoch, in RFC 3339."""
    return (EPOCH + timedelta(microseconds=int(us))).replace(tzinfo=None).isoformat() + "Z"


def format_us_array(us: np.ndarray) -> list[str | None]:
    """:func:`format_us` of each entry, ``None`` for :data:`NO_TIME`; one NumPy call per
    precision rather than a Python call per entry."""
    us = np.asarray(us, dtype=np.int64)
    known = us != NO_TIME
    moments = us[known].astype("datetime64[us]")
    text = np.datetime_as_string(moments, unit="s", timezone="UTC").astype(object)
    fraction = moments.astype(np.int64) % 1_000_000 != 0
    if fraction.any():
        text[fraction] = np.datetime_as_string(moments[fraction], unit="us", timezone="UTC")
    out = np.full(len(us), None, dtype=object)
    out[known] = text
    return out.tolist()


def format_time(moment: datetime) -> str:
    """An aware datetime in RFC 3339 (converted to UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with an offset (``Z`` or ``±hh:mm``), as an aware UTC datetime.

    Raises :class:`ValueError` for text that is not one, or that has no offset."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment.astimezone(UTC)


def parse_us(text: str) -> int:
    """An RFC 3339 time with an offset, as microseconds since the epoch."""
    return to_us(parse_time(text))


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact: no float on the way)."""
    return (moment - EPOCH) // timedelta(microseconds=1)
