"""Strategies for raw presence events: bytes, JSON of any shape, and near-valid events.

JSON is written by hand (:func:`encode`) rather than by a JSON library, so a line can
hold what real feeds send and libraries refuse to write: ``NaN`` and ``Infinity``,
integers beyond 64 bits, numbers beyond a double, duplicate keys, lone surrogate
escapes, raw non-UTF-8 bytes. Identifying fields (:data:`IDENTIFYING`) are sprinkled
in, at the top level and nested inside the SPEC's own fields, with values that appear
nowhere else, so a test can look for them in everything a lane emits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from beatlight.streams.events import FIELDS

__all__ = [
    "IDENTIFYING",
    "NOW",
    "NOW_US",
    "Obj",
    "encode",
    "good_event",
    "json_values",
    "junk_line",
    "near_valid",
    "secret_markers",
    "timestamps",
    "to_bytes",
]

#: The fuzzed lane's wall clock: 2026-11-24T06:00:00Z.
NOW = datetime(2026, 11, 24, 6, tzinfo=UTC)
NOW_US = int(NOW.timestamp()) * 1_000_000

#: Fields a feed might add that identify an officer; none may reach anything emitted.
IDENTIFYING = {
    "officer_name": "PC Zephyrine Quillfeather",
    "collar_number": "QX-80417",
    "badge_id": "BDG-55501-ZQ",
    "radio_id": "TETRA-9937-ZQ",
}


def secret_markers() -> list[bytes]:
    """Byte strings that betray an identifying field (its name or its value) in output."""
    return [text.encode() for pair in IDENTIFYING.items() for text in pair]


@dataclass(frozen=True)
class Obj:
    """A JSON object as its members in order: duplicate keys allowed."""

    members: tuple[tuple[str, object], ...]


def encode(value: object, *, ascii_only: bool = True) -> str:
    """JSON text of ``value`` (dicts, :class:`Obj`, lists, scalars), non-finite floats as
    ``NaN``/``Infinity`` tokens and integers at any size, as a careless producer writes them."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, dict):
        value = Obj(tuple(value.items()))
    if isinstance(value, Obj):
        inner = ",".join(f"{encode(k, ascii_only=ascii_only)}:{encode(v, ascii_only=ascii_only)}"
                         for k, v in value.members)  # fmt: skip
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v, ascii_only=ascii_only) for v in value) + "]"
    raise TypeError(type(value).__name__)


def to_bytes(text: str) -> bytes:
    """UTF-8, keeping lone surrogates as the (invalid) bytes a broken encoder writes."""
    return text.encode("utf-8", "surrogatepass")


# -- scalars that break things -----------------------------------------------------------

huge_numbers = st.sampled_from([
    2**63, -(2**63) - 1, 2**64 + 1, 10**30, -(10**40), 10**400, 1e308, -1e308, 5e-324,
    1.7976931348623157e308, 0.0, -0.0, 90.00000000000001, -180.0000000000001, 1e-7,
])  # fmt: skip
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
numbers = st.integers() | st.floats(allow_nan=True, allow_infinity=True) | huge_numbers | non_finite
_odd_texts = st.sampled_from([
    "", " ", "\x00", "\u202e", "\ufeff", "𝕦𝕟𝕚𝕥", "\ud800", "\udfff", "null", "NaN", "52.9",
    "-2.1", "foot", "FOOT", " foot", "vehicle\n", "true", "e1", "u-1",
])  # fmt: skip
texts = st.text(max_size=40) | st.text(st.characters(codec="utf-8"), max_size=12) | _odd_texts
long_texts = st.integers(60, 9000).map(lambda n: "ü" * (n // 2) + "x" * (n - n // 2))
scalars = st.none() | st.booleans() | numbers | texts


def _object(pairs: list[tuple[str, object]]) -> Obj:
    return Obj(tuple(pairs))


def _identifying_member() -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(sorted(IDENTIFYING.items()))


json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(st.tuples(texts | st.sampled_from(FIELDS), inner), max_size=4).map(_object)
        | st.lists(_identifying_member(), min_size=1, max_size=2).map(_object)
    ),
    max_leaves=10,
)


# -- timestamps --------------------------------------------------------------------------

