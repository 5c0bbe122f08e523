"""Work spread over the machine's cores, its results in the order the work came in.

The batch report reads a file in pieces whose parsing and checks are independent of
each other; only putting them together needs one process. :func:`ordered_map` runs a
function over the pieces in worker processes and hands the results back in the
pieces' order, so what is built from them does not depend on which worker finished
first. At most a few pieces per worker are in flight, so memory stays bounded however
long the input. Workers are started with ``spawn``: forking a process that already runs
Arrow's thread pools can deadlock the child.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

__all__ = ["available_cores", "ordered_map"]

In = TypeVar("In")
Out = TypeVar("Out")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)


def ordered_map(
    function: Callable[[In], Out], items: Iterable[In], *, workers: int, ahead: int = 2
) -> Iterator[Out]:
    """``map(function, items)`` over ``workers`` processes, results in the items' order.

    ``function`` must be importable by name (a module-level function) and its items and
    results picklable. ``ahead``: items in flight per worker. With ``workers <= 1`` it
    runs here, one item at a time. An exception in a worker is raised here, at its
    item's turn; the items after it are dropped and the workers stopped.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    context = multiprocessing.get_context("spawn")
    pending: deque[Future[Out]] = deque()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= workers * ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
