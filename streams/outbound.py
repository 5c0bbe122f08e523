"""What a producer may put on ``patrol.presence``: an event's SPEC fields, safely encoded.

SPEC "The presence event": fields outside the event's table never reach a topic. A
producer therefore never forwards what it was given. It reads each line with the
batch report's own reader (:func:`~beatlight.streams.events.parse_lines`, so both give the
same verdict), keeps the SPEC's fields, and writes them again as compact JSON. What
it cannot write that way it rejects, for the dead-letter queue, without its content:

* ``too_large``: a line over ``max_event_bytes`` (checked before parsing, as the
  batch report does), or an event whose SPEC fields alone are larger;
* ``malformed_json``: not a JSON object (bad or truncated JSON, ``NaN`` and
  ``Infinity``, bytes that are not UTF-8, nesting past the parser's limit).

An object that fails another check (bad coordinates, a bad timestamp, …) travels on,
re-encoded, for the worker to reject with its usual reason: those checks need the
stream's state (``too_late``, duplicates) or settings (``inaccurate``), and the
worker's reason is the one the batch report gives. A value that no check could ever
accept where it stands (an object or an array, a number JSON cannot hold, a string
longer than its field allows, a type JSON has no word for) travels as ``{}``: it
fails the same check as the value did, and carries none of what was nested in it.

Pure: no Kafka, no files, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from beatlight.streams.events import FIELDS, parse_lines

__all__ = ["Outbound", "Rejection", "encode_event", "encode_line", "spec_value"]

#: Stands in for a value no check accepts: it fails exactly the check the value failed.
_NOTHING: dict[str, Any] = {}
#: Strings longer than this can never be valid in the field: they travel as ``{}``.
#: ``ts`` has none: RFC 3339 allows a fraction of any length.
_LONGEST = {"event_id": 128, "unit": 64, "lat": 64, "lon": 64, "mode": 64, "accuracy_m": 64}
_INT_RANGE = (-(2**63), 2**64 - 1)  # what JSON's parser reads back as an integer


@dataclass(frozen=True, slots=True)
class Outbound:
    """An event ready to send: compact JSON of its SPEC fields, keyed by its unit."""

    value: bytes
    key: bytes | None
    ts: Any  # the event's ``ts`` as given (for ordering a replay)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event that cannot travel: the SPEC's reason, for the dead-letter queue."""

    reason: str


def encode_line(line: bytes, *, max_event_bytes: int) -> Outbound | Rejection | None:
    """An NDJSON line as it may travel, or why it may not; ``None`` for a blank line."""
    raw = parse_lines([line], max_event_bytes=max_event_bytes)
    if not len(raw):
        return None
    if raw.reason[0] is not None:
        return Rejection(raw.reason[0])
    return encode_event(raw.record(0), max_event_bytes=max_event_bytes)


def encode_event(event: Any, *, max_event_bytes: int) -> Outbound | Rejection:
    """An event (a mapping) as it may travel, or why it may not.

    Only the SPEC's fields are kept; each value is checked by :func:`spec_value`.
    """
    if not isinstance(event, Mapping):
        return Rejection("malformed_json")
    kept = {name: spec_value(name, event[name]) for name in FIELDS if name in event}
    try:
        value = orjson.dumps(kept)
    except orjson.JSONEncodeError:  # e.g. a date with a time zone orjson cannot write
        kept = {name: _written_or_nothing(v) for name, v in kept.items()}
        value = orjson.dumps(kept)
    if len(value) > max_event_bytes:
        return Rejection("too_large")
    unit = kept.get("unit")
    return Outbound(value, unit.encode() if type(unit) is str else None, kept.get("ts"))


def spec_value(name: str, value: Any) -> Any:
    """A SPEC field's value as it may travel: itself, or ``{}`` where none of it may."""
    kind = type(value)
    if kind is str:
        longest = _LONGEST.get(name)
        if longest is not None and len(value) > longest:
            return _NOTHING
        return value
    if value is None or kind is bool:
        return value
    if kind is float:
        return value if math.isfinite(value) else _NOTHING
    if kind is int:
        return value if _INT_RANGE[0] <= value <= _INT_RANGE[1] else _NOTHING
    if isinstance(value, datetime | date):
        return value  # written as RFC 3339 text (naive times without an offset)
    if isinstance(value, Decimal):  # from a database driver: a number, as JSON has them
        return spec_value(name, float(value))
    item = getattr(value, "item", None)  # a NumPy scalar: its Python value
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            plain = item()
        except (TypeError, ValueError):
            return _NOTHING
        if type(plain) in (str, bool, float, int):
            return spec_value(name, plain)
    if isinstance(value, str):  # a subclass: a str enum, say
        return spec_value(name, str.__str__(value))
    if isinstance(value, float):
        return spec_value(name, float(value))
    if isinstance(value, int):  # bool is handled above
        return spec_value(name, int(value))
    return _NOTHING


def _written_or_nothing(value: Any) -> Any:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _NOTHING
    return value
