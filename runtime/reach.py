"""Reaching Kafka: a user's one-line error when no broker answers, and a metadata probe.

:func:`kafka_errors` turns kafka-python's failure to bootstrap into
:class:`KafkaUnreachable`, the one-line error a user can act on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from beatlight.errors import BeatlightError

__all__ = ["KafkaUnreachable", "fetch_metadata", "kafka_errors"]


class KafkaUnreachable(BeatlightError):
    """No Kafka broker answered at the bootstrap address."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(
            f"cannot reach Kafka at {bootstrap}: is the broker running? "
            "(beatlight broker, or set BEATLIGHT_KAFKA_BOOTSTRAP)"
        )
        self.bootstrap = bootstrap


@contextlib.contextmanager
def kafka_errors(bootstrap: str) -> Iterator[None]:
    """Turn kafka-python's bootstrap failure into :class:`KafkaUnreachable`.

    kafka-python 3 raises ``KafkaTimeoutError("Unable to bootstrap from …")``
    (2.x raised ``NoBrokersAvailable``) and logs the failure at ERROR first;
    that log line is muted here because the caller reports it in one line.
    """
    from kafka.errors import KafkaTimeoutError

    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        yield
    except KafkaTimeoutError as error:
        if "bootstrap" in str(error).lower():
            raise KafkaUnreachable(bootstrap) from None
        raise
    except OSError:  # DNS failure or a refused connection before any retry
        raise KafkaUnreachable(bootstrap) from None
    finally:
        kafka_log.setLevel(level)


def fetch_metadata(bootstrap: str, timeout_s: float = 10.0) -> list[str]:
    """The topic names a Kafka cluster reports (raises :class:`KafkaUnreachable`)."""
    from kafka import KafkaAdminClient

    with kafka_errors(bootstrap):
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="beatlight-probe",
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=max(int(timeout_s * 1000), 1000),
        )
        try:
            return sorted(admin.list_topics())
        finally:
            admin.close()
