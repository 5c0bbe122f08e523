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

:func:`send_simulation` sends a simulated feed, paced like the real thing;
:mod:`beatlight.runtime.replay` sends an events file.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

from beatlight.errors import BeatlightError
from beatlight.runtime.broker import kafka_errors
from beatlight.runtime.topics import PRESENCE, PRESENCE_DLQ
from beatlight.streams.outbound import Outbound, Rejection, encode_event, encode_line
from beatlight.times import format_time

__all__ = [
    "DEFAULT_OPTIONS",
    "DeliveryError",
    "Pacer",
    "PresenceProducer",
    "event_seconds",
    "send_simulation",
]

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
    Raises :class:`~beatlight.runtime.broker.KafkaUnreachable` when no broker answers
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


# --- simulation --------------------------------------------------------------------------


class Pacer:
    """Paces a feed at ``speed`` × real time: event time → wall-clock deadline.

    Deadlines are computed from one anchor, ``anchor`` (event time) ↔ the
    clock when the first event came, so sleeping late never accumulates into
    drift. The feed clock is the latest event time seen: late and out-of-order
    pings go out at once, as a real feed delivers them. ``speed=0``: no pacing.
    """

    def __init__(
        self,
        speed: float,
        anchor: datetime | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed < 0:
            raise BeatlightError("--speed must be 0 (as fast as possible) or positive")
        self.speed = speed
        self._anchor_ts = anchor.timestamp() if anchor else None
        self._anchor_clock: float | None = None
        self.feed_ts: float | None = None
        self._clock = clock
        self._sleep = sleep

    def wait(self, ts: float | None) -> None:
        """Sleep until the event at ``ts`` (epoch seconds; None = unknown) is due."""
        if self._anchor_clock is None:
            self._anchor_clock = self._clock()
        if ts is None or (self.feed_ts is not None and ts <= self.feed_ts):
            return
        self.feed_ts = ts
        if self._anchor_ts is None:
            self._anchor_ts = ts
        if self.speed == 0:
            return
        delay = self.due(ts) - self._clock()
        if delay > 0.001:
            self._sleep(delay)

    def due(self, ts: float) -> float:
        """The clock reading at which the event at ``ts`` is due."""
        assert self._anchor_clock is not None and self._anchor_ts is not None
        return self._anchor_clock + (ts - self._anchor_ts) / self.speed

    def behind_s(self) -> float:
        """How far sending is behind the pace (0 when on time)."""
        if self.speed == 0 or self.feed_ts is None:
            return 0.0
        return max(0.0, self._clock() - self.due(self.feed_ts))


def send_simulation(
    events: Iterable[Mapping[str, Any] | str],
    bootstrap: str | PresenceProducer,
    speed: float = 1.0,
    *,
    anchor: datetime | None = None,
    topic: str = PRESENCE,
    limit: int | None = None,
    log_every_s: float = 10.0,
    connect_timeout_s: float = 10.0,
) -> int:
    """Send simulated events (dicts, or lines for broken ones) in arrival order.

    ``speed`` paces them at that many times real time by event time (1 = live,
    60 = an hour a minute, 0 = as fast as possible); ``anchor`` is the
    simulation's start, sent first. Broken lines are dead-lettered by the producer
    (:meth:`PresenceProducer.send_line`). Logs progress every ``log_every_s`` seconds
    and returns the number of events sent (all delivered: it ends with a flush).
    """
    pacer = Pacer(speed, anchor)
    own = not isinstance(bootstrap, PresenceProducer)
    producer = (
        PresenceProducer(bootstrap, topic, connect_timeout_s=connect_timeout_s)
        if isinstance(bootstrap, str)
        else bootstrap
    )
    started = time.monotonic()
    next_log = started + log_every_s
    sent = 0
    try:
        for item in events:
            if limit is not None and sent >= limit:
                break
            if isinstance(item, str):
                producer.send_line(item)
            else:
                pacer.wait(event_seconds(item.get("ts")))
                producer.send(item)
            sent += 1
            now = time.monotonic()
            if now >= next_log:
                next_log = now + log_every_s
                _log_progress(sent, now - started, pacer)
        producer.flush()
    finally:
        if own:
            producer.close()
    _log_progress(sent, time.monotonic() - started, pacer, done=True)
    return sent


def event_seconds(ts: Any) -> float | None:
    """An event's ``ts`` as Unix seconds; None unless it is an RFC 3339 time with a zone."""
    if not isinstance(ts, str):
        return None
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _log_progress(sent: int, elapsed: float, pacer: Pacer, *, done: bool = False) -> None:
    feed = (
        format_time(datetime.fromtimestamp(pacer.feed_ts, UTC).replace(microsecond=0))
        if pacer.feed_ts is not None
        else "-"
    )
    rate = sent / elapsed if elapsed > 0 else 0.0
    log.info(
        "%s %d events in %.1f s (%.0f/s); feed time %s%s",
        "sent" if done else "sending:", sent, elapsed, rate, feed,
        f"; {pacer.behind_s():.1f} s behind the pace" if pacer.behind_s() > 1 else "",
    )  # fmt: skip
