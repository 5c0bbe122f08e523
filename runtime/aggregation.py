"""The aggregator's side of a worker: lanes' figures in, hour and live snapshots out.

``beatlight.partials`` has one partition, so one worker aggregates at a time. The
:class:`Aggregation` it holds keeps the next partials offset it expects (a worker
taking the aggregator over reads what came before from Kafka), takes every lane's live
figures (its own lanes' straight from their tick, other workers' from
``beatlight.live-ticks``) and raises alerts on the live snapshot, its tracker primed
with the last live snapshot published before it took over (``streams/alerts.py``).
Every method runs on the work thread (:mod:`beatlight.runtime.work`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Container
from typing import TYPE_CHECKING

import orjson

from beatlight.configs import alert_tracker
from beatlight.geo.geography import Geography
from beatlight.runtime import topics
from beatlight.runtime.observe import Metrics
from beatlight.runtime.reader import PartitionReader
from beatlight.streams.aggregate import Aggregator, Snapshot
from beatlight.streams.lane import LaneConfig
from beatlight.streams.runner import Record
from beatlight.streams.wire import decode

if TYPE_CHECKING:
    from beatlight.runtime.app import WorkerConfig
    from beatlight.streams.batch import Zoning

__all__ = ["Aggregation"]

log = logging.getLogger("beatlight.worker")


class Aggregation:
    """The aggregator, the partials offset it has reached, and the live alerts."""

    def __init__(
        self, config: WorkerConfig, geography: Geography, lane_config: LaneConfig, *,
        local: Container[int], stopping: threading.Event, metrics: Metrics,
        zoning: Zoning | None = None,
    ) -> None:  # fmt: skip
        """``local``: the lanes this worker holds, whose live figures come by :meth:`live`.
        ``zoning``: the worker's zones, for the snapshots' ``zones`` and their alerts."""
        self.config = config
        self.local = local
        self.stopping = stopping
        self.metrics = metrics
        self.aggregator = Aggregator(geography.areas, lane_config, config.partitions)
        if zoning is not None:
            self.aggregator.count_zones(zoning.zones, zoning.config)
        self._aggregated_to = 0  # next partials offset the aggregator expects
        self._partials_reader: PartitionReader | None = None
        self._alerts = alert_tracker(config, zoning.zones if zoning is not None else None)
        self._primed = False
        #: Records of a live snapshot: areas, zones and the summary.
        self._live_records = len(geography.areas) + 1 + (0 if zoning is None else len(zoning.zones))

    def records(self, records: list[Record], live: list[bytes]) -> list[Snapshot]:
        """Hour snapshots completed or revised by these partials and live figures."""
        out = self._live(live, local=False)  # fleeting: no offsets to keep
        fresh = [r for r in records if r.offset >= self._aggregated_to]
        if fresh and fresh[0].offset > self._aggregated_to:
            if self._partials_reader is None:
                self._partials_reader = PartitionReader(self.config.bootstrap, topics.PARTIALS)
            first = self._partials_reader.first_offset(0)
            self._aggregated_to = max(self._aggregated_to, first)
            for chunk in self._partials_reader.read(0, self._aggregated_to, fresh[0].offset,
                                                    cancel=self.stopping):  # fmt: skip
                out += self._partials(chunk)
            if self._aggregated_to < fresh[0].offset:  # stopping: the next owner reads it all
                return out
        out += self._partials(fresh)
        if out:
            self.metrics.aggregator(self.aggregator.held())
        return out

    def live(self, payloads: list[bytes]) -> list[Snapshot]:
        """This worker's own lanes' live figures (from their tick, not Kafka)."""
        return self._live(payloads, local=True)

    def live_snapshot(self) -> tuple[dict, list[tuple[bytes, bytes]]] | None:
        """The live document, and the alerts it raises as ``(key, value)`` records."""
        snap = self.aggregator.live_snapshot()
        if snap is None:
            return None
        if not self._primed:
            self._prime_alerts()
        raised = [(a["code"].encode(), orjson.dumps(a)) for a in self._alerts.update(snap.document)]
        return snap.document, raised

    def _prime_alerts(self) -> None:
        """Prime the alert tracker with the last live snapshot published (by this worker's
        predecessor as aggregator), so that nothing true then is raised again."""
        from kafka.errors import KafkaError

        from beatlight.runtime.history import read_latest_live

        self._primed = True
        try:
            document = read_latest_live(self.config.bootstrap, self._live_records)
        except (KafkaError, TimeoutError) as error:
            log.warning("alerts: could not read the last live snapshot (%s); alerts still "
                        "true then are raised again", error)  # fmt: skip
            return
        if document is not None:
            self._alerts.prime(document)
            log.info("alerts: primed with the live snapshot as of %s", document["as_of"])

    def close(self) -> None:
        """Close the Kafka reader of ``beatlight.partials``, if one was opened."""
        if self._partials_reader is not None:
            self._partials_reader.close()

    def _live(self, payloads: list[bytes], *, local: bool) -> list[Snapshot]:
        """Live figures into the aggregator; from Kafka, only other workers' lanes.

        (This worker's own come straight from :meth:`live`; their copies on Kafka would be
        older than what the aggregator already holds.)
        """
        out = []
        for payload in payloads:
            message = decode(payload)
            if not local and message.status.lane in self.local:
                continue
            out += self._published(self.aggregator.receive(message, time.time_ns() // 1000))
        return out

    def _partials(self, records: list[Record]) -> list[Snapshot]:
        out = []
        for record in records:
            if record.offset < self._aggregated_to or not record.value:
                continue
            message = decode(record.value)
            out += self._published(self.aggregator.receive(message, time.time_ns() // 1000))
            self._aggregated_to = record.offset + 1
        return out

    def _published(self, snapshots: list[Snapshot]) -> list[Snapshot]:
        for snap in snapshots:
            revision = snap.revision
            if revision is not None and revision.number:
                log.info("hour %s published again as revision %d: late figures changed %d "
                         "areas", snap.document["as_of"], revision.number,
                         sum(n == revision.number for n, _ in revision.areas.values()))  # fmt: skip
            else:
                self.metrics.hour(snap.as_of_us)
        return snapshots
