"""docker-compose.yml and the Dockerfile agree with the code: commands, settings, topics."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml

from beatlight.cli import app
from beatlight.settings import Settings
from streams.topics import TOPICS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()

# Commands and settings that compose already uses but that are still being written.
# Whoever adds one must take it off its list (test_planned_* fails until they do).
PLANNED_COMMANDS: set[str] = set()
PLANNED_SETTINGS: set[str] = set()

COMMANDS = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
FIELDS = set(Settings.model_fields)
BEATLIGHT_SERVICES = {name: s for name, s in SERVICES.items() if "build" in s}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _default(text: str) -> str:
    """A value with compose's ``${VAR:-default}`` interpolated to its default."""
    return INTERPOLATION.sub(lambda m: m.group(3) if m.group(2) in (":-", "-") else "", text)


def _setting(variable: str) -> str:
    return variable.removeprefix("BEATLIGHT_").lower()


def test_there_are_two_workers_an_api_and_the_infrastructure():
    commands = sorted(s["command"][0] for s in BEATLIGHT_SERVICES.values())
    assert commands == ["api", "worker", "worker"]
    assert SERVICES["kafka"]["image"] == "apache/kafka:3.8.0"
    assert SERVICES["kafka-init"]["image"] == "apache/kafka:3.8.0"
    assert SERVICES["postgres"]["image"] == "postgres:16"


def test_every_beatlight_service_runs_a_beatlight_command():
    for name, service in BEATLIGHT_SERVICES.items():
        assert service["build"] == "."
        command = service["command"]
        assert isinstance(command, list), f"{name}: give the command as a list"
        assert command[0] in COMMANDS | PLANNED_COMMANDS, f"{name}: no command {command[0]!r}"


def test_planned_commands_are_still_missing():
    assert not PLANNED_COMMANDS & COMMANDS, "now implemented: remove from PLANNED_COMMANDS"


def test_beatlight_services_are_configured_only_by_settings():
    for name, service in BEATLIGHT_SERVICES.items():
        for variable in _environment(service):
            assert variable.startswith("BEATLIGHT_"), f"{name}: {variable} is not a setting"
            assert _setting(variable) in FIELDS | PLANNED_SETTINGS, f"{name}: {variable}"


def test_every_interpolated_beatlight_variable_is_a_setting():
    for variable, _, _ in INTERPOLATION.findall(COMPOSE_TEXT):
        if variable.startswith("BEATLIGHT_"):
            assert _setting(variable) in FIELDS | PLANNED_SETTINGS, variable


def test_planned_settings_are_still_missing():
    assert not PLANNED_SETTINGS & FIELDS, "now in Settings: remove from PLANNED_SETTINGS"


def test_required_values_refuse_to_start_without_them():
    for name, service in BEATLIGHT_SERVICES.items():
        boundaries = _environment(service)["BEATLIGHT_BOUNDARIES"]
        assert boundaries.startswith("${BEATLIGHT_BOUNDARIES:?"), name
        assert "./boundaries:/boundaries:ro" in service["volumes"], name
    password = SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")
    url = _environment(SERVICES["api"])["BEATLIGHT_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url and "@postgres:5432/" in url


def test_workers_and_api_talk_to_the_compose_kafka():
    listeners = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "//kafka:9092" in listeners
    for name, service in BEATLIGHT_SERVICES.items():
        assert _environment(service)["BEATLIGHT_KAFKA_BOOTSTRAP"] == "kafka:9092", name


def test_published_ports_match_the_commands_port():
    for name, service in BEATLIGHT_SERVICES.items():
        command = service["command"]
        for mapping in service.get("ports", []):
            container = str(mapping).rsplit(":", 1)[-1]
            assert "--port" in command, f"{name} publishes {mapping} but has no --port"
            assert command[command.index("--port") + 1] == container, name


def test_kafka_runs_in_kraft_mode_with_a_healthcheck_and_a_volume():
    kafka = SERVICES["kafka"]
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert not any("ZOOKEEPER" in key for key in env)
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    assert f"kafka-data:{env['KAFKA_LOG_DIRS']}" in kafka["volumes"]


def test_kafka_init_creates_every_topic_with_its_partitions_and_retention():
    script = _default(" ".join(SERVICES["kafka-init"]["command"]))
    created = {}
    for line in script.splitlines():
        words = shlex.split(line)
        if words[:1] != ["create"]:
            continue
        options = dict(zip(words[1::2], words[2::2], strict=False))
        configs = dict(w.split("=", 1) for w in words[words.index("--config") + 1 :: 2])
        created[options["--topic"]] = (int(options["--partitions"]), configs)
    default_partitions = Settings.model_fields["kafka_partitions"].default
    assert created == {
        spec.name: (spec.partitions_for(default_partitions), spec.configs) for spec in TOPICS
    }
    assert '"$$@"' in SERVICES["kafka-init"]["command"][0]  # $$: not interpolated by compose


def test_services_wait_for_what_they_need_to_be_healthy():
    def condition(service: dict, on: str) -> str | None:
        return (service.get("depends_on") or {}).get(on, {}).get("condition")

    assert condition(SERVICES["kafka-init"], "kafka") == "service_healthy"
    for name, service in BEATLIGHT_SERVICES.items():
        assert condition(service, "kafka") == "service_healthy", name
        assert condition(service, "kafka-init") == "service_completed_successfully", name
    assert condition(SERVICES["api"], "postgres") == "service_healthy"
    for name in ("kafka", "postgres", "api", "worker-1", "worker-2"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_worker_healthchecks_ask_the_workers_web_port():
    port = Settings.model_fields["worker_web_port"].default
    for name in ("worker-1", "worker-2"):
        service = SERVICES[name]
        port = int(_environment(service).get("BEATLIGHT_WORKER_WEB_PORT", port))
        assert f"http://127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])


def test_state_lives_in_named_volumes_one_per_worker():
    declared = set(COMPOSE["volumes"])
    used = set()
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    state = [
        v for s in ("worker-1", "worker-2") for v in SERVICES[s]["volumes"]
        if v.endswith(":/var/lib/beatlight")
    ]  # fmt: skip
    assert len(set(state)) == 2
    for service in BEATLIGHT_SERVICES.values():
        assert _environment(service)["BEATLIGHT_DATA_DIR"] == "/var/lib/beatlight"


def test_dockerfile_builds_a_non_root_beatlight_image():
    assert DOCKERFILE.splitlines()[2] == "FROM python:3.11-slim"
    assert 'pip install ".[stream,api]"' in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["beatlight"]' in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".git"} <= set(ignored)
