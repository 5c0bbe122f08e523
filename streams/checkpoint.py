"""Checkpoints of a lane's state, so a restarted worker resumes instead of re-reading Kafka.

A checkpoint is the lane's whole state at an input offset (:meth:`Lane.state`): a
JSON header (ids, counters, pseudonym table) and NumPy arrays (runs, buffer, cells),
framed here with the format, the geography and the offset, and zlib-compressed.
No pickle: a checkpoint comes back from a Kafka changelog, which is not a place to
load code from. It records a digest of the geography it was taken with and is
ignored (the lane is rebuilt from the topic) when the boundaries have changed, and
likewise when the zones have (``zone_digest``; a lane with zones keeps its
:class:`~beatlight.streams.zone_lane.ZoneLane`'s state beside the presence's, under
``zones`` and arrays named ``zone_*``). A ward-only checkpoint is as it was, so
:data:`FORMAT` stays: a worker without zones resumes from either kind it wrote.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from beatlight.geo.areas import Areas
from beatlight.geo.geography import Geography
from beatlight.streams.lane import Lane, LaneConfig
from beatlight.streams.zone_lane import ZoneLane

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
    state, arrays = lane.state()
    header = {
        "format": FORMAT,
        "geography": geography_digest(lane.presence.areas),
        "next_offset": next_offset,
    } | state
    if lane.zones is not None:
        header["zone_digest"] = lane.zones.zones.digest
    head = orjson.dumps(header)
    body = io.BytesIO()
    np.savez(body, **arrays)
    return zlib.compress(len(head).to_bytes(4, "big") + head + body.getvalue(), 3)


def load_lane(
    blob: bytes, geography: Geography, config: LaneConfig, zones: ZoneLane | None = None
) -> tuple[Lane, int] | None:
    """A lane and its next offset from :func:`dump_lane`; ``None`` if it does not fit.

    ``zones``: the worker's empty zone lane. A checkpoint fits only with the zones it was
    taken with, or none both (a ward-only checkpoint has no zone state to resume)."""
    try:
        data = zlib.decompress(blob)
        size = int.from_bytes(data[:4], "big")
        header = orjson.loads(data[4 : 4 + size])
        if header.get("format") != FORMAT:
            return None
        if header["geography"] != geography_digest(geography.areas):
            return None
        if header.get("zone_digest") != (None if zones is None else zones.zones.digest):
            return None
        with np.load(io.BytesIO(data[4 + size :]), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zlib.error, ValueError, KeyError, orjson.JSONDecodeError, OSError):
        return None
    return Lane.from_state(geography, config, header, arrays, zones), header["next_offset"]


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
