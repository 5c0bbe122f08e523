"""Messages between the stream's two stages, on the internal topic ``beatlight.partials``.

Stage 1 (one lane per input partition) sends the aggregator these kinds of message
(:class:`Kind`):

* ``final``: per-area runs of slots that just became final (:class:`FinalDelta`),
  sent once; the aggregator keeps them, so ticks never carry 28 days of runs;
* ``hour``: a lane's figures as of an hour boundary H, once no admissible ping
  can change them (:class:`~beatlight.streams.presence.Partial` without final runs);
* ``provisional``: the same from an idle lane, whose own watermark cannot settle
  H; replaced by a later ``hour`` or ``provisional`` figure for H;
* ``live``: the same as of "now", every few seconds, plus the lane's status;
* ``reported``: the hours a lane skipped as empty (:class:`~beatlight.streams.lane.SkippedSpan`),
  so the aggregator does not wait for its figures for them.

A tick of a lane with zones also carries the lane's zone runs as of its time
(:mod:`beatlight.streams.zone_lane`; ``"zones": true`` in the header, arrays named
``zone_*``), and every message of such a lane names its zones (``LaneStatus.zones``);
without zones a message is what it always was. Every message carries the
lane's :class:`LaneStatus`. The header is JSON and
lists the arrays (name, dtype, shape); the body is their raw bytes, one after the
other, zlib-compressed. (Earlier workers wrote an ``.npz`` archive, several times
slower to write and read; :func:`decode` still reads those.) Neither holds a
unit pseudonym: figures are per area, summed over units before they leave the lane
(zone runs number a lane's units 0, 1, … in the order it first saw them, no more).
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

import numpy as np
import orjson

from beatlight.streams.lane import SkippedSpan
from beatlight.streams.presence import FinalDelta, Partial
from beatlight.streams.runs import AreaRuns
from beatlight.streams.zones import ZoneRuns

__all__ = [
    "Kind",
    "LaneStatus",
    "Message",
    "decode",
    "encode_final",
    "encode_reported",
    "encode_tick",
]


class Kind(Enum):
    """What a message holds; the value is its ``kind`` on the wire."""

    FINAL = "final"  # final runs (a FinalDelta)
    HOUR = "hour"  # settled figures as of an hour boundary
    PROVISIONAL = "provisional"  # an idle lane's figures for an hour it cannot settle
    LIVE = "live"  # figures as of "now"
    REPORTED = "reported"  # hours skipped as empty

    @property
    def is_tick(self) -> bool:
        """A lane's figures as of some time (a Partial)."""
        return self in _TICKS


_TICKS = frozenset((Kind.HOUR, Kind.PROVISIONAL, Kind.LIVE))

_RUNS = ("area", "start", "end")
_ZONE_RUNS = tuple(f.name for f in fields(ZoneRuns))


@dataclass
class LaneStatus:
    """Where one lane stands: the aggregator needs it to know when an hour is complete."""

    lane: int
    watermark_us: int | None
    first_hour_us: int | None  # None: no event accepted yet
    offset: int  # last input offset processed (-1: none)
    caught_up: bool = False  # read to the end of its partition when this was sent
    rejected: dict[str, int] = field(default_factory=dict)  # cumulative
    duplicates: int = 0  # cumulative
    #: In a ``reported`` message only: every hour up to this one has been sent, or was
    #: empty for this lane (see :meth:`beatlight.streams.lane.Lane.take_reported`), and the
    #: hours it skipped as empty (``[first_us, last_us, outside, accepted]`` on the wire).
    reported_until_us: int | None = None
    skipped: list[SkippedSpan] = field(default_factory=list)
    #: The zones the lane counts (:attr:`~beatlight.geo.zones.Zones.digest`), whose runs
    #: its ticks carry; ``None`` (absent on the wire) for a lane without zones.
    zones: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The status as the wire's JSON header holds it."""
        value = asdict(self) | {"skipped": [_span_json(span) for span in self.skipped]}
        if self.zones is None:
            del value["zones"]  # a ward-only lane's messages are as they always were
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> LaneStatus:
        skipped = [SkippedSpan(*span) for span in value.get("skipped", ())]
        return cls(**value | {"skipped": skipped})


