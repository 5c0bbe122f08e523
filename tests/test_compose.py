"""docker-compose.yml and the Dockerfile agree with the code: commands, settings, ports,
health checks, volumes and topics. Docker is not needed: the files are parsed and checked
against the CLI, the settings and the routes they name."""

from __future__ import annotations

import inspect
import os
import re
import shlex
from pathlib import Path

import click
import pytest
import typer
import yaml

from beatlight.api.routes import health
from beatlight.cli import app
from beatlight.cli.options import require_bootstrap
from beatlight.cli.places import geography_for
from beatlight.runtime.topics import TOPICS
from beatlight.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()

CLI = typer.main.get_command(app)
FIELDS = set(Settings.model_fields)
BEATLIGHT_SERVICES = {name: s for name, s in SERVICES.items() if "build" in s}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# Values that compose sets on purpose to something else than the code's default.
# Reachable from outside their containers (the worker's from the compose network only).
NOT_DEFAULT = {"api_host": "0.0.0.0", "worker_web_host": "0.0.0.0"}
# What a command reads: its CLI module, and the packages it hands the settings to.
# The code each command runs, besides its own module: folders, and the config builders.
PACKAGES = {
    "worker": ("streams", "runtime", "geo", "beatlight/configs.py"),
    "api": ("api", "maps", "geo", "beatlight/configs.py"),
}
# Settings methods, by the fields they read.
METHODS = {"store_url": {"database_url", "data_dir"}}
# Sample values for the ${VAR:?message} a deployment must give.
REQUIRED_SAMPLES = {"BEATLIGHT_BOUNDARIES": "/boundaries/wards.geojson", "POSTGRES_PASSWORD": "pw"}


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _interpolated(text: str) -> str:
    """A value as compose gives it with no variable set: defaults, and samples for required."""

    def value(match: re.Match) -> str:
        name, kind, default = match.groups()
        if kind in (":?", "?"):
            return REQUIRED_SAMPLES[name]
        return default if kind in (":-", "-") else ""

    return INTERPOLATION.sub(value, text)


def _setting(variable: str) -> str:
    return variable.removeprefix("BEATLIGHT_").lower()


def _command(service: dict) -> tuple[str, click.Command, list[str]]:
    """The service's ``beatlight`` subcommand, parsed as the CLI parses it (bad options raise)."""
    name, *rest = service["command"]
    parent = click.Context(CLI, info_name="beatlight")
    command = CLI.get_command(parent, name)
    assert command is not None, f"no command beatlight {name}"
    command.make_context(name, list(rest), parent=parent)
    return name, command, rest


def _read_by(name: str, command: click.Command) -> set[str]:
    """The settings a command's code reads (``settings.<field>`` or a method reading fields)."""
    module = inspect.getmodule(inspect.unwrap(command.callback))  # with its helpers
    sources = [inspect.getsource(module)]
    sources += [inspect.getsource(helper) for helper in (geography_for, require_bootstrap)]
    for package in PACKAGES[name]:
        path = ROOT / package
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        sources += [file.read_text() for file in files]
    read = set()
    for attribute in re.findall(r"settings\.([a-z_]+)", "\n".join(sources)):
        read |= METHODS.get(attribute, {attribute})
    return read & FIELDS


def test_there_are_two_workers_an_api_and_the_infrastructure():
    commands = sorted(
        s["command"][0] for s in BEATLIGHT_SERVICES.values()
        for _ in range((s.get("deploy") or {}).get("replicas", 1))
    )  # fmt: skip
    assert commands == ["api", "worker", "worker"]
    assert SERVICES["kafka"]["image"] == "apache/kafka:3.8.0"
    assert SERVICES["kafka-init"]["image"] == "apache/kafka:3.8.0"
    assert SERVICES["postgres"]["image"] == "postgres:16"


