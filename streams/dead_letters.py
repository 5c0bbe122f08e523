"""Dead letters: what a lane sends to ``patrol.presence.dlq`` for each event it rejects.

A letter says why and where (partition, offset) and carries only the SPEC's fields, so
that the DLQ holds nothing identifying beyond what a valid event would. No Kafka.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from beatlight.streams.events import RawEvents

__all__ = ["dead_letters"]


def dead_letters(
    raw: RawEvents, reasons: np.ndarray, partition: int
) -> tuple[list[tuple[bytes | None, bytes]], dict[str, int]]:
    """``(key, value)`` letters of the rejected events, in order, and counts by reason.

    ``reasons``: one per row of ``raw``, ``None`` where the event was accepted. A letter's
    key is the event's unit, when it has one.
    """
    letters: list[tuple[bytes | None, bytes]] = []
    rejected: dict[str, int] = {}
    for i in np.flatnonzero(~np.equal(reasons, None)).tolist():
        reason = reasons[i]
        rejected[reason] = rejected.get(reason, 0) + 1
        letter: dict[str, Any] = {"reason": reason, "partition": partition,
                                  "offset": raw.position[i]}  # fmt: skip
        record = raw.record(i)
        if "event_id" in record and isinstance(record["event_id"], str):
            letter["event_id"] = record["event_id"]
        if reason not in ("malformed_json", "too_large"):
            # Only the SPEC's fields, as they came; unreadable payloads are not copied,
            # since they cannot be stripped of identifying fields. Nor are objects or
            # arrays where a SPEC value belongs: they can nest any field (an officer's
            # name), so only their kind is kept.
            letter["payload"] = {name: _flat(value) for name, value in record.items()}
        unit = record.get("unit")
        key = unit.encode() if isinstance(unit, str) else None
        letters.append((key, orjson.dumps(letter, default=str)))
    return letters, rejected


def _flat(value: Any) -> Any:
    """A SPEC field's value for a dead letter: a scalar as it came, else its JSON kind."""
    if isinstance(value, dict):
        return "<object>"
    if isinstance(value, list):
        return "<array>"
    return value
