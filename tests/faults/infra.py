"""Infrastructure the fault tests break on purpose: an S3 server and a TCP proxy.

* :class:`S3Server` runs moto's S3 server (``python -m moto.server``) in a process of
  its own, with one bucket: storage for Tansu (``s3://BUCKET/``) that outlives the
  broker, so a broker restart keeps its topics, records and committed offsets.
* :class:`TcpProxy` forwards a local port to a server (PostgreSQL); :meth:`TcpProxy.cut`
  closes every connection and refuses new ones until :meth:`TcpProxy.restore`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType

from tests.support import free_port

__all__ = ["S3Server", "TcpProxy", "wait_for_port"]

_HOST = "127.0.0.1"


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Return once ``port`` on 127.0.0.1 accepts connections (fail if ``process`` exits)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((_HOST, port), timeout=0.2):
                return
        except OSError:
            pass
        assert process is None or process.poll() is None, f"exited with {process.returncode}"
        assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout_s} s"
        time.sleep(0.05)


class S3Server:
    """moto's S3 server with one fresh bucket; ``storage`` and ``environment`` are for Tansu."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.bucket = f"tansu-{uuid.uuid4().hex[:8]}"
        self._process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def storage(self) -> str:
        """Tansu's storage URL for the bucket."""
        return f"s3://{self.bucket}/"

    @property
    def environment(self) -> dict[str, str]:
        """What Tansu (Rust's object_store) reads to reach the bucket."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "beatlight",
            "AWS_SECRET_ACCESS_KEY": "beatlight",
            "AWS_REGION": "eu-west-2",
            "AWS_DEFAULT_REGION": "eu-west-2",
        }

    def start(self) -> S3Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", _HOST, "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"), env=env,
        )  # fmt: skip
        try:
            wait_for_port(self.port, 60, self._process)
            self._client().create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": "eu-west-2"},
            )
        except BaseException:
            self.stop()
            raise
        return self

    def objects(self) -> int:
        """How many objects the bucket holds (Tansu writes a few per produced batch)."""
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sum(page.get("KeyCount", 0) for page in pages)

    def _client(self):  # noqa: ANN202
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environment["AWS_SECRET_ACCESS_KEY"],
            region_name=self.environment["AWS_REGION"],
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType
    ) -> None:
        self.stop()


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` with two threads per connection.

    :meth:`cut` closes the listening socket and every open connection, so clients see
    their connections drop and new ones refused, as when a database goes away;
    :meth:`restore` listens on the same port again.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.connections = 0  # accepted and forwarded, since the start
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def start(self) -> TcpProxy:
        self.restore()
        return self

    def restore(self) -> None:
        """Accept connections again (on the same port)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, self.port))
        listener.listen(128)
        with self._lock:
            assert self._listener is None, "the proxy is already listening"
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name=f"proxy-{self.port}").start()  # fmt: skip

    def cut(self) -> int:
        """Close every connection and refuse new ones; return how many were open."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            _close(listener)  # shutdown wakes the thread blocked in accept()
        for sock in sockets:
            _close(sock)
        return len(sockets) // 2

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType
    ) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._open |= {client, upstream}
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:  # one side closed: close both, as a server that goes away would
            with self._lock:
                self._open.difference_update((source, sink))
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
