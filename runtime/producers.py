"""Producers: how presence events get onto ``patrol.presence``.

:class:`PresenceProducer` is what a force's feed adapter uses: it sends only the
SPEC's fields of each event, written again as JSON (identifying extras never reach
a topic), keys each event by its ``unit`` (so one unit's pings stay in order on one
partition), and waits for every replica (``acks="all"``). An event it cannot send
that way goes to ``patrol.presence.dlq`` with its reason and where it came from,
never its content, and the feed goes on::

    from beatlight.runtime.producers import PresenceProducer

    with PresenceProducer("kafka:9092") as producer:
        for event in feed:                 # dicts with the SPEC's fields
            producer.send(event)
    # leaving the block flushes: every event is on the broker, or an error is raised
    print(producer.sent, dict(producer.rejected))

:func:`beatlight.runtime.paced_feed.send_simulation` sends a simulated feed, paced
like the real thing; :mod:`beatlight.runtime.replay` sends an events file.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson

from beatlight.errors import BeatlightError
from beatlight.runtime.reach import kafka_errors
from beatlight.runtime.topics import PRESENCE, PRESENCE_DLQ
from beatlight.streams.outbound import Outbound, Rejection, encode_event, encode_line

__all__ = ["DEFAULT_OPTIONS", "DeliveryError", "PresenceProducer"]

log = logging.getLogger("beatlight.producers")

#: kafka-python options; any can be overridden as keyword arguments.
DEFAULT_OPTIONS: dict[str, Any] = {
    "acks": "all",  # every in-sync replica has it: Kafka is the system of record
    "enable_idempotence": True,  # retries neither duplicate nor reorder a unit's pings
    "retries": 2**31 - 1,  # retry until delivery_timeout_ms
    "delivery_timeout_ms": 120_000,
    "linger_ms": 5,  # batch for throughput: 5 ms is invisible next to a 60 s slot
    "batch_size": 64 * 1024,
    "max_block_ms": 10_000,  # send() waits this long at most for metadata or buffer space
    "allow_auto_create_topics": False,  # a mistyped topic is an error, not a new topic
}


class DeliveryError(BeatlightError):
    """Events that Kafka did not accept."""


class PresenceProducer:
    """Sends presence events to a topic (default ``patrol.presence``).

    ``bootstrap`` is Kafka's ``host:port[,host:port]``; ``options`` are
    kafka-python ``KafkaProducer`` options overriding :data:`DEFAULT_OPTIONS`.
    Raises :class:`~beatlight.runtime.reach.KafkaUnreachable` when no broker answers
    within ``connect_timeout_s``.

    A bad event never stops a feed: one that cannot travel (see
    :mod:`beatlight.streams.outbound`: not a JSON object, over ``max_event_bytes``, or over
    the producer's ``max_request_size``) goes to ``dlq_topic`` with its reason and
    where it came from, and is counted in :attr:`rejected`. Delivery is
    asynchronous: :meth:`flush` (or leaving the ``with`` block) waits for it and
    raises :class:`DeliveryError` if Kafka refused anything, so nothing is lost
    silently.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = PRESENCE,
        *,
        dlq_topic: str = PRESENCE_DLQ,
        connect_timeout_s: float = 10.0,
        max_event_bytes: int = 8192,
        **options: Any,
    ) -> None:
        from kafka import KafkaProducer

        self.bootstrap = bootstrap
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.max_event_bytes = max_event_bytes
        #: Events sent to :attr:`topic`.
        self.sent = 0
        #: Events sent to :attr:`dlq_topic` instead, by reason.
        self.rejected: Counter[str] = Counter()
        self.sent_raw = 0  # bytes sent as given (send_raw), for tests of the worker
        self.failed = 0
        self._first_failure: BaseException | None = None
        self._events = 0  # given to send(), for the dead letters' "event"
        self._lines = 0  # given to send_line(), for their "line"
        config = {
            **DEFAULT_OPTIONS,
            "client_id": "beatlight-producer",
            "bootstrap_timeout_ms": int(connect_timeout_s * 1000),
            **options,
        }
        with kafka_errors(bootstrap):
            self._producer = KafkaProducer(bootstrap_servers=bootstrap, **config)

    def send(self, event: Mapping[str, Any]) -> bool:
        """Send one event: its SPEC fields only, keyed by its unit; ``False`` if dead-lettered.

        Invalid events are sent too, for the worker to reject with its reason (SPEC
        "The presence event"); only what cannot travel is rejected here.
        """
        self._events += 1
        return self.send_outbound(
            encode_event(event, max_event_bytes=self.max_event_bytes), event=self._events
        )

    def send_line(self, line: bytes | str) -> bool:
        """Send one NDJSON line as a feed delivered it; ``False`` for a blank line.

        The line is read as the batch report reads it
        (:func:`~beatlight.streams.events.parse_lines`): an object travels as its SPEC
        fields, keyed by its unit; anything else is dead-lettered here (``malformed_json``,
        ``too_large``) without its content.
        """
        # A str with lone surrogates becomes the invalid UTF-8 it stands for: malformed_json.
        data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
        self._lines += 1
        outcome = encode_line(data, max_event_bytes=self.max_event_bytes)
        if outcome is None:
            return False
        self.send_outbound(outcome, line=self._lines)
        return True

    def send_outbound(self, outcome: Outbound | Rejection, **where: str | int) -> bool:
        """Send an encoded event (:func:`~beatlight.streams.outbound.encode_event`), or
        dead-letter a rejection with ``where`` it came from (``file=``, ``line=``); ``False``
        if rejected."""
        if isinstance(outcome, Rejection):
            self.dead_letter(outcome.reason, **where)
            return False
        if not self._send(self.topic, outcome.value, outcome.key, oversize_ok=True):
            self.dead_letter("too_large", **where)
            return False
        self.sent += 1
        return True

    def dead_letter(self, reason: str, **where: str | int) -> None:
        """Tell ``dlq_topic`` that an event was rejected here: its reason and ``where`` it
        came from, never its content (it could not be stripped of identifying fields)."""
        letter = {"reason": reason, "source": "producer", **where}
        self._send(self.dlq_topic, orjson.dumps(letter), None)
        self.rejected[reason] += 1

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are, bypassing every check above: for tests of the worker's
        own checks only. A feed must use :meth:`send` or :meth:`send_line`."""
        self._send(self.topic, value, key)
        self.sent_raw += 1

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every event sent so far is delivered; raise if any was not."""
        from kafka.errors import KafkaTimeoutError

        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaTimeoutError:
            raise DeliveryError(
                f"events sent to {self.topic} at {self.bootstrap} were not all delivered "
                f"within {timeout_s} s: is the broker still running?"
            ) from None
        if self.failed:
            failed, self.failed = self.failed, 0
            first, self._first_failure = self._first_failure, None
            raise DeliveryError(
                f"{failed} event(s) were not delivered to {self.topic} at {self.bootstrap}: {first}"
            )

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush and disconnect."""
        try:
            self.flush(timeout_s)
        finally:
            self._producer.close(timeout=timeout_s)

    def __enter__(self) -> PresenceProducer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:  # already failing: disconnect without raising over the first error
            self._producer.close(timeout=5)

    def _send(
        self, topic: str, value: bytes, key: bytes | None, *, oversize_ok: bool = False
    ) -> bool:
        """Hand a record to the client; ``False`` if it is larger than the client may send
        (``max_request_size``) and ``oversize_ok``."""
        from kafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError

        try:
            future = self._producer.send(topic, value=value, key=key)
        except KafkaTimeoutError as error:
            raise DeliveryError(
                f"cannot send to {topic} at {self.bootstrap} ({error}): does the topic "
                "exist? (beatlight broker creates it; in production, kafka-init)"
            ) from None
        except MessageSizeTooLargeError as error:
            if oversize_ok:
                return False
            raise DeliveryError(f"cannot send to {topic} at {self.bootstrap}: {error}") from None
        except KafkaError as error:  # refused before sending
            raise DeliveryError(f"cannot send to {topic} at {self.bootstrap}: {error}") from None
        future.add_errback(self._failure)
        return True

    def _failure(self, error: BaseException) -> None:
        self.failed += 1
        if self._first_failure is None:
            self._first_failure = error
