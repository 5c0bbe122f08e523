"""Beatlight's Kafka topics: names, keys, partitions, retention, and creating them.

One table, :data:`TOPICS`, says what each topic holds; :func:`ensure_topics`
creates the missing ones (the embedded broker, tests), ``docker-compose.yml``'s
``kafka-init`` creates the same ones with ``kafka-topics.sh`` (production), and
the README's table comes from :func:`topics_markdown`. Faust's own changelog
topics for its tables are declared by the worker, not here.

A dead letter on ``patrol.presence.dlq`` is a JSON object with a ``reason`` (SPEC
"The presence event") and where the event was, in one of two shapes:

* the worker's: ``partition``, ``offset``, ``event_id`` when it is a string, and
  ``payload``, the SPEC fields as they came (nested values as ``"<object>"``), except
  for ``malformed_json`` and ``too_large``;
* a producer's (``"source": "producer"``, :meth:`PresenceProducer.dead_letter
  <beatlight.runtime.producers.PresenceProducer.dead_letter>`): ``file`` and ``line`` for a
  replay, ``line`` or ``event`` (counted from 1) for a feed; never any content, since
  what a producer rejects could not be stripped of identifying fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from beatlight.errors import BeatlightError
from beatlight.runtime.reach import kafka_errors

__all__ = [
    "PARTIALS",
    "PRESENCE",
    "PRESENCE_DLQ",
    "TOPICS",
    "VISIBILITY_ALERTS",
    "VISIBILITY_HISTORY",
    "VISIBILITY_LIVE",
    "VISIBILITY_POINTS",
    "TopicSpec",
    "ensure_topics",
    "topic",
    "topics_markdown",
]

log = logging.getLogger("beatlight.topics")

PRESENCE = "patrol.presence"
PRESENCE_DLQ = "patrol.presence.dlq"
VISIBILITY_LIVE = "visibility.live"
VISIBILITY_HISTORY = "visibility.history"
VISIBILITY_ALERTS = "visibility.alerts"
VISIBILITY_POINTS = "visibility.points"
PARTIALS = "beatlight.partials"
LIVE_TICKS = "beatlight.live-ticks"
CHECKPOINTS = "beatlight.checkpoints"

_DAY_MS = 86_400_000
FOREVER = -1


@dataclass(frozen=True)
class TopicSpec:
    """One topic: what it is keyed by, how it is partitioned and kept, and why.

    ``partitions=None`` means "the input's partition count" (the
    ``kafka_partitions`` setting): the topic scales out with the workers.
    ``retention_ms=-1`` keeps records forever (compacted topics keep the
    latest record per key).
    """

    name: str
    key: str
    partitions: int | None
    retention_ms: int
    cleanup_policy: str  # "delete" or "compact"
    purpose: str
    #: How often the log rolls a new segment (Kafka's default is 7 days). Compaction
    #: leaves the segment being written alone, so a compacted topic written often and
    #: read from its start rolls sooner.
    segment_ms: int | None = None

    def partitions_for(self, input_partitions: int) -> int:
        """The partition count to create it with."""
        return self.partitions if self.partitions is not None else input_partitions

    @property
    def configs(self) -> dict[str, str]:
        """Kafka topic configs (``--config`` of ``kafka-topics.sh``)."""
        configs = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if self.segment_ms is not None:
            configs["segment.ms"] = str(self.segment_ms)
        return configs

    @property
    def retention(self) -> str:
        """Retention in words, for people."""
        if self.retention_ms == FOREVER:
            return "forever (compacted)" if self.cleanup_policy == "compact" else "forever"
        if self.retention_ms < _DAY_MS:
            return f"{self.retention_ms / 3_600_000:g} h"
        return f"{self.retention_ms / _DAY_MS:g} d"


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        PRESENCE, "unit", None, 29 * _DAY_MS, "delete",
        "Input: presence events (SPEC schema only). Kafka is the system of record: "
        "workers rebuild their state from it, so it keeps the longest window (28 d) "
        "plus a day's margin for lateness and restarts.",
    ),
    TopicSpec(
        PRESENCE_DLQ, "unit; none when unreadable or rejected by a producer", 1, 14 * _DAY_MS,
        "delete",
        "Rejected events with a machine-readable reason, for operators: from the worker "
        "with partition, offset and the SPEC fields; from a producer (`source: producer`) "
        "with file and line, never the content. Low volume, so one partition keeps it in "
        "arrival order.",
    ),
    TopicSpec(
        VISIBILITY_LIVE, "`{level}|{code}` (e.g. `ward|E05008714`), and `summary`", 1, FOREVER,
        "compact",
        "Live per-area snapshots (wards and roll-ups); compaction keeps the latest per "
        "area. One partition: a reader sees each snapshot's areas in the order written.",
    ),
    TopicSpec(
        VISIBILITY_HISTORY, "`{hour}|{level}|{code}` (e.g. `2026-11-23T06:00:00Z|ward|E05008714`)",
        1, FOREVER, "compact",
        "Per-area snapshots at each hour boundary, for history and reports: one record "
        "per area and hour, kept. The level is in the key because a ward that is its own "
        "neighbourhood shares its code with it.",
    ),
    TopicSpec(
        VISIBILITY_ALERTS, "area code", 1, 30 * _DAY_MS, "delete",
        "Alerts, e.g. a ward with no one for hours.",
    ),
    TopicSpec(
        VISIBILITY_POINTS, "ward code", 1, 3_600_000, "delete",
        "Recent presence points for the inspector's live map: time, position, ward and "
        "mode of accepted pings at most `points_minutes` (15) old when sent; never a unit "
        "or any other field. Fleeting: kept an hour; the API holds the last minutes in "
        "memory and never stores them.",
    ),
    TopicSpec(
        PARTIALS, "lanes (one partition)", 1, 29 * _DAY_MS, "delete",
        "Internal: each input partition's final runs (about hourly) and hour figures, "
        "merged by the aggregator; it rebuilds from here, so it keeps the longest "
        "window plus a margin, like the input.",
    ),
    TopicSpec(
        LIVE_TICKS, "lanes (one partition)", 1, 3_600_000, "delete",
        "Internal: each input partition's live figures every few seconds, for the "
        "aggregator's live snapshots; fleeting, so kept an hour.",
    ),
    TopicSpec(
        CHECKPOINTS, "lane-{partition}[/{generation}/{chunk}]", None, FOREVER, "compact",
        "Internal: each lane's state at an input offset, so a restarted worker resumes "
        "instead of re-reading the input; compaction keeps the latest of each key. "
        "Segments roll hourly (`segment.ms`), so that a lane resuming reads about an "
        "hour of checkpoints and the latest of each key, not the week Kafka's default "
        "segment would hold.",
        segment_ms=3_600_000,
    ),
)  # fmt: skip


def topic(name: str) -> TopicSpec:
    """The spec of a topic by name."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def ensure_topics(
    bootstrap: str,
    partitions: int = 4,
    *,
    specs: Iterable[TopicSpec] = TOPICS,
    timeout_s: float = 10.0,
) -> dict[str, int]:
    """Create the topics that do not exist yet; return every topic's partition count.

    Idempotent: existing topics are left as they are (a different partition
    count is logged, not changed: re-partitioning moves units between
    partitions and CreatePartitions is unreliable on Tansu). A topic created
    meanwhile by someone else is fine.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    wanted = {spec.name: spec for spec in specs}
    with kafka_errors(bootstrap):
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="beatlight-topics",
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    try:
        existing = set(admin.list_topics())
        missing = [spec for name, spec in wanted.items() if name not in existing]
        if missing:
            response = admin.create_topics(
                [
                    NewTopic(s.name, s.partitions_for(partitions), 1, topic_configs=s.configs)
                    for s in missing
                ],
                timeout_ms=int(timeout_s * 1000),
                raise_errors=False,
            )
            _check_created(response)
            log.info("created topics: %s", ", ".join(s.name for s in missing))
        counts = {
            described["name"]: len(described["partitions"])
            for described in admin.describe_topics(list(wanted))
        }
    finally:
        admin.close()
    for name, spec in wanted.items():
        expected = spec.partitions_for(partitions)
        if name in existing and counts.get(name) != expected:
            log.warning(
                "topic %s exists with %s partitions (Beatlight would create %d); left as it is",
                name, counts.get(name), expected,
            )  # fmt: skip
    return counts


def topics_markdown(partitions: int = 4) -> str:
    """The topics as a Markdown table (the README's)."""
    lines = [
        "| topic | key | partitions | retention | purpose |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in TOPICS:
        count = (
            f"{spec.partitions}"
            if spec.partitions is not None
            else f"`kafka_partitions` (default {partitions})"
        )
        key = spec.key.replace("|", "\\|")  # GitHub tables split cells on any bare |
        lines.append(f"| `{spec.name}` | {key} | {count} | {spec.retention} | {spec.purpose} |")
    return "\n".join(lines)


def _check_created(response: dict) -> None:
    already_exists = 36  # TopicAlreadyExistsError: created meanwhile, which is fine
    for result in response.get("topics", []):
        code = result.get("error_code", 0)
        if code not in (0, already_exists):
            raise BeatlightError(
                f"Kafka refused to create topic {result.get('name')}: "
                f"{result.get('error_message') or f'error code {code}'}"
            )
