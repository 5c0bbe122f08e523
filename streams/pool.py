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

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from queue import Full, Queue
from typing import Any, TypeVar

__all__ = ["available_cores", "ordered_map", "read_ahead"]

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
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start)
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
        _give_back_free_memory()


def _worker_start() -> None:
    """Ctrl-C is the caller's to handle: it stops the pool, and the workers end after
    their current item, without a traceback each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _give_back_free_memory() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim``; elsewhere
    nothing). The items and results that went through the pool, megabytes each, leave
    free holes in the heap and in its threads' arenas that would otherwise stay in the
    process's memory under whatever it builds next."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim.argtypes = (ctypes.c_size_t,)
    trim(0)


def read_ahead(items: Iterator[Out], *, depth: int = 2) -> Iterator[Out]:
    """``items``, produced by a thread of their own up to ``depth`` ahead of the caller.

    For a producer whose work (Arrow reads, NumPy sorts) mostly runs without the GIL: it
    then overlaps the caller's work on another core. An exception in the producer is
    raised here, in its turn; the producer stops soon after the caller does."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put((True, item), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((False, None))
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            queue.put((False, error))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, item = queue.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()
