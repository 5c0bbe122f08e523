"""Every use of Faust's and aiokafka's private attributes, in one place, each with its reason.

The worker needs a few things neither library offers publicly. They are kept here, so that
an upgrade has one module to check, and ``tests/streams/test_faust_private.py`` fails when
a faust-streaming or aiokafka release removes or renames any of them:

* ``AIOKafkaConsumerThread._create_worker_consumer`` and ``AIOKafkaConsumer._fetch_max_wait_ms``:
  Faust fixes the consumer's ``fetch_max_wait_ms`` at 1,500 ms. Apache Kafka answers a
  fetch as soon as there is a record, so there it only sets how often an idle consumer
  asks again. Tansu holds a fetch for a good part of that wait even when records arrive
  (``bench/stream_latency.py`` measures one hop: p50 about 380 ms at 1,500 ms, 15 ms
  at 50 ms), and a ping crosses the broker twice before it reaches a live snapshot. The
  worker sets it from ``BEATLIGHT_FETCH_WAIT_MS``, on the consumer Faust creates, before
  the consumer reads it (when it starts its fetcher).
* ``Consumer._new_consumer_thread``, ``App._new_transport``: the hooks through which
  Faust builds its consumer thread and transport, to put the one above in place.
* ``App._new_web``: Faust's web server mounts its own pages beside the app's: ``/`` (its
  index), ``/router/`` (which worker holds a key, answering 500 for some paths) and
  ``/table/`` (a table's contents). A worker serves only the pages it declares
  (``/metrics`` and ``/healthz``); every other path is aiohttp's plain 404.
* ``Consumer.RebalanceListener``, ``AIOKafkaConsumerThread._ensure_consumer``: the
  worker's input partitions are read by the lanes' feed (:mod:`beatlight.runtime.feed`);
  Faust's consumer only takes part in the group, which shares them out. They are paused
  in aiokafka's consumer (which then never fetches them) the moment each assignment
  arrives, before Faust resumes its partitions; Faust pauses and resumes only its own
  bookkeeping, never aiokafka's.
* ``AIOKafkaConsumerThread.verify_event_path``: Faust logs an error every half minute
  for each assigned partition it has not fetched lately; the paused ones are left out.
* ``Consumer._should_commit``, ``Consumer._commit_offsets`` (:func:`commit`): Faust
  commits only offsets it has handed over itself, so the lanes' commits are the worker's.
* ``Producer._ensure_producer`` (:func:`aiokafka_producer`): aiokafka's own producer, to
  send whole record batches (``create_batch``/``send_batch``), which Faust does not offer.

Faust stops a worker by first waiting for its agents to finish what they hold, and only
then stopping them. An agent waiting on work in another thread (a lane reading a backlog
from Kafka) holds that up for as long as the work takes. :attr:`App.stopping` is set the
moment the stop begins, so that such work can end early.
"""

from __future__ import annotations

import threading
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver
from faust.types import TP
from faust.web.drivers import aiohttp as web_driver

__all__ = ["App", "aiokafka_producer", "commit"]


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read once, when the consumer starts its fetcher.
        consumer._fetch_max_wait_ms = self.app.beatlight_fetch_wait_ms
        return consumer

    def verify_event_path(self, now: float, tp: TP) -> None:
        if tp.topic not in self.app.beatlight_fed_topics:
            super().verify_event_path(now, tp)


class _RebalanceListener(driver.ConsumerRebalanceListener):
    async def on_partitions_assigned(self, assigned: Any) -> None:
        fed = self._thread.app.beatlight_fed_topics
        paused = [tp for tp in assigned if tp.topic in fed]
        if paused:  # first: a fetch of them answered since is dropped, not delivered
            self._thread._ensure_consumer().pause(*paused)
        await super().on_partitions_assigned(assigned)


class _Consumer(driver.Consumer):
    RebalanceListener = _RebalanceListener

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _Consumer


class _Web(web_driver.Web):
    """Faust's aiohttp server with none of Faust's own pages: only what the app declares."""

    default_blueprints = []  # /router/, /table/
    production_blueprints = []  # /
    debug_blueprints = []  # /graph, / (statistics)
    optional_blueprints = []  # /performance


class App(faust.App):
    """A ``faust.App`` whose consumer waits at most ``fetch_wait_ms`` for records and
    never fetches ``fed_topics`` (read by the worker itself), whose web server serves
    only the app's own pages, and which says when it is ``stopping``."""

    def __init__(
        self, *args: Any, fetch_wait_ms: int = 1500, fed_topics: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:  # fmt: skip
        self.beatlight_fetch_wait_ms = fetch_wait_ms
        self.beatlight_fed_topics = fed_topics
        #: Set when the worker begins to stop (SIGTERM), before Faust waits for its agents.
        self.stopping = threading.Event()
        super().__init__(*args, **kwargs)

    async def on_stop(self) -> None:
        self.stopping.set()
        await super().on_stop()

    def _new_transport(self) -> _Transport:
        return _Transport(self.conf.broker_consumer, self)

    def _new_web(self) -> _Web:
        return _Web(self)


async def commit(consumer: Any, tp: TP, offset: int) -> None:
    """Commit ``tp`` at ``offset`` as Faust would once it had acked the records before it
    (unless Faust's own bookkeeping says there is nothing to commit)."""
    if consumer._should_commit(tp, offset):
        await consumer._commit_offsets({tp: offset})


def aiokafka_producer(producer: Any) -> Any:
    """aiokafka's ``AIOKafkaProducer`` under a started Faust producer."""
    return producer._ensure_producer()
