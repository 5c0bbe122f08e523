"""One settings object, built once at the entry point and passed down.

Every value can be set by an environment variable ``BEATLIGHT_<NAME>`` (or a
``.env`` file); the CLI's options override them. Domain code never reads the
environment: it receives the values it needs.

Long because Settings is one class: every value Beatlight can be given, each declared
once with its default and description, from which the components' configs and
docs/configuration.md are built.
"""

from __future__ import annotations

import json
import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from beatlight.windows import Window

#: The longest allowed lateness supported (SPEC "Late uploads").
MAX_LATENESS_SECONDS = 86_400


def _user_cache() -> Path:
    """``$XDG_CACHE_HOME``, or ``~/.cache`` (the XDG base directory default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class Settings(BaseSettings):
    """Beatlight's settings; defaults are the SPEC's."""

    model_config = SettingsConfigDict(env_prefix="BEATLIGHT_", env_file=".env", extra="ignore")

    # Geography
    boundaries: Path | None = Field(
        None, description="Ward boundary file (GeoJSON, GPKG, SHP, zip)."
    )
    attributes: Path | None = Field(None, description="Optional ward attributes CSV (SPEC §13).")
    zones: Path | None = Field(
        None,
        description="Optional zones file (SPEC Z1-Z6: hot spots, town centres; any format "
        "boundaries accept) with columns code, name and optionally kind, "
        "target_minutes_per_week, schedule, session_target_minutes, max_gap_minutes, public. "
        "Schedules are in the time zone of `timezone`.",
    )
    postcode_file: Path | None = Field(
        None,
        description="Optional postcode directory CSV (the ONS Postcode Directory's columns: "
        "pcds or postcode, and lat and long or osward) for residents' postcode search on the "
        "public map. None ships with Beatlight; postcodes asked for are never logged.",
    )
    metric_crs: str = Field("EPSG:27700", description="Projected CRS for areas and grid cells.")
    cell_m: float = Field(200.0, gt=0, description="Grid cell side C in metres.")
    force_name: str = Field("Force area", description="Name of the force-level roll-up.")
    geo_cache: bool = Field(
        True, description="Keep the wards' built grid cells between starts (see geo_cache_dir)."
    )
    geo_cache_dir: Path = Field(
        default_factory=lambda: _user_cache() / "beatlight",
        description="Where the wards' grid cells are kept ($XDG_CACHE_HOME/beatlight).",
    )

    # The presence model (SPEC "Metric definitions")
    slot_seconds: int = Field(60, gt=0, description="Slot length S.")
    max_gap_seconds: int = Field(300, ge=0, description="Max gap G that is filled.")
    koper_minutes: float = Field(10.0, gt=0, description="Koper dwell K.")
    target_minutes_per_week: float = Field(600.0, ge=0, description="Default weekly target.")
    max_accuracy_m: float = Field(
        100.0, ge=0, description="Pings less accurate than this are rejected."
    )
    lateness_seconds: int = Field(
        3600,
        ge=0,
        description="Allowed lateness behind the watermark, up to 86400 (24 h). Above 1 h, "
        "hours are first published an hour behind the watermark and published again as "
        "revisions when later pings (a body-worn camera's upload) change them.",
    )
    future_seconds: int = Field(300, ge=0, description="Future tolerance ahead of the wall clock.")
    max_event_bytes: int = Field(8192, gt=0, description="Larger events are rejected as too_large.")
    timezone: str = Field("Europe/London", description="Zone for calendar days and weeks.")

    # Infrastructure
    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers; none = embedded."
    )
    data_dir: Path = Field(Path("data"), description="Where embedded state and stores live.")
    kafka_partitions: int = Field(
        4, gt=0, description="Partitions of patrol.presence when Beatlight creates it."
    )
    kafka_connect_timeout_s: float = Field(
        10.0, gt=0, description="How long a client waits to reach Kafka before giving up."
    )
    kafka_compression: str = Field(
        "zstd",
        pattern="^(none|gzip|snappy|lz4|zstd)$",
        description="Codec of the record batches a worker sends (none, gzip, snappy, lz4 or "
        "zstd). Every codec is read, whatever the feed sends.",
    )
    # Tansu completes a consumer-group join only after about half the session
    # timeout (SPEC "Known pitfalls"), so the default is Kafka's minimum, not 45 s.
    session_timeout_ms: int = Field(6000, gt=0, description="Consumer-group session timeout.")
    heartbeat_interval_ms: int = Field(
        1500, gt=0, description="Consumer-group heartbeat (under a third of the session timeout)."
    )

    # Stream workers
    app_id: str = Field("beatlight", description="Kafka consumer group / Faust app id.")
    live_seconds: float = Field(5.0, gt=0, description="How often live snapshots are sent.")
    live_clock: str = Field(
        "wall",
        pattern="^(wall|event)$",
        description="Live snapshots as of now (wall) or of the latest event time (event: "
        "for replays of history).",
    )
    fetch_wait_ms: int = Field(
        100,
        gt=0,
        le=1500,
        description="Longest a worker's fetch waits at the broker for new records (its "
        "feed's and Faust's). Faust fixes 1,500 ms; Tansu holds fetches that long, which "
        "delays live figures.",
    )
    worker_web_port: int = Field(
        6066, ge=0, description="Worker's web port for /metrics and /healthz; 0 = off."
    )
    worker_web_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the worker's web port listens on: this host only by default; "
        "0.0.0.0 where Prometheus scrapes it from another container or host.",
    )
    checkpoint_seconds: float = Field(
        300.0, gt=0, description="How often each lane's state is checkpointed to Kafka."
    )
    alert_window: Window = Field("24h", description="Window whose live status raises alerts.")
    alert_unvisited_minutes: float = Field(
        120.0, gt=0, description="Alert when nobody has been seen in an area for this long."
    )
    # SPEC "Privacy and publication rules": inspectors see the last 15 minutes, no more.
    points_minutes: float = Field(
        15.0,
        gt=0,
        le=15,
        description="Pings this recent (behind the live clock) are sent to "
        "visibility.points for the inspectors' live map, and kept that long by the API.",
    )

    # The API's store (issue 4)
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store (postgresql://… in production); "
        "none = a SQLite file <data_dir>/beatlight.db.",
    )
    materialise_batch_records: int = Field(
        500, gt=0, description="Most topic records the materialiser stores in one transaction."
    )
    materialise_max_backoff_s: float = Field(
        30.0, gt=0, description="Longest wait between the materialiser's retries."
    )

    # API
    auth_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long the API trusts a checked key; a revoked key is "
        "refused within this time. 0 = check the store on every request.",
    )
    max_request_bytes: int = Field(
        65_536, gt=0, description="Larger request bodies are refused (413)."
    )
    audit_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="How many days the record of who read live positions is kept "
        "(/api/v1/audit, beatlight audit); older records are deleted.",
    )
    max_header_bytes: int = Field(
        65_536,
        ge=4096,
        description="Larger request lines and headers (counted together) are refused (431).",
    )
    header_timeout_seconds: float = Field(
        20.0,
        gt=0,
        le=600,
        description="A request line and headers not complete this long after the "
        "connection (or the previous request) get 408, and the connection closes.",
    )
    rate_limit_per_minute: int = Field(
        600,
        ge=0,
        description="Requests a minute per API key the store has vouched for, or per IP "
        "address otherwise (no key, or one not yet checked); 429 beyond; 0 = no rate limit.",
    )
    rate_limit_burst: int = Field(
        60, ge=1, description="Requests a client may make at once before the rate limit applies."
    )

    # API service (issue 4)
    api_host: str = Field("127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(8000, gt=0, lt=65536, description="Port the API listens on.")
    publish_delay_hours: float = Field(
        24.0,
        ge=0,
        description="The public view covers complete days and weeks that ended "
        "at least this long ago (SPEC publication rules).",
    )
    public_min_units: int = Field(
        3, ge=1, description="Distinct-unit counts below this are suppressed in the public view."
    )
    public_licence: str = Field(
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        description="The licence of the published figures (a URL): the Link header of every "
        "public answer and the open data's field descriptions (/api/v1/public/fields).",
    )
    public_attribution: str = Field(
        "Contains public sector information licensed under the Open Government Licence v3.0.",
        description="The attribution re-users of the published figures must give, stated in "
        "every public JSON answer and in the field descriptions.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (CORS), "
        'as a JSON list, e.g. ["https://pcc.example.org"]; none by default.',
    )
    # Read as "127.0.0.1, 10.0.0.0/8" or as a JSON list (NoDecode: not JSON only).
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR blocks, comma-separated or a JSON "
        "list) whose X-Forwarded-For names the client for rate limits and logs; none by "
        "default: the client is the connection's peer and proxy headers are ignored.",
    )
    ready_max_lag: int = Field(
        10_000, ge=0, description="/readyz fails while the materialiser is more records behind."
    )
    live_cache_seconds: float = Field(
        1.0,
        ge=0,
        description="How long the API reuses the live snapshot before checking the "
        "store for a newer one.",
    )

    # Maps
    tiles: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Base map tiles as a URL template ({z}/{x}/{y}, optionally {s}); 'none' = "
        "no base map. Wards are drawn whether or not the tiles load.",
    )
    tiles_attribution: str = Field(
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        description="Attribution the tiles' licence requires (HTML), shown on every map.",
    )
    boundary_attribution: str = Field(
        "Boundaries: contains OS data &copy; Crown copyright and database right; contains "
        "National Statistics data &copy; Crown copyright; Open Government Licence v3.0",
        description="Attribution of the ward boundaries (HTML), shown on every map.",
    )
    map_refresh_seconds: float = Field(
        10.0, gt=0, description="How often the inspectors' live map fetches new figures."
    )
    map_missed_weeks: int = Field(
        2,
        ge=1,
        le=52,
        description="The coverage map outlines wards that missed their weekly target this "
        "many weeks running (the PCC office can change it on the map).",
    )

    def store_url(self) -> str:
        """The store's URL: ``database_url``, else the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'beatlight.db').resolve()}"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _addresses_or_blocks(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.split(",")
            except json.JSONDecodeError as error:
                raise ValueError(f"trusted_proxies: {text!r} is not a JSON list ({error}); "
                                 "or give addresses separated by commas") from None  # fmt: skip
        if not isinstance(value, list | tuple):
            return value
        return [_network(entry) for entry in value if str(entry).strip()]

    @field_validator("lateness_seconds")
    @classmethod
    def _lateness_within_a_day(cls, value: int) -> int:
        # Lanes keep every ping within the lateness open to revision, and hours stay
        # revisable for the lateness plus a day: a longer lateness would grow both, and
        # the input topic's 29 days would no longer cover a window plus the lateness.
        if value > MAX_LATENESS_SECONDS:
            raise ValueError(
                f"BEATLIGHT_LATENESS_SECONDS is at most {MAX_LATENESS_SECONDS} (24 h), not "
                f"{value}. Pings a day late or more are rejected as too_late (each one in "
                "patrol.presence.dlq); for such a backlog, run `beatlight report` on the "
                "export, which counts every event in the file"
            )
        return value

    @field_validator("slot_seconds")
    @classmethod
    def _slot_divides_an_hour(cls, value: int) -> int:
        # Hour-boundary snapshots and the windows must be whole numbers of slots.
        if 3600 % value:
            raise ValueError("slot_seconds must divide 3600 (e.g. 30, 60, 300)")
        return value


def _network(entry: Any) -> Any:
    """A trusted proxy's address or CIDR block, refused with a message saying how to write it."""
    if isinstance(entry, IPv4Network | IPv6Network):
        return entry
    text = str(entry).strip()
    if text == "*":
        raise ValueError("trusted_proxies: '*' would let any client choose its own address; "
                         "list the reverse proxies' addresses or CIDR blocks")  # fmt: skip
    try:
        return ip_network(text)
    except ValueError as error:
        hint = ""
        if "has host bits set" in str(error):
            hint = f" (did you mean {ip_network(text, strict=False)}?)"
        raise ValueError(
            f"trusted_proxies: {text!r} is not an IP address or CIDR block{hint}; "
            "write addresses such as 10.0.0.5 or blocks such as 10.0.0.0/8"
        ) from None


__all__ = ["MAX_LATENESS_SECONDS", "Settings"]
