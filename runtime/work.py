"""The worker's one work thread, and the lane work under way that a stop waits for.

CPU work (lanes, the aggregator) runs on one thread so that the event loop keeps
heartbeating; one thread, so that the lanes and the aggregator need no locks of their
own beyond the lane's (its batches may also run on the loop, see
:meth:`beatlight.runtime.lanes.Lanes.records_now`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["WorkThread"]

log = logging.getLogger("beatlight.worker")


class WorkThread:
    """Runs calls on the work thread; counts handlers and ticks under way on the loop."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beatlight-work")
        self._busy = 0  # handlers and ticks under way (see busy() and settle())
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the work thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Around a handler or tick on the event loop: lane work that :meth:`settle` awaits."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def settle(self, timeout_s: float) -> None:
        """Wait until no handler or tick is under way (at most ``timeout_s``)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("stopping: lane work still under way after %.0f s", timeout_s)
