"""Figures the stream published again after late uploads (SPEC "Late uploads"): the
report's note saying which changed and when, and the mark beside each revised figure."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.reports.formatting import local_time
from beatlight.reports.trends import Day
from beatlight.times import parse_time

__all__ = ["mark", "revised_note", "revised_wards"]


def revised_note(document: Mapping[str, Any], period: list[Day], zone: ZoneInfo) -> str:
    """Says which figures changed after they were first published, and when (or nothing)."""
    parts = []
    if document.get("revision"):
        revised = revised_wards(document)
        names = sorted(w["name"] for w in document["wards"] if w["code"] in revised)
        when = document.get("revised_at")
        at = local_time(parse_time(when), zone) if when else None
        parts.append(
            f"These figures were revised after they were first published (revision "
            f"{document['revision']}{f', made {at}' if at else ''}): pings that devices "
            "uploaded late, such as body-worn cameras docking after a shift, were counted."
            + (f" Wards whose figures changed are marked {_MARK}: {', '.join(names)}."
               if names else "")
        )  # fmt: skip
    days_revised = [d for d in period if d.revised_at]
    if days_revised:
        parts.append(f"Days marked {_MARK} in the trends had their figures revised after "
                     "they were first published, for the same reason.")  # fmt: skip
    if not parts:
        return ""
    return f'<p class="revised" role="note"><strong>Revised.</strong> {escape(" ".join(parts))}</p>'


def revised_wards(document: Mapping[str, Any]) -> dict[str, str | None]:
    """Wards whose figures changed after first publication, with when."""
    return {w["code"]: w.get("revised_at") for w in document["wards"] if w.get("revision")}


def mark(revised_at: str | None) -> str:
    """The marker of a revised figure, saying when in its tooltip."""
    if revised_at is None:
        return ""
    return (f' <abbr class="revised-mark" title="Revised after first publication, at '
            f'{escape(revised_at)}">{_MARK}</abbr>')  # fmt: skip


_MARK = "†"
