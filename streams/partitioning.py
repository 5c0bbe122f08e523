"""Which Kafka partition a unit's events land in: the default partitioner (murmur2 of the key).

The stream keeps one watermark per input partition, so the batch report can
reproduce a stream exactly by splitting events the same way (``--partitions N``).
The hash is written out here, not imported from a Kafka client: the stream model
imports none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["murmur2", "partition_of", "partitions_of"]

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 of ``data`` as Kafka's default partitioner computes it (unsigned 32 bits).

    The Java client's ``Utils.murmur2``: 32-bit arithmetic, seed ``0x9747b28c``, the
    bytes taken four at a time little-endian, then the 1 to 3 left over.
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length - whole
    if extra == 3:
        h ^= data[whole + 2] << 16
    if extra >= 2:
        h ^= data[whole + 1] << 8
    if extra >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(unit: Any, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for key ``unit`` (0 when not a string)."""
    if partitions <= 1 or not isinstance(unit, str):
        # A keyless message goes to a random partition; it can only be rejected
        # (no unit), and rejections do not depend on the partition.
        return 0
    return (murmur2(unit.encode()) & 0x7FFFFFFF) % partitions


def partitions_of(units: Sequence[Any], partitions: int) -> np.ndarray:
    """:func:`partition_of` for many units, hashing each distinct unit once."""
    cache: dict[Any, int] = {}
    out = np.zeros(len(units), dtype=np.int64)
    if partitions <= 1:
        return out
    for i, unit in enumerate(units):
        key = unit if isinstance(unit, str) else None
        if key not in cache:
            cache[key] = partition_of(key, partitions)
        out[i] = cache[key]
    return out
