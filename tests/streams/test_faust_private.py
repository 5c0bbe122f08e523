"""The Faust and aiokafka private attributes ``beatlight.runtime.faust_private`` relies on
are there, with the shape it uses, on the installed releases.

No broker and no mocks: the real classes, and a real (never started) app's consumer. A
faust-streaming or aiokafka upgrade that removes or renames one fails here, not in a
running worker.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import aiokafka
import faust
import pytest
from faust.exceptions import NotReady
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as driver
from faust.types import TP
from faust.web.drivers import aiohttp as web_driver

from beatlight.runtime import faust_private
from tests.conftest import run_async

pytestmark = pytest.mark.unit


def _parameters(fn: Callable) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _with_app(check: Callable[[faust_private.App], object], **options: object) -> None:
    """``check`` a worker-like app built on an event loop (Faust's services want one)."""

    async def run() -> None:
        app = faust_private.App("probe", broker="kafka://127.0.0.1:1", store="memory://",
                                autodiscover=False, web_enabled=False, **options)  # fmt: skip
        result = check(app)
        if inspect.isawaitable(result):
            await result

    run_async(run())


def test_the_consumer_thread_hook_builds_the_aiokafka_consumer_that_reads_the_fetch_wait():
    hook = driver.AIOKafkaConsumerThread._create_worker_consumer
    assert _parameters(hook) == ["self", "transport"]
    assert _parameters(driver.Consumer._new_consumer_thread) == ["self"]
    assert driver.Transport.Consumer is driver.Consumer
    # aiokafka keeps the wait in this attribute and reads it when it starts its fetcher.
    assert "self._fetch_max_wait_ms = " in inspect.getsource(aiokafka.AIOKafkaConsumer.__init__)
    assert "self._fetch_max_wait_ms" in inspect.getsource(aiokafka.AIOKafkaConsumer.start)

    async def check(app: faust_private.App) -> None:
        thread = app.consumer._thread
        assert isinstance(thread, faust_private._ConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        try:
            assert isinstance(consumer, aiokafka.AIOKafkaConsumer)
            assert consumer._fetch_max_wait_ms == 50
        finally:
            await consumer.stop()

    _with_app(check, fetch_wait_ms=50)


def test_the_app_hooks_for_the_transport_and_the_web_server_are_there():
    assert _parameters(faust.App._new_transport) == ["self"]
    assert _parameters(faust.App._new_web) == ["self"]
    for name in ("default_blueprints", "production_blueprints", "debug_blueprints",
                 "optional_blueprints"):  # fmt: skip
        assert isinstance(getattr(web_driver.Web, name), list), name
        assert getattr(faust_private._Web, name) == []

    def check(app: faust_private.App) -> None:
        assert isinstance(app.transport, faust_private._Transport)

    _with_app(check)


def test_the_consumer_decides_and_makes_commits():
    assert _parameters(faust_consumer.Consumer._should_commit) == ["self", "tp", "offset"]
    commit = faust_consumer.Consumer._commit_offsets
    assert inspect.iscoroutinefunction(commit)
    assert _parameters(commit)[:2] == ["self", "offsets"]

    def check(app: faust_private.App) -> None:
        assert app.consumer._should_commit(TP("patrol.presence", 0), 42) is True  # none yet

    _with_app(check)


def test_the_fed_topics_are_paused_in_aiokafka_when_assigned_and_left_out_of_the_checks():
    listener = driver.ConsumerRebalanceListener
    assert inspect.iscoroutinefunction(listener.on_partitions_assigned)
    assert _parameters(listener.on_partitions_assigned) == ["self", "assigned"]
    assert _parameters(listener.__init__) == ["self", "thread"]
    assert driver.Consumer.RebalanceListener is listener
    assert _parameters(driver.AIOKafkaConsumerThread._ensure_consumer) == ["self"]
    assert _parameters(driver.AIOKafkaConsumerThread.verify_event_path) == ["self", "now", "tp"]
    # Faust's own pauses and resumes never reach aiokafka's consumer (they would undo ours).
    assert ".resume(" not in inspect.getsource(driver)

    async def check(app: faust_private.App) -> None:
        thread = app.consumer._thread
        assert isinstance(thread._rebalance_listener, faust_private._RebalanceListener)
        consumer = thread._create_worker_consumer(app.transport)
        thread._consumer = consumer
        try:
            fed = aiokafka.TopicPartition("patrol.presence", 0)
            other = aiokafka.TopicPartition("beatlight.partials", 0)
            consumer._subscription.assign_from_user({fed, other})
            # What follows the pause in Faust's listener needs a started app: the pause
            # is made before it is reached.
            with pytest.raises(Exception):  # noqa: B017, PT011
                await thread._rebalance_listener.on_partitions_assigned({fed, other})
            assert consumer.paused() == {fed}
        finally:
            await consumer.stop()

    _with_app(check, fed_topics=frozenset({"patrol.presence"}))


def test_the_faust_producer_hands_out_aiokafkas_producer_which_sends_batches():
    ensure = driver.Producer._ensure_producer
    assert _parameters(ensure) == ["self"]
    assert _parameters(aiokafka.AIOKafkaProducer.create_batch) == ["self"]
    send_batch = inspect.signature(aiokafka.AIOKafkaProducer.send_batch).parameters
    assert list(send_batch) == ["self", "batch", "topic", "partition"]
    assert send_batch["partition"].kind is inspect.Parameter.KEYWORD_ONLY

    def check(app: faust_private.App) -> None:
        with pytest.raises(NotReady):  # not started: no aiokafka producer yet
            faust_private.aiokafka_producer(app.producer)

    _with_app(check)