_offsets = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:00", "-05:30", "+23:59",
                            "-23:59", "+24:00", "+99:99", ""])  # fmt: skip


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 text near the SPEC's edges: any year, odd offsets, leap seconds, bad dates."""
    kind = draw(st.integers(0, 3))
    if kind == 0:  # around now: mostly valid, some in the future or too late
        moment = NOW + timedelta(seconds=draw(st.integers(-3 * 86400, 3600)))
        return moment.isoformat().replace("+00:00", draw(_offsets))
    if kind == 1:  # any moment in datetime's range (its ends often), at any fixed offset
        moment = draw(st.datetimes() | st.sampled_from([datetime.min, datetime.max]))
        offset = timezone(timedelta(minutes=draw(st.integers(-1439, 1439))))
        return moment.replace(tzinfo=offset).isoformat(sep=draw(st.sampled_from("Tt ")))
    if kind == 2:  # digits in the right places, values anywhere
        year, month, day = draw(st.integers(0, 9999)), draw(st.integers(0, 99)), draw(
            st.integers(0, 99))  # fmt: skip
        hour, minute, second = (draw(st.integers(0, 99)) for _ in range(3))
        fraction = draw(st.sampled_from(["", ".5", ".1234567", "." + "9" * 30]))
        return (f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
                f"{fraction}{draw(_offsets)}")  # fmt: skip
    return draw(st.sampled_from([
        "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z", "2026-11-23T23:59:60Z",
        "2026-02-29T00:00:00Z", "2028-02-29T00:00:00Z", "2026-11-23", "2026-11-23T06:00Z",
        "２０２６-11-23T06:00:00Z", "2026-11-23T06:00:00Z\n", " 2026-11-23T06:00:00Z",
    ]))  # fmt: skip


# -- events ------------------------------------------------------------------------------

#: Points inside the synthetic wards (see :func:`geo.synthetic.synthetic_wards`).
INSIDE = (52.98, -2.15)


def good_event(i: int, seconds_before_now: int) -> dict:
    """A valid event, inside a synthetic ward, ``seconds_before_now`` (< 1 h) old."""
    ts = (NOW - timedelta(seconds=seconds_before_now)).isoformat().replace("+00:00", "Z")
    return {"event_id": f"good-{i:05d}", "unit": f"u-{i % 3}", "ts": ts,
            "lat": INSIDE[0] + (i % 7) / 1000, "lon": INSIDE[1], "mode": "foot"}  # fmt: skip


_field_values = {
    "event_id": texts | long_texts | st.integers(),
    "unit": texts | long_texts,
    "ts": timestamps(),
    "lat": numbers | texts,
    "lon": numbers | texts,
    "mode": st.sampled_from(["foot", "cycle", "vehicle", "unknown", None]) | texts,
    "accuracy_m": numbers | st.sampled_from([0, 100, 100.0, 100.5, -0.0, None]),
}


@st.composite
def near_valid(draw: st.DrawFn) -> Obj:
    """A valid event with a few fields changed, removed, repeated or added."""
    members: list[tuple[str, object]] = list({
        "event_id": f"junk-{draw(st.integers(0, 10**6))}", "unit": "u-junk",
        "ts": "2026-11-24T05:50:00Z", "lat": INSIDE[0], "lon": INSIDE[1],
    }.items())  # fmt: skip
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(FIELDS))
        how = draw(st.integers(0, 9))
        if how <= 4:  # a value of the right kind, near an edge
            value = draw(_field_values[name])
        elif how <= 6:  # any JSON at all, nested identifying fields included
            value = draw(json_values)
        elif how == 7:  # removed
            members = [(k, v) for k, v in members if k != name]
            continue
        else:  # an identifying object where a SPEC value belongs
            value = Obj(tuple(draw(st.lists(_identifying_member(), min_size=1, max_size=3))))
        if draw(st.booleans()):
            members.append((name, value))  # a duplicate key: the last one counts
        else:
            members = [(k, value if k == name else v) for k, v in members]
    extras = draw(st.lists(_identifying_member() | st.tuples(texts, json_values), max_size=3))
    members += extras
    order = draw(st.permutations(range(len(members))))
    return Obj(tuple(members[i] for i in order))


@st.composite
def junk_line(draw: st.DrawFn) -> bytes:
    """One record's bytes: a near-valid event, any JSON, any bytes, or something oversized."""
    kind = draw(st.integers(0, 9))
    if kind <= 4:
        text = encode(draw(near_valid()), ascii_only=draw(st.booleans()))
    elif kind <= 6:
        text = encode(draw(json_values), ascii_only=draw(st.booleans()))
    elif kind == 7:
        return draw(st.binary(max_size=200))
    elif kind == 8:  # an event with a huge field: too large, or just under the bound
        padding = "p" * draw(st.integers(8000, 9000))
        event = {"event_id": "junk-big", "unit": "u", "ts": "2026-11-24T05:50:00Z",
                 "lat": INSIDE[0], "lon": INSIDE[1], "notes": padding, **IDENTIFYING}  # fmt: skip
        text = encode(event)
    else:
        text = draw(st.sampled_from(["", " ", "\n", "\r\n", "{", "}", "[]", "{}", "null", '"x"',
                                     "{" * 2000 + "}" * 2000, "[" * 1100 + "]" * 1100,
                                     '{"a":' * 600 + "1" + "}" * 600]))  # fmt: skip
    return to_bytes(text)
