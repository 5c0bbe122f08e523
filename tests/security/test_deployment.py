"""What docs/security.md says about transport, exposure and retention, checked against the code
and ``docker-compose.yml`` (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from beatlight.runtime.topics import TOPICS
from beatlight.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
HOUR_MS, DAY_MS = 3_600_000, 86_400_000

#: docs/security.md's retention table: topic → (retention in ms, cleanup policy); -1 = forever.
RETENTION = {
    "patrol.presence": (29 * DAY_MS, "delete"),
    "patrol.presence.dlq": (14 * DAY_MS, "delete"),
    "visibility.live": (-1, "compact"),
    "visibility.history": (-1, "compact"),
    "visibility.alerts": (30 * DAY_MS, "delete"),
    "visibility.points": (HOUR_MS, "delete"),
    "beatlight.partials": (29 * DAY_MS, "delete"),
    "beatlight.live-ticks": (HOUR_MS, "delete"),
    "beatlight.checkpoints": (-1, "compact"),
}


def test_topics_keep_what_security_md_says_for_as_long_as_it_says():
    assert {t.name: (t.retention_ms, t.cleanup_policy) for t in TOPICS} == RETENTION


def test_the_api_and_its_settings_default_to_this_host_and_safe_limits(monkeypatch):
    for name in ("API_HOST", "RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_BURST", "AUTH_CACHE_SECONDS",
                 "PUBLISH_DELAY_HOURS", "PUBLIC_MIN_UNITS", "CORS_ORIGINS", "POINTS_MINUTES",
                 "MAX_REQUEST_BYTES", "WORKER_WEB_HOST", "TRUSTED_PROXIES"):  # fmt: skip
        monkeypatch.delenv(f"BEATLIGHT_{name}", raising=False)
    settings = Settings()
    assert settings.api_host == "127.0.0.1"
    assert settings.worker_web_host == "127.0.0.1"  # tests/security/test_worker_web.py
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (600, 60)
    assert settings.auth_cache_seconds == 5.0
    assert (settings.publish_delay_hours, settings.public_min_units) == (24.0, 3)
    assert settings.cors_origins == [] and settings.points_minutes == 15.0
    assert settings.max_request_bytes == 65_536
    assert settings.trusted_proxies == []  # security/test_trusted_proxies.py


def test_compose_publishes_kafka_to_this_host_only_and_the_database_not_at_all():
    assert SERVICES["kafka"]["ports"] == ["127.0.0.1:9094:9094"]
    assert "ports" not in SERVICES["postgres"]
    assert "ports" not in SERVICES["worker"]  # its web port: the compose network only


def test_known_weakness_compose_publishes_the_api_in_plain_http_on_every_interface():
    """docs/security.md "Transport": TLS is the deployer's proxy's job; until one is in front,
    port 8000 answers plain HTTP on every interface of the host."""
    assert SERVICES["api"]["ports"] == ["8000:8000"]
    assert SERVICES["api"]["environment"]["BEATLIGHT_API_HOST"] == "0.0.0.0"


def test_compose_kafka_listeners_are_plaintext():
    """docs/security.md "Transport": TLS/SASL and ACLs on Kafka are the deployer's job."""
    protocols = SERVICES["kafka"]["environment"]["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert {p.split(":")[1] for p in protocols.split(",")} == {"PLAINTEXT"}
