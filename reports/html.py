"""The PCC report: one self-contained, printable HTML page from report documents.

:func:`build_report` takes the batch report's document at ``as_of`` (SPEC "Batch
report contract"), the documents at the period's daily boundaries for trends, and
ward outlines, and returns HTML with inline CSS and SVG: no script, no font, no
image or style sheet from anywhere, so it opens and prints offline. It is pure: the
CLI (``beatlight report --format html``) and the API (``/report?format=html``) fetch
the documents and outlines, and get the same page.

Nothing finer than a ward is shown, bar the zones the force has committed to patrol
at set times (SPEC "Zones and scheduled commitments"; their section is
:mod:`beatlight.reports.hotspots`, present only when the document has zones), and no
unit: the documents hold none. The sections are :mod:`beatlight.reports.sections`; this
module is the page around them and its style.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.reports import hotspots
from beatlight.reports.commitments import zone_records
from beatlight.reports.formatting import local_time
from beatlight.reports.method import BOUNDARY_ATTRIBUTION, Method
from beatlight.reports.sections import build_sections
from beatlight.reports.trends import days, window_for
from beatlight.times import parse_time
from beatlight.windows import window_words

__all__ = ["CONTENT_SECURITY_POLICY", "build_report"]

#: What a server should send with the page: it runs nothing, loads nothing, and shows
#: only its inline CSS and SVG; no other site may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def build_report(
    document: Mapping[str, Any],
    *,
    history: Iterable[Mapping[str, Any]] = (),
    outlines: Mapping[str, Mapping[str, Any]] | None = None,
    district_outlines: Mapping[str, Mapping[str, Any]] | None = None,
    period_days: int = 7,
    method: Method,
    zone: ZoneInfo | str | None = None,
    attribution: str = BOUNDARY_ATTRIBUTION,
) -> str:
    """The report for the ``period_days`` days to ``document["as_of"]``.

    ``history``: documents at the period's local midnights (others are ignored; a
    missing day shows as "no data"). ``outlines``: GeoJSON geometry (WGS84) of each
    ward by code, and ``district_outlines`` of each district, for the map. ``method``:
    the settings the figures were computed with (:func:`beatlight.configs.method`);
    ``zone``: where days are local (default: the method's time zone). With ``zones`` in
    the document, the zones' sessions come from it and from ``history``.
    """
    zone = ZoneInfo(zone or method.timezone) if isinstance(zone, str | None) else zone
    as_of = parse_time(document["as_of"])
    window = window_for(period_days)
    history = list(history)
    period = days(history, as_of, period_days, zone)
    zones = zone_records(document, history, period_days, zone)
    force = document.get("force") or {}
    title = f"Visible neighbourhood policing in {force.get('name') or 'the force area'}"
    words = f"the {window_words(window)} to {local_time(as_of, zone)}"
    sections = build_sections(
        document, window=window, words=words, period=period, zone=zone, outlines=outlines,
        district_outlines=district_outlines, method=method, attribution=attribution,
        zones=zones,
    )  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} — {escape(document['as_of'])}</title>\n"
        f"<style>{_CSS}{hotspots.CSS if zones else ''}</style>\n</head>\n<body>\n"
        f'<header class="cover"><p class="kicker">Beatlight · report for the Police and '
        f"Crime Commissioner</p><h1>{escape(title)}</h1><p class=\"period\">"
        f"{escape(words[0].upper() + words[1:])}, with daily trends over the "
        f"{period_days} day{'s' if period_days != 1 else ''} to "
        f"{local_time(period[-1].end, zone)}.</p></header>\n"
        + "\n".join(sections) + "\n</body>\n</html>\n"
    )  # fmt: skip


_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
@page { @bottom-right { content: "Page " counter(page) " of " counter(pages);
  font: 9pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #555; } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10.5pt;
  line-height: 1.4; color: #1a1a1a; max-width: 190mm; margin: 0 auto; padding: 8mm 6mm; }
h1 { font-size: 21pt; margin: 0 0 4pt; line-height: 1.2; }
h2 { font-size: 15pt; border-bottom: 2px solid #0072B2; padding-bottom: 3pt; margin: 0 0 8pt; }
h3 { font-size: 12pt; margin: 12pt 0 6pt; }
.kicker { text-transform: uppercase; letter-spacing: .08em; color: #0072B2; font-size: 9pt;
  margin: 0 0 6pt; font-weight: bold; }
.period { color: #444; margin: 0 0 14pt; }
section { margin: 0 0 18pt; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8pt; margin: 0 0 10pt; }
.card { border: 1px solid #ccc; border-left: 5px solid #0072B2; padding: 6pt 8pt;
  break-inside: avoid; }
.card .label { font-size: 9pt; color: #555; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 19pt; font-weight: bold; margin: 2pt 0; }
.card .detail { font-size: 9pt; color: #333; }
figure { margin: 6pt 0 12pt; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; font-size: 11px; }
figure.map svg { max-height: 205mm; margin: 0 auto; }
figcaption { font-size: 9pt; color: #444; margin-top: 4pt; }
.legend { list-style: none; padding: 0; margin: 6pt 0; display: flex; flex-wrap: wrap;
  gap: 4pt 14pt; font-size: 9.5pt; color: #1a1a1a; }
.swatch { display: inline-block; width: 10pt; height: 10pt; margin-right: 4pt;
  vertical-align: -1pt; border: 1px solid #fff; outline: 1px solid #999; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 6pt 0; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { text-align: left; padding: 3pt 5pt; border-bottom: 1px solid #ddd;
  vertical-align: top; }
thead th { background: #eef4f9; border-bottom: 1.5px solid #0072B2; }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.code { display: block; color: #666; font-size: 8pt; }
.pair { display: grid; grid-template-columns: 1fr 68mm; gap: 12pt; align-items: start; }
table.figures th { background: none; font-weight: normal; }
dl { margin: 0; columns: 2; column-gap: 14pt; font-size: 9.5pt; }
dt { font-weight: bold; margin-top: 6pt; break-after: avoid; }
dt:first-child { margin-top: 0; }
dd { margin: 1pt 0 0 0; break-inside: avoid; }
td.status { white-space: nowrap; }
.revised { border-left: 5px solid #CC79A7; background: #fbf0f6; padding: 5pt 8pt; }
.revised-mark { color: #7a2e5a; font-weight: bold; text-decoration: none; }
code { font-size: 9pt; }
@media print {
  body { max-width: none; padding: 0; }
  section { break-before: page; margin: 0; }
  section#headline { break-before: auto; }
  h2 { break-after: avoid; }
}
"""
