"""What the API's Kafka readers (materialiser, recent points) share: backoff and errors."""

from __future__ import annotations

from beatlight.errors import BeatlightError

__all__ = ["Backoff", "describe", "kafka_error"]


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
