"""A store for ``bench/api_load.py``: a scratch PostgreSQL database, filled fast.

One simulated day over the wards is reported once by ``streams.batch.batch_report``;
that document, re-stamped and its figures scaled at random, is the snapshot of
every hour of the history and the live snapshot. Speed matters more than realism
here: the API reads rows, not their meaning. The areas, hour summaries and the live
snapshot go in as the materialiser writes them (``api.store.Changes``/``apply``);
the history rows (15,700 areas x 4 windows an hour for England: 1.5 M a day) go in
with PostgreSQL's COPY, a day of hours per transaction, their figures scaled with
NumPy (SQLite: through ``apply`` as well), before the hours' summaries, whose ``apply``
renders and stores each hour's documents from those rows as the materialiser does.
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
    from beatlight.api.db import create_engine_for, display_url

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
    from beatlight.configs import lane_config
    from beatlight.streams.batch import batch_report
    from beatlight.streams.events import parse_lines
    from beatlight.streams.simulate import SimulationConfig, simulate_lines

    config = SimulationConfig(seed=seed, start=end - timedelta(days=1), ping_seconds=60)
    lines = list(simulate_lines(geography.wards, config))
    batches = (parse_lines(lines[i:i + 20_000], max_event_bytes=8192)
               for i in range(0, len(lines), 20_000))  # fmt: skip
    end_us = (end - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return batch_report(geography, batches, lane_config(), now_us=end_us, as_of_us=end_us)


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
    from beatlight.api.store import Changes, apply
    from beatlight.streams.aggregate import snapshot_records
    from beatlight.times import format_time

    template = Changes()
    for key, value in snapshot_records(base, prefix=base["as_of"]):
        template.add_history(key, value)
    rows = list(template.history.values())
    summary = next(iter(template.hour_summaries.values()))
    columns = _Columns(rows)
    rng = np.random.default_rng(seed)
    copy = engine.dialect.name == "postgresql"
    stored = 0
    for first in range(0, len(hours), 24):
        day = hours[first : first + 24]
        changes = Changes(areas=template.areas if first == 0 else {})
        scaled = []
        for hour in day:
            factor = rng.uniform(0.5, 1.5, len(rows))
            scaled.append(columns.scaled(hour, hour - summary["hour"], factor))
            changes.hour_summaries[hour] = summary | {"hour": hour}
        if not copy:
            for hour_rows in scaled:
                changes.history.update(((r["hour"], r["level"], r["code"], r["window"]), r)
                                       for r in hour_rows)  # fmt: skip
        with Session(engine) as session, session.begin():
            if copy:  # before the summaries, which render each hour from its rows
                _copy_history(session, scaled)
            apply(session, changes)
        stored += len(rows) * len(day)
        if (first // 24) % 7 == 6 or first + 24 >= len(hours):
            say(f"  stored up to {day[-1]:%Y-%m-%d %H:%M}Z: {stored:,} history rows")
    live = Changes()
    for key, value in snapshot_records({**base, "as_of": format_time(live_as_of)}, prefix="live"):
        live.add_live(key.removeprefix("live|"), value)
    with Session(engine) as session, session.begin():
        apply(session, live)
    return stored


class _Columns:
    """The template's history rows as arrays, for scaling a whole hour at once."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.keys = [(r["level"], r["code"], r["window"]) for r in rows]
        self.window = np.array([WINDOW_MINUTES.get(r["window"], math.inf) for r in rows])
        for name in ("patrol_minutes", "foot_minutes", "unit_minutes", "visits",
                     "koper_visits", "target_minutes"):  # fmt: skip
            setattr(self, name, np.array([r[name] for r in rows], dtype=float))

    def scaled(self, hour: datetime, shift: timedelta, factor: np.ndarray) -> list[dict]:
        """Every row re-stamped to ``hour``, its figures times ``factor`` (within reason)."""
        patrol = np.minimum(self.patrol_minutes * factor, self.window)
        target = self.target_minutes
        with np.errstate(divide="ignore", invalid="ignore"):
            attainment = np.where(target > 0, patrol / target, np.nan)
        status = np.select(
            [patrol == 0, np.isnan(attainment) | (attainment >= 1), attainment >= 0.75],
            ["none", "green", "amber"], "red",
        )  # fmt: skip
        figures = zip(
            patrol.tolist(),
            np.minimum(self.foot_minutes * factor, patrol).tolist(),
            (self.unit_minutes * factor).tolist(),
            np.round(self.visits * factor).astype(int).tolist(),
            np.round(self.koper_visits * factor).astype(int).tolist(),
            [None if np.isnan(a) else a for a in attainment.tolist()],
            status.tolist(),
            strict=True,
        )
        out = []
        for row, (p, foot, unit, visits, koper, att, st) in zip(self.rows, figures, strict=True):
            seen = row["last_seen"]
            out.append(row | {
                "hour": hour, "patrol_minutes": p, "foot_minutes": foot, "unit_minutes": unit,
                "visits": visits, "koper_visits": koper, "attainment": att, "status": st,
                "last_seen": None if seen is None else seen + shift,
            })  # fmt: skip
        return out


_HISTORY_COLUMNS = ("hour", "level", "code", "window", "patrol_minutes", "foot_minutes",
                    "unit_minutes", "longest_gap_minutes", "distinct_units", "visits",
                    "koper_visits", "coverage", "last_seen", "target_minutes", "attainment",
                    "status")  # fmt: skip


def _copy_history(session: Session, hours: list[list[dict[str, Any]]]) -> None:
    """History rows by COPY: ten times the rows per second of INSERT ... ON CONFLICT."""
    cursor = session.connection().connection.driver_connection.cursor()  # psycopg 3
    names = ", ".join(f'"{c}"' for c in _HISTORY_COLUMNS)  # "window" is a keyword
    with cursor.copy(f"COPY history ({names}) FROM STDIN") as copy:
        for rows in hours:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _HISTORY_COLUMNS))
