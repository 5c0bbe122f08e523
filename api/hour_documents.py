"""Each stored hour rendered once, when it is stored, and read back by the API as bytes.

Rebuilding an hour's document from its rows costs the API 0.7 s for England (63,000
figures), on every request for an hour it does not hold. So when the materialiser
stores an hour (:func:`api.store.apply`), :func:`render_hours` reads the hour back from
the rows just written, in the same transaction, and stores two renderings of it, gzip
compressed: the report document (what every route for the hour is built from) and the
answer of ``/api/v1/metrics?as_of={hour}`` (every area and window: served as it is), and
that answer for each level in each window (``hour_answers``: what a map stepping through
hours asks for, a ninth of the whole at England scale, served as it is too).

An hour is rendered again only when a newer revision of it is stored (SPEC "Late
uploads"): the newest revision wins, and a replay of the topic renders nothing. The
document's ``digest`` names its bytes, so the API can tell that a stored hour changed
with one small query.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.db import insert_for
from beatlight.api.documents import report_document_at
from beatlight.api.models import HourAnswer, HourDocument
from beatlight.api.renders import metrics_body
from beatlight.api.schemas import LEVELS
from beatlight.api.snapshots import Document
from beatlight.windows import WINDOWS

__all__ = ["Rendered", "render", "render_hours"]

#: gzip's level for stored hours: England's figures answer is 14 MB of JSON, 6 gives
#: most of 9's saving at a third of its time.
LEVEL = 6


@dataclass(frozen=True)
class Rendered:
    """One hour's renderings, compressed, as stored."""

    revision: int | None
    digest: str
    document: bytes
    metrics: bytes
    answers: dict[tuple[str, str], bytes]  # (level, window) → that level's figures then


def render(body: dict[str, Any]) -> Rendered:
    """The stored renderings of an hour's report document ``body``."""
    document = gzip.compress(orjson.dumps(body), LEVEL, mtime=0)
    parsed = Document(body, live=False)
    metrics = gzip.compress(metrics_body(parsed), LEVEL, mtime=0)
    answers = {(level, window): gzip.compress(metrics_body(parsed, level, window), LEVEL,
                                              mtime=0)
               for level in LEVELS for window in WINDOWS}  # fmt: skip
    digest = hashlib.blake2b(document, digest_size=8).hexdigest()
    return Rendered(body.get("revision"), digest, document, metrics, answers)


def render_hours(session: Session, summaries: Mapping[datetime, Mapping[str, Any]]) -> int:
    """Render and store the hours of ``summaries`` (hour → its summary row, just stored)
    whose document is missing or of an older revision; returns how many were rendered.

    Call after the hours' rows, in the same transaction: the documents are read from them.
    """
    if not summaries:
        return 0
    table = HourDocument.__table__
    stored = dict(session.execute(sa.select(table.c.hour, table.c.revision)
                                  .where(table.c.hour.in_(list(summaries)))).all())  # fmt: skip
    rows, answers = [], []
    for hour, summary in summaries.items():
        new, old = summary.get("revision"), stored.get(hour, -1)
        if hour in stored and new is not None and old is not None and new <= old:
            continue  # this revision, or a newer one, is rendered already
        body = report_document_at(session, hour)
        if body is not None:
            done = render(body)
            rows.append({"hour": hour, "revision": done.revision, "digest": done.digest,
                         "document": done.document, "metrics": done.metrics})  # fmt: skip
            answers += [{"hour": hour, "level": level, "window": window,
                         "digest": done.digest, "body": answer}
                        for (level, window), answer in done.answers.items()]  # fmt: skip
    _upsert(session, table, rows, ["hour"])
    _upsert(session, HourAnswer.__table__, answers, ["hour", "level", "window"])
    return len(rows)


def _upsert(session: Session, table: sa.Table, rows: list[dict[str, Any]],
            key: list[str]) -> None:  # fmt: skip
    if rows:
        insert = insert_for(session)(table)
        updated = {c: insert.excluded[c] for c in rows[0] if c not in key}
        session.execute(insert.on_conflict_do_update(index_elements=key, set_=updated), rows)
