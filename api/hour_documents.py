"""Each stored hour rendered once, when it is stored, and read back by the API as bytes.

Rebuilding an hour's document from its rows costs the API 0.7 s for England (63,000
figures), on every request for an hour it does not hold. So when the materialiser
stores an hour (:func:`api.store.apply`), :func:`render_hours` reads the hour back from
the rows just written, in the same transaction, and stores two renderings of it, gzip
compressed: the report document (what every route for the hour is built from) and the
answer of ``/api/v1/metrics?as_of={hour}`` (every area and window: served as it is).

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
from beatlight.api.models import HourDocument
from beatlight.api.renders import metrics_body
from beatlight.api.snapshots import Document

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


def render(body: dict[str, Any]) -> Rendered:
    """The stored renderings of an hour's report document ``body``."""
    document = gzip.compress(orjson.dumps(body), LEVEL, mtime=0)
    metrics = gzip.compress(metrics_body(Document(body, live=False)), LEVEL, mtime=0)
    digest = hashlib.blake2b(document, digest_size=8).hexdigest()
    return Rendered(body.get("revision"), digest, document, metrics)


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
    rows = []
    for hour, summary in summaries.items():
        new, old = summary.get("revision"), stored.get(hour, -1)
        if hour in stored and new is not None and old is not None and new <= old:
            continue  # this revision, or a newer one, is rendered already
        body = report_document_at(session, hour)
        if body is not None:
            done = render(body)
            rows.append({"hour": hour, "revision": done.revision, "digest": done.digest,
                         "document": done.document, "metrics": done.metrics})  # fmt: skip
    if rows:
        insert = insert_for(session)(table)
        updated = {c: insert.excluded[c] for c in ("revision", "digest", "document", "metrics")}
        session.execute(insert.on_conflict_do_update(index_elements=["hour"], set_=updated),
                        rows)  # fmt: skip
    return len(rows)
