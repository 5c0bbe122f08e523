"""Riding out a Kafka outage: backoff between tries, and one log line per outage.

Shared by the readers that keep going while Kafka is away (the API's materialiser
and recent points, through :class:`~beatlight.runtime.reader.TopicReader`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from beatlight.errors import BeatlightError

__all__ = ["OUTAGE_S", "Backoff", "ConnectionWatch", "describe", "kafka_error"]

#: Disconnected this long counts as an outage, not a blip.
OUTAGE_S = 3.0


class Backoff:
    """Exponential backoff: ``first``, doubling up to ``most`` seconds."""

    def __init__(self, first: float, most: float) -> None:
        self.first, self.most = first, most
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.most)
        return delay

    def reset(self) -> None:
        self._next = self.first


def kafka_error() -> type[BaseException]:
    """kafka-python's base error (imported late: the API runs without Kafka too)."""
    from kafka.errors import KafkaError

    return KafkaError


def describe(error: BaseException, bootstrap: str) -> str:
    """One line for the log: our own errors as they are, Kafka's with the broker."""
    if isinstance(error, BeatlightError):
        return str(error)
    return f"Kafka at {bootstrap}: {type(error).__name__}: {error}"


class ConnectionWatch:
    """Whether the leaders of some partitions answer, reported once per outage.

    kafka-python reconnects by itself with exponential backoff; polling simply
    returns nothing meanwhile. :meth:`update` says ``"lost"`` once the leaders have
    not answered for :data:`OUTAGE_S`, ``"back"`` once they answer again, and
    ``None`` otherwise, so a reader logs one line for each.
    """

    def __init__(self) -> None:
        self.lost = False
        self._since: float | None = None

    def update(self, consumer: Any, partitions: Iterable[Any]) -> str | None:
        client = consumer._client  # connection state is only on kafka-python's client
        leaders = {client.cluster.leader_for_partition(tp) for tp in partitions}
        if all(node not in (None, -1) and client.connected(node) for node in leaders):
            self._since = None
            if self.lost:
                self.lost = False
                return "back"
            return None
        now = time.monotonic()
        if self._since is None:
            self._since = now
        elif now - self._since > OUTAGE_S and not self.lost:
            self.lost = True
            return "lost"
        return None
