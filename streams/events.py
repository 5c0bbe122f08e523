"""The presence event: its schema and vectorised validation (SPEC "The presence event").

Events arrive as raw columns (:class:`RawEvents`), one list per SPEC field, from
NDJSON, CSV, Parquet or Kafka. :func:`validate` checks every row at once and
returns the parsed columns with a rejection reason per row (``None`` = valid so
far). Fields outside the SPEC's table never get into a :class:`RawEvents`: the
readers pick the SPEC's fields and drop the rest on arrival.

Checks run in a fixed order and the first one that fails names the reason, so a
row with several faults always gets the same reason:

``too_large`` → ``malformed_json`` → ``missing_field`` → ``bad_event_id`` →
``bad_unit`` → ``bad_timestamp`` → ``bad_coordinates`` → ``bad_mode`` →
``bad_accuracy`` → ``inaccurate`` → ``future``. The watermark rule
(``too_late``) and de-duplication need state across batches and live in
:mod:`beatlight.streams.intake`; :mod:`beatlight.streams.timestamps` reads ``ts``.

Long because the schema, the raw and parsed columns and the checks between them are one
contract, the SPEC's table of fields, and read best in one place.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Any

import numpy as np
import orjson

from beatlight.streams.timestamps import timestamps_us

__all__ = [
    "CYCLE",
    "FIELDS",
    "FOOT",
    "MODES",
    "REASONS",
    "UNKNOWN",
    "VEHICLE",
    "RawEvents",
    "ValidEvents",
    "parse_lines",
    "strip_event",
    "validate",
]

#: The SPEC's fields, in the SPEC's order. Anything else is dropped on arrival.
FIELDS = ("event_id", "unit", "ts", "lat", "lon", "mode", "accuracy_m")
REQUIRED = ("event_id", "unit", "ts", "lat", "lon")
#: Mode codes, the one home of them: the index is what the presence model stores, and
#: the simulator, the points topic and the API's points name modes by it.
MODES = ("unknown", "foot", "cycle", "vehicle")
UNKNOWN, FOOT, CYCLE, VEHICLE = range(len(MODES))
_MODE_CODE = {name: code for code, name in enumerate(MODES)}

#: Every rejection reason, in the order the checks run.
REASONS = (
    "too_large",
    "malformed_json",
    "missing_field",
    "bad_event_id",
    "bad_unit",
    "bad_timestamp",
    "bad_coordinates",
    "bad_mode",
    "bad_accuracy",
    "inaccurate",
    "future",
    "too_late",
)


@dataclass
class RawEvents:
    """A batch of events as they arrived, one list per SPEC field.

    ``None`` stands for a field that was absent, JSON ``null`` or an empty CSV
    cell: the SPEC treats them alike (required → ``missing_field``, optional →
    the default).

    ``reason`` holds rejections decided before the fields could be read
    (``too_large``, ``malformed_json``); ``position`` says where each row came
    from (line number in a file, offset in a partition) for error reports.
    """

    columns: dict[str, list[Any]]
    reason: list[str | None]
    position: list[int] = field(default_factory=list)
    #: Each row's line as it stood in the file (NDJSON, when asked for): the batch report
    #: breaks ties between differing copies of one event by it (SPEC "Event time, order
    #: and lateness").
    text: list[bytes] | None = None

    def __len__(self) -> int:
        return len(self.reason)

    @classmethod
    def from_records(
        cls,
        records: Sequence[Mapping[str, Any] | None],
        reasons: Sequence[str | None] | None = None,
        positions: Sequence[int] | None = None,
    ) -> RawEvents:
        """Columns from dict-like records; ``None`` records must carry a reason."""
        columns: dict[str, list[Any]] = {}
        for name in FIELDS:
            columns[name] = [None if r is None else r.get(name) for r in records]
        reason = list(reasons) if reasons is not None else [None] * len(records)
        position = list(positions) if positions is not None else list(range(len(records)))
        return cls(columns, reason, position)

    def take(self, rows: Sequence[int]) -> RawEvents:
        """The given rows, in that order."""
        return RawEvents(
            {name: [values[i] for i in rows] for name, values in self.columns.items()},
            [self.reason[i] for i in rows],
            [self.position[i] for i in rows] if self.position else list(rows),
            None if self.text is None else [self.text[i] for i in rows],
        )

    def line(self, i: int) -> bytes:
        """Row ``i``'s text (see :meth:`lines`)."""
        return self.lines([i])[0]

    def lines(self, rows: Sequence[int]) -> list[bytes]:
        """These rows' texts: their lines, or (CSV, Parquet: no line) the SPEC fields'
        values as a JSON array, in the SPEC's order."""
        if self.text is not None:
            return [self.text[i] for i in rows]
        columns = [[values[i] for i in rows] for values in self.columns.values()]
        dumps = orjson.dumps
        return [dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) for row in zip(*columns, strict=True)]

    def record(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict of the SPEC fields that were present (for the DLQ)."""
        return {name: values[i] for name, values in self.columns.items() if values[i] is not None}


@dataclass
class ValidEvents:
    """Parsed columns of a batch; rows with ``reason[i] is not None`` are rejected."""

    event_id: np.ndarray  # object (str)
    unit: np.ndarray  # object (str)
    ts_us: np.ndarray  # int64 microseconds since the epoch, UTC
    lat: np.ndarray  # float64
    lon: np.ndarray  # float64
    mode: np.ndarray  # int8, index into MODES
    reason: np.ndarray  # object: None or a REASONS entry
    position: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.reason)

    @property
    def ok(self) -> np.ndarray:
        """Rows that passed every check so far."""
        return np.equal(self.reason, None)

    def take(self, mask: np.ndarray) -> ValidEvents:
        """The rows selected by a boolean mask or an index array."""
        return ValidEvents(
            self.event_id[mask],
            self.unit[mask],
            self.ts_us[mask],
            self.lat[mask],
            self.lon[mask],
            self.mode[mask],
            self.reason[mask],
            self.position[mask],
        )


def parse_lines(
    lines: Iterable[bytes | str],
    *,
    max_event_bytes: int,
    first_position: int = 0,
    keep_text: bool = False,
) -> RawEvents:
    """Raw NDJSON lines → :class:`RawEvents` (blank lines are skipped, not rejected).

    ``keep_text``: keep each line (without its line break) in :attr:`RawEvents.text`.
    """
    records: list[Mapping[str, Any] | None] = []
    reasons: list[str | None] = []
    positions: list[int] = []
    texts: list[bytes] = []
    loads = orjson.loads
    for number, line in enumerate(lines, start=first_position):
        data = line.encode() if isinstance(line, str) else line
        if not data.strip():
            continue
        positions.append(number)
        if keep_text:
            texts.append(data.rstrip(b"\r\n"))
        if len(data.rstrip(b"\r\n")) > max_event_bytes:
            records.append(None)
            reasons.append("too_large")
            continue
        try:
            parsed = loads(data)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            records.append(parsed)
            reasons.append(None)
        else:
            records.append(None)
            reasons.append("malformed_json")
    raw = RawEvents.from_records(records, reasons, positions)
    if keep_text:
        raw.text = texts
    return raw


def strip_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """Only the SPEC's fields of a record: identifying extras never travel on."""
    return {name: record[name] for name in FIELDS if name in record}


def validate(
    raw: RawEvents,
    *,
    now_us: int,
    max_accuracy_m: float = 100.0,
    future_seconds: int = 300,
) -> ValidEvents:
    """Check every row against the SPEC's schema; the first failing check names the reason."""
    n = len(raw)
    cols = raw.columns
    reason = np.array(raw.reason, dtype=object) if n else np.empty(0, dtype=object)

    # Type checks by map() over the columns rather than a Python loop per value.
    missing = np.zeros(n, dtype=bool)
    for name in REQUIRED:
        missing |= np.fromiter(map(operator.is_, cols[name], repeat(None)), bool, n)

    event_id = np.array(cols["event_id"], dtype=object) if n else np.empty(0, dtype=object)
    unit = np.array(cols["unit"], dtype=object) if n else np.empty(0, dtype=object)
    bad_event_id = ~_texts(cols["event_id"], 128)
    bad_unit = ~_texts(cols["unit"], 64)
    ts_us, bad_ts = timestamps_us(cols["ts"])
    lat, lat_ok = _numbers(cols["lat"])
    lon, lon_ok = _numbers(cols["lon"])
    bad_coords = ~(
        lat_ok
        & lon_ok
        & (np.abs(lat) <= 90.0)
        & (np.abs(lon) <= 180.0)
        & ~((lat == 0.0) & (lon == 0.0))
    )
    # Absent: the default (0, unknown); a string: its code or -1; anything else: -1.
    keys = [v if type(v) is str or v is None else _NOT_A_MODE for v in cols["mode"]]
    mode = np.fromiter(map(_MODE_OR_ABSENT.get, keys, repeat(-1)), np.int8, n)
    bad_mode = mode < 0
    accuracy, accuracy_ok = _numbers(cols["accuracy_m"], missing_ok=True)
    bad_accuracy = ~accuracy_ok | (accuracy < 0)
    inaccurate = accuracy > max_accuracy_m  # NaN (absent) compares False
    future = ts_us > now_us + future_seconds * 1_000_000

    # First failing check wins; rows already rejected keep their reason.
    checks = (
        ("missing_field", missing),
        ("bad_event_id", bad_event_id),
        ("bad_unit", bad_unit),
        ("bad_timestamp", bad_ts),
        ("bad_coordinates", bad_coords),
        ("bad_mode", bad_mode),
        ("bad_accuracy", bad_accuracy),
        ("inaccurate", inaccurate),
        ("future", future & ~bad_ts),
    )
    for name, failed in checks:
        hit = failed & np.equal(reason, None)
        if hit.any():
            reason[hit] = name

    mode[bad_mode] = 0
    return ValidEvents(
        event_id,
        unit,
        ts_us,
        lat,
        lon,
        mode,
        reason,
        np.asarray(raw.position if raw.position else range(n), dtype=np.int64),
    )


def _texts(values: list[Any], longest: int) -> np.ndarray:
    """Which values are strings of 1 to ``longest`` characters."""
    text = np.fromiter(map(operator.is_, map(type, values), repeat(str)), bool, len(values))
    lengths = np.fromiter(map(len, compress(values, text)), np.int64, int(text.sum()))
    text[text] = (lengths > 0) & (lengths <= longest)
    return text


def _numbers(values: list[Any], *, missing_ok: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Floats for real JSON numbers (bools and strings are not numbers); NaN elsewhere."""
    n = len(values)
    kind = np.fromiter(map(_KIND.get, map(type, values), repeat(0)), np.int8, n)
    number = kind == _NUMBER
    out = np.full(n, np.nan)
    if number.any():
        out[number] = np.array(list(compress(values, number)), dtype=np.float64)
    ok = number & np.isfinite(out)
    out[number & ~ok] = np.nan
    if missing_ok:
        ok |= kind == _ABSENT
    return out, ok


_NUMBER, _ABSENT = 1, 2
_KIND = {float: _NUMBER, int: _NUMBER, type(None): _ABSENT}
_NOT_A_MODE = object()
_MODE_OR_ABSENT: dict[Any, int] = {**_MODE_CODE, None: 0}
