"""Which Kafka partition a unit's events land in: the default partitioner (murmur2 of the key).

The stream keeps one watermark per input partition, so the batch report can
reproduce a stream exactly by splitting events the same way (``--partitions N``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["partition_of", "partitions_of"]


def partition_of(unit: Any, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for key ``unit`` (0 when not a string)."""
    if partitions <= 1 or not isinstance(unit, str):
        # A keyless message goes to a random partition; it can only be rejected
        # (no unit), and rejections do not depend on the partition.
        return 0
    from kafka.partitioner.default import murmur2  # the Java client's hash

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