def test_every_beatlight_service_runs_a_beatlight_command_that_parses():
    for name, service in BEATLIGHT_SERVICES.items():
        assert service["build"] == "."
        assert isinstance(service["command"], list), f"{name}: give the command as a list"
        command, _, _ = _command(service)
        assert command in PACKAGES, f"{name}: {command} (add what it reads to PACKAGES)"


def test_beatlight_services_take_no_options_only_environment_variables():
    for name, service in BEATLIGHT_SERVICES.items():
        _, _, rest = _command(service)
        assert rest == [], f"{name}: configure {rest} with BEATLIGHT_* variables instead"


def test_every_environment_variable_is_a_setting_the_command_reads():
    for name, service in BEATLIGHT_SERVICES.items():
        command, click_command, _ = _command(service)
        read = _read_by(command, click_command)
        for variable in _environment(service):
            assert variable.startswith("BEATLIGHT_"), f"{name}: {variable} is not a setting"
            assert _setting(variable) in FIELDS, f"{name}: {variable} is no setting"
            assert _setting(variable) in read, f"{name}: `beatlight {command}` ignores {variable}"


def test_the_compose_environment_makes_valid_settings(monkeypatch):
    for name, service in BEATLIGHT_SERVICES.items():
        for variable in [v for v in os.environ if v.startswith("BEATLIGHT_")]:
            monkeypatch.delenv(variable)
        for variable, value in _environment(service).items():
            monkeypatch.setenv(variable, _interpolated(value))
        settings = Settings(_env_file=None)  # raises on any value the code would refuse
        for variable in _environment(service):
            field = _setting(variable)
            default = Settings.model_fields[field].get_default(call_default_factory=True)
            if field in NOT_DEFAULT:
                assert getattr(settings, field) == type(default)(NOT_DEFAULT[field]), name
            elif INTERPOLATION.fullmatch(_environment(service)[variable]) and default is not None:
                # ${VAR:-default}: compose's default is the code's, so both say the same.
                assert getattr(settings, field) == default, f"{name}: {variable}"


def test_every_interpolated_beatlight_variable_is_a_setting():
    for variable, _, _ in INTERPOLATION.findall(COMPOSE_TEXT):
        if variable.startswith("BEATLIGHT_"):
            assert _setting(variable) in FIELDS, variable


