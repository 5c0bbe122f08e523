"""A no-op Faust agent: the baseline for ``bench/stream_throughput.py``.

    python bench/_noop_agent.py BOOTSTRAP N APP_ID PARTITIONS DATADIR

Consumes ``patrol.presence`` with the broker settings of the Beatlight worker
(``beatlight.runtime.app.create_app``) and the same batching (``take_events(2000,
within=0.2)``, ``concurrency=1``), and does nothing but count. It prints
``FIRST <monotonic>`` when its first batch arrives and ``LAST <monotonic>
<count>`` when the batch holding the N-th record does, then keeps running until
it is stopped (SIGTERM).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import faust

from beatlight.runtime.broker import faust_brokers
from beatlight.runtime.topics import PRESENCE


def main(argv: list[str]) -> None:
    bootstrap, n, app_id, partitions, datadir = argv
    total, parts = int(n), int(partitions)
    app = faust.App(
        app_id,
        broker=faust_brokers(bootstrap),
        store="memory://",
        autodiscover=False,
        datadir=datadir,
        topic_partitions=parts,
        topic_disable_leader=True,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.5,
        broker_rebalance_timeout=12.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        processing_guarantee="at_least_once",
        web_enabled=False,
    )
    topic = app.topic(PRESENCE, partitions=parts,
                      key_serializer="raw", value_serializer="raw")  # fmt: skip
    seen = 0

    @app.agent(topic, concurrency=1)
    async def count(stream: Any) -> None:
        nonlocal seen
        async for events in stream.take_events(2000, within=0.2):
            now = time.monotonic()
            if seen == 0 and events:
                print(f"FIRST {now:.6f}", flush=True)
            before, seen = seen, seen + len(events)
            if before < total <= seen:
                print(f"LAST {now:.6f} {seen}", flush=True)

    faust.Worker(app, loglevel="WARNING", redirect_stdouts=False, override_logging=False,
                 quiet=True).execute_from_commandline()  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
