"""Checkpoints of a lane's state, so a restarted worker resumes instead of re-reading Kafka.

A checkpoint is the lane's whole state at an input offset: a JSON header (ids,
counters, pseudonym table) and NumPy arrays (runs, buffer, cells), zlib-compressed.
No pickle: a checkpoint comes back from a Kafka changelog, which is not a place to
load code from. It records a digest of the geography it was taken with and is
ignored (the lane is rebuilt from the topic) when the boundaries have changed.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from beatlight.geo.areas import Areas
from beatlight.geo.geography import Geography
from beatlight.streams.intake import Intake
from beatlight.streams.lane import Lane, LaneConfig

__all__ = [
    "FORMAT",
    "checkpoint_records",
    "dump_lane",
    "geography_digest",
    "latest_checkpoint",
    "load_lane",
]

_CHUNK = 512 * 1024

FORMAT = 2
_BUFFER_NUMERIC = ("unit", "ts", "ward", "mode", "cell", "final")


def geography_digest(areas: Areas) -> str:
    """What a checkpoint's figures depend on: area codes, membership and cells.

    Worked out once per geography: England's ~14 million area cells take about 0.4 s
    to hash, and every lane's checkpoint needs the digest.
    """
    return areas.derived("checkpoint.digest", _digest)


def _digest(areas: Areas) -> str:
    digest = hashlib.sha256()
    digest.update(orjson.dumps(list(areas.code)))
    digest.update(areas.ward_areas.tobytes())
    digest.update(areas.area_cell_keys.tobytes())
    return digest.hexdigest()


def dump_lane(lane: Lane, next_offset: int) -> bytes:
    """The lane's state at ``next_offset`` (the first record it has not processed).

    Hand out its unsent final runs first (:meth:`Lane.take_final`): they are not kept.
    """
    if lane._unsent:
        raise ValueError("send the lane's final runs (take_final) before checkpointing it")
    presence = lane.presence
    buffer = presence._sorted_buffer()
    present = presence._present.runs()
    foot = presence._foot.runs()
    header = {
        "format": FORMAT,
        "geography": geography_digest(presence.areas),
        "next_offset": next_offset,
        "intake": lane.intake.state(),
        "lane": {
            "rejected": dict(lane.rejected),
            "duplicates": lane.duplicates,
            "max_accepted_us": lane.max_accepted_us,
            "first_hour_us": lane.first_hour_us,
            "next_hour_us": lane._next_hour_us,
            "version": lane._version,
            "provisional_until": lane._provisional_until,
            "provisional_version": lane._provisional_version,
            "sent_slot": lane.sent_slot,
            "data_hours": lane.data_hours,
            "reported_until_us": lane.reported_until_us,
        },
        "presence": {
            "units": presence._units,
            "final_slot": presence._final_slot,
            "expired_slot": presence._expired_slot,
            "outside": presence._outside,
            "accepted": presence._accepted,
            "stray": [[int(k), int(v)] for k, v in presence._stray_cells.items()],
            "buffer_eid": buffer["eid"].tolist(),
        },
    }
    arrays = {f"buffer_{k}": buffer[k] for k in _BUFFER_NUMERIC}
    arrays |= {f"present_{i}": column for i, column in enumerate(present)}
    arrays |= {f"foot_{i}": column for i, column in enumerate(foot)}
    arrays |= {"cell_latest": presence._cell_latest, "ward_last": presence._ward_last}
    head = orjson.dumps(header)
    body = io.BytesIO()
    np.savez(body, **arrays)
    return zlib.compress(len(head).to_bytes(4, "big") + head + body.getvalue(), 3)


def load_lane(blob: bytes, geography: Geography, config: LaneConfig) -> tuple[Lane, int] | None:
    """A lane and its next offset from :func:`dump_lane`; ``None`` if it does not fit."""
    try:
        data = zlib.decompress(blob)
        size = int.from_bytes(data[:4], "big")
        header = orjson.loads(data[4 : 4 + size])
        if header.get("format") != FORMAT:
            return None
        if header["geography"] != geography_digest(geography.areas):
            return None
        with np.load(io.BytesIO(data[4 + size :]), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zlib.error, ValueError, KeyError, orjson.JSONDecodeError, OSError):
        return None

    lane = Lane(geography, config, hourly=True)
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
        # A checkpoint from before lanes skipped empty hours: owe every hour up to the
        # latest ping's reach, as that worker would have.
        hour = 3_600_000_000
        lane.data_hours = list(range((lane._next_hour_us - lane._reach_us) // hour - 1,
                                     lane.max_accepted_us // hour + 1))  # fmt: skip

    presence = lane.presence
    meta = header["presence"]
    presence._units = dict(meta["units"])
    presence._final_slot = meta["final_slot"]
    presence._expired_slot = meta["expired_slot"]
    presence._outside = meta["outside"]
    presence._accepted = meta["accepted"]
    presence._stray_cells = {k: v for k, v in meta["stray"]}
    buffer = {k: arrays[f"buffer_{k}"] for k in _BUFFER_NUMERIC}
    buffer["eid"] = np.array(meta["buffer_eid"], dtype=object)
    presence._buffer = buffer
    presence._chunks = []
    presence._present.replace(tuple(arrays[f"present_{i}"] for i in range(4)))
    presence._foot.replace(tuple(arrays[f"foot_{i}"] for i in range(3)))
    presence._cell_latest = arrays["cell_latest"]
    presence._ward_last = arrays["ward_last"]
    return lane, header["next_offset"]


def checkpoint_records(
    partition: int, blob: bytes, generation: int
) -> list[tuple[int, bytes, bytes]]:
    """``(partition, key, value)`` records for ``beatlight.checkpoints``: chunks, then a manifest.

    Chunks alternate between two generations, so a crash while writing one leaves
    the previous checkpoint whole; the manifest, written last, names the one to read.
    """
    generation %= 2
    chunks = [blob[i : i + _CHUNK] for i in range(0, len(blob), _CHUNK)] or [b""]
    records = [(partition, f"lane-{partition}/{generation}/{i}".encode(), chunk)
               for i, chunk in enumerate(chunks)]  # fmt: skip
    manifest = {"generation": generation, "chunks": len(chunks),
                "sha256": hashlib.sha256(blob).hexdigest()}  # fmt: skip
    records.append((partition, f"lane-{partition}".encode(), orjson.dumps(manifest)))
    return records


def latest_checkpoint(records: Iterable[Any], partition: int) -> bytes | None:
    """The newest whole checkpoint among a partition's records (last record per key wins)."""
    latest: dict[bytes, bytes] = {}
    for record in records:
        if record.key is not None:
            latest[record.key] = record.value
    manifest = latest.get(f"lane-{partition}".encode())
    if not manifest:
        return None
    meta = orjson.loads(manifest)
    parts = [latest.get(f"lane-{partition}/{meta['generation']}/{i}".encode())
             for i in range(meta["chunks"])]  # fmt: skip
    if any(part is None for part in parts):
        return None
    blob = b"".join(parts)  # type: ignore[arg-type]
    return blob if hashlib.sha256(blob).hexdigest() == meta["sha256"] else None