def test_required_values_refuse_to_start_without_them():
    for name, service in BEATLIGHT_SERVICES.items():
        boundaries = _environment(service)["BEATLIGHT_BOUNDARIES"]
        assert boundaries.startswith("${BEATLIGHT_BOUNDARIES:?"), name
        assert "./boundaries:/boundaries:ro" in service["volumes"], name
        assert REQUIRED_SAMPLES["BEATLIGHT_BOUNDARIES"].startswith("/boundaries/")
    password = SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")
    url = _environment(SERVICES["api"])["BEATLIGHT_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url and "@postgres:5432/" in url
    postgres = SERVICES["postgres"]["environment"]
    assert f"postgresql+psycopg://{postgres['POSTGRES_USER']}:" in url
    assert url.endswith(f"/{postgres['POSTGRES_DB']}")


def test_workers_and_api_talk_to_the_compose_kafka():
    listeners = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "//kafka:9092" in listeners
    for name, service in BEATLIGHT_SERVICES.items():
        assert _environment(service)["BEATLIGHT_KAFKA_BOOTSTRAP"] == "kafka:9092", name


def _port(service: dict, field: str) -> int:
    value = _environment(service).get(f"BEATLIGHT_{field.upper()}")
    return int(_interpolated(value)) if value else Settings.model_fields[field].default


def _healthcheck_url(service: dict) -> str:
    (url,) = re.findall(r"http://[^'\" ]+", " ".join(service["healthcheck"]["test"]))
    return url


def test_the_api_publishes_and_checks_the_port_it_listens_on():
    api = SERVICES["api"]
    port = _port(api, "api_port")
    assert _environment(api)["BEATLIGHT_API_HOST"] == "0.0.0.0"
    published = [str(m).rsplit(":", 1)[-1] for m in api["ports"]]
    assert published == [str(port)]
    assert f"EXPOSE {port}" in DOCKERFILE
    assert _healthcheck_url(api) == f"http://127.0.0.1:{port}/readyz"
    assert "/readyz" in {route.path for route in health.router.routes}


def test_workers_healthchecks_ask_their_web_port_open_it_to_the_network_and_publish_nothing():
    worker = SERVICES["worker"]
    port = _port(worker, "worker_web_port")
    assert port > 0, "the healthcheck needs the worker's web server"
    assert _healthcheck_url(worker) == f"http://127.0.0.1:{port}/healthz"
    assert '@app.page("/healthz")' in (ROOT / "runtime" / "app.py").read_text()
    assert "ports" not in worker  # replicas cannot share a host port
    # Reachable from other containers (Prometheus), not from outside the compose network.
    assert _environment(worker)["BEATLIGHT_WORKER_WEB_HOST"] == "0.0.0.0"
    assert Settings.model_fields["worker_web_host"].default == "127.0.0.1"
    assert worker["deploy"]["replicas"] == 2
    assert worker["stop_grace_period"] == "30s"  # Faust commits its offsets on SIGTERM


def test_kafka_runs_in_kraft_mode_with_a_healthcheck_and_a_volume():
    kafka = SERVICES["kafka"]
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert not any("ZOOKEEPER" in key for key in env)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # kafka-init creates them
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    assert f"kafka-data:{env['KAFKA_LOG_DIRS']}" in kafka["volumes"]
    assert kafka["ports"] == ["127.0.0.1:9094:9094"]
    assert "EXTERNAL://localhost:9094" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_kafka_init_creates_every_topic_with_its_partitions_and_retention():
    script = _interpolated(" ".join(SERVICES["kafka-init"]["command"]))
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
    # The input and the checkpoints follow the same partition count as the workers' setting.
    assert script.count("--partitions 4 ") == 2
    assert COMPOSE_TEXT.count("${BEATLIGHT_KAFKA_PARTITIONS:-4}") == 3
    assert SERVICES["kafka-init"]["restart"] == "no"


def test_services_wait_for_what_they_need_to_be_healthy():
    def condition(service: dict, on: str) -> str | None:
        return (service.get("depends_on") or {}).get(on, {}).get("condition")

    assert condition(SERVICES["kafka-init"], "kafka") == "service_healthy"
    for name, service in BEATLIGHT_SERVICES.items():
        assert condition(service, "kafka") == "service_healthy", name
        assert condition(service, "kafka-init") == "service_completed_successfully", name
        assert service["restart"] == "unless-stopped", name
    assert condition(SERVICES["api"], "postgres") == "service_healthy"
    for name in ("kafka", "postgres", "api", "worker"):
        check = SERVICES[name]["healthcheck"]
        assert check["test"] and check["interval"] and check["retries"], name
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])


def test_volumes_are_declared_used_and_where_the_data_lives():
    declared = set(COMPOSE["volumes"])
    mounts = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if not source.startswith((".", "/")):
                mounts[source] = (name, target)
    assert set(mounts) == declared
    assert mounts["postgres-data"] == ("postgres", "/var/lib/postgresql/data")
    assert mounts["kafka-data"][0] == "kafka"
    for name, service in BEATLIGHT_SERVICES.items():
        binds = [v for v in service["volumes"] if v.startswith("./")]
        assert binds == ["./boundaries:/boundaries:ro"], name  # read-only input, nothing else


def test_dockerfile_builds_a_non_root_beatlight_image():
    assert DOCKERFILE.splitlines()[2] == "FROM python:3.11-slim"
    assert 'pip install ".[stream,api]"' in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["beatlight"]' in DOCKERFILE
    data_dir = re.search(r"BEATLIGHT_DATA_DIR=(\S+)", DOCKERFILE)
    assert data_dir and f"WORKDIR {data_dir[1]}" in DOCKERFILE  # writable by the user
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".git", "data/", "tests/"} <= set(ignored)
