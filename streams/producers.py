"""Producers: how presence events get onto ``patrol.presence``.

:class:`PresenceProducer` is what a force's feed adapter uses: it keeps only
the SPEC's fields of each event (identifying extras never reach a topic), keys
each event by its ``unit`` (so one unit's pings stay in order on one
partition), and waits for every replica (``acks="all"``)::

    from streams.producers import PresenceProducer

    with PresenceProducer("kafka:9092") as producer:
        for event in feed:                 # dicts with the SPEC's fields
            producer.send(event)
    # leaving the block flushes: every event is on the broker, or an error is raised

:func:`replay_file` sends an events file (NDJSON, CSV or Parquet) and
:func:`send_simulation` a simulated feed, paced like the real thing.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from beatlight.errors import BeatlightError
from streams.broker import kafka_errors
from streams.events import strip_event
from streams.topics import PRESENCE

__all__ = [
    "DEFAULT_OPTIONS",
    "DeliveryError",
    "Pacer",
    "PresenceProducer",
    "ReplayStats",
    "event_seconds",
    "replay_file",
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
_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class DeliveryError(BeatlightError):
    """Events that Kafka did not accept."""


class PresenceProducer:
    """Sends presence events to a topic (default ``patrol.presence``).

    ``bootstrap`` is Kafka's ``host:port[,host:port]``; ``options`` are
    kafka-python ``KafkaProducer`` options overriding :data:`DEFAULT_OPTIONS`.
    Raises :class:`~streams.broker.KafkaUnreachable` when no broker answers
    within ``connect_timeout_s``. Delivery is asynchronous: :meth:`flush` (or
    leaving the ``with`` block) waits for it and raises :class:`DeliveryError`
    if any event was not delivered, so nothing is lost silently.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = PRESENCE,
        *,
        connect_timeout_s: float = 10.0,
        max_event_bytes: int = 8192,
        **options: Any,
    ) -> None:
        from kafka import KafkaProducer

        self.bootstrap = bootstrap
        self.topic = topic
        self.max_event_bytes = max_event_bytes
        self.sent = 0
        self.sent_raw = 0  # of which not JSON objects, sent as received
        self.failed = 0
        self._first_failure: BaseException | None = None
        config = {
            **DEFAULT_OPTIONS,
            "client_id": "beatlight-producer",
            "bootstrap_timeout_ms": int(connect_timeout_s * 1000),
            **options,
        }
        with kafka_errors(bootstrap):
            self._producer = KafkaProducer(bootstrap_servers=bootstrap, **config)

    def send(self, event: Mapping[str, Any]) -> None:
        """Send one event: its SPEC fields only, keyed by its unit.

        Invalid events are sent too (the worker rejects them with a reason, SPEC
        "The presence event"); only values JSON cannot hold are refused here.
        """
        stripped = strip_event(event)
        try:
            value = orjson.dumps(stripped, option=_DUMPS_OPTIONS)
        except orjson.JSONEncodeError as error:
            raise BeatlightError(f"event {stripped.get('event_id')!r}: {error}") from None
        self._send(value, _key(stripped))

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are: for lines that are not JSON objects, and for tests.

        The worker rejects them (``malformed_json``) into the DLQ; nothing is lost.
        """
        self._send(value, key)
        self.sent_raw += 1

    def send_line(self, line: bytes | str) -> bool:
        """Send one NDJSON line as a feed delivered it; ``False`` for a blank line.

        A JSON object is stripped to the SPEC's fields and keyed by its unit. A
        line that is not one is sent as received, unkeyed, so the worker rejects
        it as ``malformed_json``, as the batch report does.
        """
        data = line.encode() if isinstance(line, str) else line
        data = data.rstrip(b"\r\n")
        if not data.strip():
            return False
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            self.send_raw(data, None)
            return True
        stripped = strip_event(parsed)
        value = orjson.dumps(stripped, option=_DUMPS_OPTIONS)
        if len(data) > self.max_event_bytes >= len(value):
            # Too large as received: padding keeps the size the worker checks (too_large,
            # as in the batch report) without letting the dropped fields travel.
            value = value.ljust(len(data), b" ")
        self._send(value, _key(stripped))
        return True

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

    def _send(self, value: bytes, key: bytes | None) -> None:
        from kafka.errors import KafkaError, KafkaTimeoutError

        try:
            future = self._producer.send(self.topic, value=value, key=key)
        except KafkaTimeoutError as error:
            raise DeliveryError(
                f"cannot send to {self.topic} at {self.bootstrap} ({error}): does the topic "
                "exist? (beatlight broker creates it; in production, kafka-init)"
            ) from None
        except KafkaError as error:  # refused before sending, e.g. larger than max_request_size
            raise DeliveryError(
                f"cannot send to {self.topic} at {self.bootstrap}: {error}"
            ) from None
        future.add_errback(self._failure)
        self.sent += 1

    def _failure(self, error: BaseException) -> None:
        self.failed += 1
        if self._first_failure is None:
            self._first_failure = error


def _key(event: Mapping[str, Any]) -> bytes | None:
    unit = event.get("unit")
    return unit.encode() if isinstance(unit, str) else None


# --- replay ------------------------------------------------------------------------------


@dataclass
class ReplayStats:
    """What a replay sent."""

    events: int = 0
    unreadable: int = 0  # of which sent as received (not JSON objects, bad CSV rows)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def replay_file(
    path: str | Path,
    producer: PresenceProducer,
    *,
    progress: Callable[[int], None] | None = None,
) -> ReplayStats:
    """Send every event of an events file in file order; ``progress(bytes_read)``.

    NDJSON lines go through :meth:`PresenceProducer.send_line` (unreadable lines
    travel as received). CSV and Parquet rows are read by
    :mod:`streams.files`; a CSV row that does not fit the header is sent as a
    short non-JSON note so the worker counts it as ``malformed_json``, as the
    batch report does. Ends with a flush.
    """
    from streams.files import open_events

    source = open_events(path, max_event_bytes=producer.max_event_bytes)
    stats = ReplayStats()
    started = time.perf_counter()
    raw_before = producer.sent_raw
    if source.format == "ndjson":
        send_line = producer.send_line
        for block, done in _ndjson_blocks(source.path):
            stats.events += sum(send_line(line) for line in block)
            if progress:
                progress(done)
    else:
        for raw, done in source.chunks():
            for i in range(len(raw)):
                if raw.reason[i] is not None:
                    note = f"unreadable {source.format} row at line {raw.position[i]}"
                    producer.send_raw(note.encode())
                else:
                    producer.send(raw.record(i))
                stats.events += 1
            if progress:
                progress(done)
    producer.flush()
    if progress:
        progress(source.size_bytes)
    stats.unreadable = producer.sent_raw - raw_before
    stats.seconds = time.perf_counter() - started
    return stats


def _ndjson_blocks(path: Path, rows: int = 10_000) -> Iterator[tuple[list[bytes], int]]:
    """Blocks of lines of a (gzipped) NDJSON file, each with the file bytes read so far."""
    with path.open("rb") as raw:
        opened: Any = (
            gzip.GzipFile(fileobj=raw, mode="rb") if path.suffix.lower() == ".gz" else None
        )
        with opened if opened is not None else nullcontext(raw) as lines:
            stream: IO[bytes] = lines
            while block := list(islice(stream, rows)):
                yield block, raw.tell()


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
    """Send simulated events (dicts, or raw lines for broken ones) in arrival order.

    ``speed`` paces them at that many times real time by event time (1 = live,
    60 = an hour a minute, 0 = as fast as possible); ``anchor`` is the
    simulation's start, sent first. Logs progress every ``log_every_s`` seconds
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
        datetime.fromtimestamp(pacer.feed_ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if pacer.feed_ts is not None
        else "-"
    )
    rate = sent / elapsed if elapsed > 0 else 0.0
    log.info(
        "%s %d events in %.1f s (%.0f/s); feed time %s%s",
        "sent" if done else "sending:", sent, elapsed, rate, feed,
        f"; {pacer.behind_s():.1f} s behind the pace" if pacer.behind_s() > 1 else "",
    )  # fmt: skip
