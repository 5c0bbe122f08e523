"""Faust with three changes: how long a fetch may wait at the broker, a bare web server,
and a flag that tells threads the worker is stopping.

Faust fixes the consumer's ``fetch_max_wait_ms`` at 1,500 ms. Apache Kafka answers a
fetch as soon as there is a record, so there it only sets how often an idle consumer
asks again. Tansu holds a fetch for a good part of that wait even when records arrive
(``bench/stream_latency.py`` measures one hop: p50 about 380 ms at 1,500 ms, 15 ms
at 50 ms), and a ping crosses the broker twice before it reaches a live snapshot. The
worker sets it from ``BEATLIGHT_FETCH_WAIT_MS``.

Faust's web server mounts its own pages beside the app's: ``/`` (its index),
``/router/`` (which worker holds a key, answering 500 for some paths) and ``/table/``
(a table's contents). A worker serves only the pages it declares (``/metrics`` and
``/healthz``); every other path is aiohttp's plain 404.

Faust stops a worker by first waiting for its agents to finish what they hold, and
only then stopping them. An agent waiting on work in another thread (a lane reading a
backlog from Kafka) holds that up for as long as the work takes. ``App.stopping`` is
set the moment the stop begins, so that such work can end early.
"""

from __future__ import annotations

import threading
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver
from faust.web.drivers import aiohttp as web_driver

__all__ = ["App"]


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read once, when the consumer starts its fetcher.
        consumer._fetch_max_wait_ms = self.app.beatlight_fetch_wait_ms
        return consumer


class _Consumer(driver.Consumer):
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
    """A ``faust.App`` whose consumer waits at most ``fetch_wait_ms`` for records, whose
    web server serves only the app's own pages, and which says when it is ``stopping``."""

    def __init__(self, *args: Any, fetch_wait_ms: int = 1500, **kwargs: Any) -> None:
        self.beatlight_fetch_wait_ms = fetch_wait_ms
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
