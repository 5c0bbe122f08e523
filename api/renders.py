"""Answers rendered from a snapshot document, shared by the routes and the stored hours.

:func:`metrics_body` is the JSON of ``/api/v1/metrics``; the materialiser renders it
once for every hour it stores (:mod:`api.hour_documents`), and the route for the live
snapshot and filtered requests, so a stored answer and a rebuilt one are the same bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

from beatlight.api.snapshots import Document

__all__ = ["area_figures", "metrics_body", "revision_of"]


def metrics_body(doc: Document, level: str | None = None, window: str | None = None) -> bytes:
    """The figures of every area of ``level`` (all when None) in ``window`` (all when None)."""
    return orjson.dumps({
        "as_of": doc.body["as_of"], "live": doc.live, **revision_of(doc.body),
        "areas": [area_figures(lv, e, window) for lv, e in doc.level(level)]})  # fmt: skip


def area_figures(level: str, entry: dict[str, Any], window: str | None) -> dict[str, Any]:
    """One area's entry of a figures answer: its windows, or only ``window``."""
    windows = entry["windows"] if window is None else {window: entry["windows"][window]}
    return {"level": level, "code": entry["code"], "name": entry["name"], "windows": windows,
            **revision_of(entry)}  # fmt: skip


def revision_of(found: dict[str, Any]) -> dict[str, Any]:
    """An hour's revision, or an area's when its figures changed after first publication."""
    return {key: found[key] for key in ("revision", "revised_at") if key in found}
