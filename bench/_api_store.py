"""A store for ``bench/api_load.py``: a scratch PostgreSQL database, filled fast.

One simulated day over the wards is reported once by ``streams.batch.batch_report``;
that document, re-stamped and its figures scaled at random, is the snapshot of
every hour of the history and the live snapshot. Speed matters more than realism
here: the API reads rows, not their meaning. Rows go in as the materialiser
writes them (``api.store.Changes``/``apply``), a day of hours per transaction.
"""

from __future__ import annotations

import contextlib
import math
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

__all__ = ["base_document", "fill_store", "scratch_database"]

#: Minutes in each window, to keep scaled figures within their window.
WINDOW_MINUTES = {"1h": 60, "24h": 1440, "7d": 10_080, "28d": 40_320}


@contextlib.contextmanager
def scratch_database(server_url: str, say: Callable[[str], None] = print) -> Iterator[str]:
    """The URL of a new, empty database on ``server_url``'s server, dropped afterwards."""
    from api.db import create_engine_for, display_url

    name = f"beatlight_bench_{uuid.uuid4().hex[:12]}"
    server = create_engine_for(server_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        server.dispose()
        sys.exit(f"cannot create a database on {display_url(server_url)}: "
                 f"{str(error.orig).strip().splitlines()[0]} (give --database-url, a "
                 "PostgreSQL server where this user may CREATE DATABASE)")  # fmt: skip
    say(f"database {name} created")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
        say(f"database {name} dropped")


def base_document(geography: Any, end: datetime, seed: int) -> dict[str, Any]:
    """The batch report at ``end`` of one simulated day over the wards."""
    from streams.batch import batch_report
    from streams.events import parse_lines
    from streams.lane import LaneConfig
    from streams.simulate import SimulationConfig, simulate_lines

    config = SimulationConfig(seed=seed, start=end - timedelta(days=1), ping_seconds=60)
    lines = list(simulate_lines(geography.wards, config))
    batches = (parse_lines(lines[i:i + 20_000], max_event_bytes=8192)
               for i in range(0, len(lines), 20_000))  # fmt: skip
    end_us = (end - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return batch_report(geography, batches, LaneConfig(), now_us=end_us, as_of_us=end_us)


def fill_store(
    engine: Engine,
    base: dict[str, Any],
    hours: list[datetime],
    live_as_of: datetime,
    *,
    seed: int,
    say: Callable[[str], None] = print,
) -> int:
    """Every hour's snapshot (``base`` re-stamped, figures scaled) and the live one.

    Returns the number of history rows stored.
    """
    from api.models import format_time
    from api.store import Changes, apply
    from streams.aggregate import snapshot_records

    template = Changes()
    for key, value in snapshot_records(base, prefix=base["as_of"]):
        template.add_history(key, value)
    rows = list(template.history.values())
    summary = next(iter(template.hour_summaries.values()))
    rng = np.random.default_rng(seed)
    stored = 0
    for first in range(0, len(hours), 24):
        day = hours[first : first + 24]
        changes = Changes(areas=template.areas if first == 0 else {})
        for hour in day:
            shift = hour - summary["hour"]
            for row, factor in zip(rows, rng.uniform(0.5, 1.5, len(rows)), strict=True):
                changes.history[hour, row["level"], row["code"], row["window"]] = _scaled(
                    row, hour, shift, float(factor))  # fmt: skip
            changes.hour_summaries[hour] = summary | {"hour": hour}
        with Session(engine) as session, session.begin():
            apply(session, changes)
        stored += len(changes.history)
        if (first // 24) % 7 == 6 or first + 24 >= len(hours):
            say(f"  stored up to {day[-1]:%Y-%m-%d %H:%M}Z: {stored:,} history rows")
    live = Changes()
    for key, value in snapshot_records({**base, "as_of": format_time(live_as_of)}, prefix="live"):
        live.add_live(key.removeprefix("live|"), value)
    with Session(engine) as session, session.begin():
        apply(session, live)
    return stored


def _scaled(row: dict[str, Any], hour: datetime, shift: timedelta, factor: float) -> dict:
    window = WINDOW_MINUTES.get(row["window"], math.inf)
    patrol = min(row["patrol_minutes"] * factor, window)
    target = row["target_minutes"]
    attainment = patrol / target if target else None
    status = ("none" if patrol == 0 else "green" if attainment is None or attainment >= 1
              else "amber" if attainment >= 0.75 else "red")  # fmt: skip
    return row | {
        "hour": hour,
        "patrol_minutes": patrol,
        "foot_minutes": min(row["foot_minutes"] * factor, patrol),
        "unit_minutes": row["unit_minutes"] * factor,
        "visits": round(row["visits"] * factor),
        "koper_visits": round(row["koper_visits"] * factor),
        "last_seen": None if row["last_seen"] is None else row["last_seen"] + shift,
        "attainment": attainment,
        "status": status,
    }