class Message:
    """A decoded message: ``final`` holds a delta, a tick (:attr:`Kind.is_tick`) a partial.

    A tick read off the wire keeps its bytes and decodes its partial only when asked
    (:attr:`partial`), and once: the aggregator holds hours waiting for slower lanes,
    and hours it may still revise, as these compressed bytes (:attr:`payload`), a tenth
    of their decoded size or less.
    """

    __slots__ = ("_header", "_partial", "final", "kind", "payload", "status")

    def __init__(
        self,
        kind: Kind,
        status: LaneStatus,
        final: FinalDelta | None = None,
        partial: Partial | None = None,
        *,
        payload: bytes | None = None,
        header: dict | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.final = final
        self._partial = partial
        self.payload = payload
        self._header = header

    @property
    def partial(self) -> Partial | None:
        if self._partial is None and self._header is not None and self.payload is not None:
            self._partial = _decode_partial(self._header, self.payload[_body_at(self.payload) :])
        return self._partial

    @property
    def as_of_us(self) -> int:
        """A tick's time, without decoding its partial."""
        if self._partial is None and self._header is not None:
            return int(self._header["as_of_us"])
        assert self.partial is not None, "a final delta has no as_of"
        return self.partial.as_of_us

    def __repr__(self) -> str:
        return f"Message({self.kind!r}, {self.status!r})"


def encode_final(status: LaneStatus, delta: FinalDelta) -> bytes:
    arrays = _runs("present", delta.present) | _runs("foot", delta.foot)
    header = {"kind": Kind.FINAL.value, "status": status.to_json(), "from_slot": delta.from_slot,
              "to_slot": delta.to_slot}  # fmt: skip
    return _pack(header, arrays)


def encode_reported(status: LaneStatus, until_us: int, skipped: list[SkippedSpan]) -> bytes:
    """A lane's word that it has reported every hour up to ``until_us``, and which hours
    it skipped as empty (no figures: see :class:`LaneStatus`)."""
    reported = {"reported_until_us": until_us, "skipped": [_span_json(s) for s in skipped]}
    return _pack({"kind": Kind.REPORTED.value, "status": status.to_json() | reported}, {})


def encode_tick(kind: Kind, status: LaneStatus, partial: Partial) -> bytes:
    if not kind.is_tick:
        raise ValueError(f"{kind} is not a tick")
    arrays = _runs("present", partial.present) | _runs("foot", partial.foot)
    arrays |= {
        "unit_slots": partial.unit_slots.astype(np.int32),
        "distinct_units": partial.distinct_units.astype(np.int32),
        "visits": partial.visits.astype(np.int32),
        "koper_visits": partial.koper_visits.astype(np.int32),
        "covered": np.packbits(partial.covered, axis=1),
        "ward_last_seen": partial.ward_last_seen,
    }
    arrays |= {f"stray_{i}": keys for i, keys in enumerate(partial.stray)}
    if partial.zones is not None:
        arrays |= {f"zone_{name}": np.asarray(getattr(partial.zones, name), dtype=np.int64)
                   for name in _ZONE_RUNS}  # fmt: skip
    header = {
        "kind": kind.value,
        "status": status.to_json(),
        "as_of_us": partial.as_of_us,
        "final_slot": partial.final_slot,
        "outside": partial.outside,
        "accepted": partial.accepted,
        "pairs": int(partial.covered.shape[1]),
        "windows": int(partial.covered.shape[0]),
    }
    if partial.zones is not None:
        header["zones"] = True
    return _pack(header, arrays)


def decode(payload: bytes) -> Message:
    """Bytes from ``beatlight.partials`` back into a :class:`Message` (its partial lazily)."""
    header, body_at = _header(payload)
    status = LaneStatus.from_json(header["status"])
    kind = Kind(header["kind"])
    if kind is Kind.FINAL:
        arrays = _unpack(header, payload[body_at:])
        delta = FinalDelta(header["from_slot"], header["to_slot"], _unruns("present", arrays),
                           _unruns("foot", arrays))  # fmt: skip
        return Message(kind, status, final=delta)
    return Message(kind, status, payload=payload, header=header)


def _span_json(span: SkippedSpan) -> list[int]:
    return [span.first_us, span.last_us, span.outside, span.accepted]


def _header(payload: bytes) -> tuple[dict, int]:
    """The JSON header, and where the body starts."""
    body_at = _body_at(payload)
    return orjson.loads(payload[4:body_at]), body_at


def _body_at(payload: bytes) -> int:
    """After the header's length (4 bytes) and the header."""
    return 4 + int.from_bytes(payload[:4], "big")


def _decode_partial(header: dict, body: bytes) -> Partial:
    arrays = _unpack(header, body)
    windows = header["windows"]
    covered = np.unpackbits(arrays["covered"], axis=1, count=header["pairs"]).astype(bool)
    return Partial(
        as_of_us=header["as_of_us"],
        unit_slots=arrays["unit_slots"].astype(np.int64),
        distinct_units=arrays["distinct_units"].astype(np.int64),
        visits=arrays["visits"].astype(np.int64),
        koper_visits=arrays["koper_visits"].astype(np.int64),
        present=_unruns("present", arrays),
        foot=_unruns("foot", arrays),
        covered=covered,
        stray=tuple(arrays[f"stray_{i}"] for i in range(windows)),
        ward_last_seen=arrays["ward_last_seen"],
        outside=header["outside"],
        accepted=header["accepted"],
        final_slot=header["final_slot"],
        zones=ZoneRuns(*(arrays[f"zone_{name}"] for name in _ZONE_RUNS))
        if header.get("zones")
        else None,
    )


def _runs(prefix: str, runs: AreaRuns) -> dict[str, np.ndarray]:
    return {f"{prefix}_{name}": np.asarray(column, dtype=np.int64)
            for name, column in zip(_RUNS, runs, strict=True)}  # fmt: skip


def _unruns(prefix: str, arrays: dict[str, np.ndarray]) -> AreaRuns:
    return AreaRuns(*(arrays[f"{prefix}_{name}"] for name in _RUNS))


def _pack(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    columns = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    head = orjson.dumps(header | {
        "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in columns.items()]})  # fmt: skip
    body = zlib.compress(b"".join(a.tobytes() for a in columns.values()), _LEVEL)
    return len(head).to_bytes(4, "big") + head + body


#: zlib level 1: a tenth of the time of the default for much the same size on these arrays.
_LEVEL = 1


def _unpack(header: dict, body: bytes) -> dict[str, np.ndarray]:
    if "arrays" not in header:  # an .npz archive from an earlier worker
        with np.load(io.BytesIO(body)) as archive:
            return {name: archive[name] for name in archive.files}
    data = bytearray(zlib.decompress(body))  # writable, like the arrays np.load returns
    arrays, at = {}, 0
    for name, dtype, shape in header["arrays"]:
        kind = np.dtype(dtype)
        size = kind.itemsize * math.prod(shape)
        arrays[name] = np.frombuffer(data, dtype=kind, count=size // kind.itemsize,
                                     offset=at).reshape(shape)  # fmt: skip
        at += size
    return arrays
