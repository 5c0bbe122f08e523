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
unit: the documents hold none. Figures the stream published again after late uploads
(SPEC "Late uploads") are marked, with when.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.reports import charts, hotspots
from beatlight.reports.commitments import zone_records
from beatlight.reports.method import BOUNDARY_ATTRIBUTION, Method, notes, zone_notes
from beatlight.reports.trends import STATUSES, Day, days, shortfalls, window_for
from beatlight.times import parse_time
from beatlight.windows import window_hours, window_words

__all__ = ["CONTENT_SECURITY_POLICY", "SECTIONS", "build_report"]

#: What a server should send with the page: it runs nothing, loads nothing, and shows
#: only its inline CSS and SVG; no other site may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: Every section's heading, in order (the tests look for each in the printed PDF). With
#: zones, :data:`beatlight.reports.hotspots.HEADING` comes after the trends.
SECTIONS = (
    "Headline figures",
    "Map of wards",
    "Wards below target",
    "Trends",
    "Fairness",
    "How the figures are made",
    "Data and attribution",
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
    words = f"the {window_words(window)} to {_local(as_of, zone)}"
    sections = [
        _headline(document, window, words, _revised_note(document, period, zone)),
        _map(document, window, words, outlines, district_outlines),
        _below(document, window, words, period),
        _trends(document, period, zone),
        *([hotspots.section(zones, zone)] if zones else []),
        _fairness(document, window, words),
        _method(document, method, zones=bool(zones)),
        _attribution(document, attribution, zones=bool(zones)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} — {escape(document['as_of'])}</title>\n"
        f"<style>{_CSS}{hotspots.CSS if zones else ''}</style>\n</head>\n<body>\n"
        f'<header class="cover"><p class="kicker">Beatlight · report for the Police and '
        f"Crime Commissioner</p><h1>{escape(title)}</h1><p class=\"period\">"
        f"{escape(words[0].upper() + words[1:])}, with daily trends over the "
        f"{period_days} day{'s' if period_days != 1 else ''} to "
        f"{_local(period[-1].end, zone)}.</p></header>\n"
        + "\n".join(sections) + "\n</body>\n</html>\n"
    )  # fmt: skip


# -- sections ---------------------------------------------------------------------------


def _headline(document: Mapping[str, Any], window: str, words: str, note: str = "") -> str:
    force = (document.get("force") or {}).get("windows", {}).get(window)
    wards = document["wards"]
    statuses = Counter(w["windows"][window]["status"] for w in wards)
    fair = document["fairness"].get(window, {})
    cards = []
    if force:
        hours = window_hours(window)
        visible = f"out of {hours:,} h, police were visible somewhere in the force area"
        cards.append(_card("Patrol time", _hours(force["patrol_minutes"]), visible))
        foot = force["foot_minutes"] / force["patrol_minutes"] if force["patrol_minutes"] else None
        cards.append(_card("On foot", _pct(foot), f"of that time, someone was on foot "
                           f"({_hours(force['foot_minutes'])})"))  # fmt: skip
        cards.append(_card("Force area seen", _pct(force["coverage"]),
                           "of its grid squares had a patrol ping"))  # fmt: skip
    cards.append(_card("Wards on target", f"{statuses['green']} of {len(wards)}",
                       f"{statuses['amber']} close, {statuses['red']} below target, "
                       f"{statuses['none']} with nobody seen"))  # fmt: skip
    cards.append(_card("Residents in red wards", _pct(fair.get("share_residents_red")),
                       f"{_pct(fair.get('share_wards_red'))} of wards are red"
                       + ("" if fair.get("share_residents_red") is not None
                          else "; ward populations are not known")))  # fmt: skip
    summary = (
        f"In {words}, police were visible somewhere in the force area for "
        f"{_hours(force['patrol_minutes']) if force else 'no recorded time'}. "
        f"{statuses['green']} of {len(wards)} wards met their patrol commitment, "
        f"{statuses['amber']} came close and {statuses['red']} were well below it; "
        + ("every ward saw some patrol." if not statuses["none"] else
           f"in {statuses['none']} nobody was seen at all.")
    )  # fmt: skip
    return _section("headline", 0, f'{note}<div class="cards">{"".join(cards)}</div>'
                    f"<p>{escape(summary)}</p>")  # fmt: skip


def _map(document: Mapping[str, Any], window: str, words: str, outlines: Any,
         district_outlines: Any) -> str:  # fmt: skip
    status = {w["code"]: w["windows"][window]["status"] for w in document["wards"]}
    counts = Counter(status.values())
    if not outlines:
        return _section("map", 1, "<p>No ward outlines were given for this report.</p>")
    districts = None
    if district_outlines:
        names = {d["code"]: d["name"] for d in document.get("districts", [])}
        districts = {c: (names.get(c, c), g) for c, g in district_outlines.items() if c in names}
    legend = "".join(
        f'<li><span class="swatch" style="background:{charts.STATUS_COLOURS[s]}"></span>'
        f"{escape(charts.STATUS_WORDS[s])}: {counts[s]} ward{'s' if counts[s] != 1 else ''}</li>"
        for s in STATUSES
    )
    body = (f'<figure class="map">{charts.choropleth(outlines, status, districts=districts)}'
            f'<figcaption><ul class="legend">{legend}</ul>Each ward coloured by its patrol time '
            f"against its target in {escape(words)}"
            + (". Black lines are district borders." if districts else ".") + "</figcaption>"
            "</figure>")  # fmt: skip
    return _section("map", 1, body)


def _below(document: Mapping[str, Any], window: str, words: str, period: list[Day]) -> str:
    short = shortfalls(document, period, window)
    if not short:
        return _section("below", 2, f"<p>Every ward met its target in {escape(words)}.</p>")
    known = sum(d.ward_status is not None for d in period)
    intro = (f"{len(short)} of {len(document['wards'])} wards were below their target in "
             f"{words}, the furthest below first. “Days in a row” counts the latest days "
             f"running on which the ward missed its daily share of its weekly target; “days "
             f"below”, all such days of the {known} with figures.")  # fmt: skip
    revised = _revised_wards(document)
    rows = []
    for s in short:
        since = "" if s.since is None else f" since {s.since:%a %d %b}"
        rows.append(
            f"<tr><td>{escape(s.name)}{_mark(revised.get(s.code))}"
            f'<span class="code">{escape(s.code)}</span></td>'
            f"<td>{escape(s.district or '')}</td>"
            f'<td class="status"><span class="swatch" '
            f'style="background:{charts.STATUS_COLOURS[s.status]}">'
            f"</span>{escape(_STATUS_SHORT[s.status])}</td>"
            f'<td class="n">{_hours(s.patrol_minutes)} of {_hours(s.target_minutes)}</td>'
            f'<td class="n">{_pct(s.attainment, floor=True)}</td>'
            f'<td class="n">{_hours(s.longest_gap_minutes)}</td>'
            f'<td class="n">{s.days_in_a_row}{escape(since)}</td>'
            f'<td class="n">{s.days_below} of {s.days_known}</td></tr>'
        )
    table = _table(("Ward", "District", "Status", "Patrol time", "Attainment", "Longest gap",
                    "Days in a row", "Days below"), rows)  # fmt: skip
    return _section("below", 2, f"<p>{escape(intro)}</p>{table}")


def _trends(document: Mapping[str, Any], period: list[Day], zone: ZoneInfo) -> str:
    n = len(document["wards"])
    rows = []
    for d in period:
        cells = [f"<td>{d.day:%a %d %b %Y}{_mark(d.revised_at)}</td>"]
        if d.force is None:
            cells.append('<td colspan="8">no data for this day</td>')
        else:
            f = d.force
            cells += [f'<td class="n">{_hours(f["patrol_minutes"])}</td>',
                      f'<td class="n">{_hours(f["foot_minutes"])}</td>',
                      f'<td class="n">{_pct(f["coverage"])}</td>']  # fmt: skip
            cells += [f'<td class="n">{(d.statuses or {}).get(s, 0)}</td>' for s in STATUSES]
            cells.append(f'<td class="n">{_number(d.gini_minutes_per_km2)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = _table(("Day", "Patrol time", "On foot", "Area seen", "Green", "Amber", "Red",
                    "Nobody seen", "Gini per km²"), rows)  # fmt: skip
    body = (
        "<p>Each day's figures are the 24 hours to the local midnight that ends it.</p>"
        f"<figure>{charts.daily_hours(period)}<figcaption>Force patrol time per day: the "
        "hours in which police were visible somewhere in the force area (at most 24)."
        "</figcaption></figure>"
        f"<figure>{charts.daily_statuses(period, n)}<figcaption>Wards by status "
        "each day, against each ward's daily share of its weekly target.</figcaption></figure>"
        + table
    )
    return _section("trends", 3, body)


def _fairness(document: Mapping[str, Any], window: str, words: str) -> str:
    fair = document["fairness"].get(window, {})
    items = [
        ("Gini of patrol time per km² across wards", _number(fair.get("gini_minutes_per_km2"))),
        ("Gini of patrol time per 1,000 residents",
         _number(fair.get("gini_minutes_per_1000_residents"))),
        ("Wards below target (red)", _pct(fair.get("share_wards_red"))),
        ("Residents in wards below target (red)", _pct(fair.get("share_residents_red"))),
        ("Wards where nobody was seen", _pct(fair.get("share_wards_none"))),
        ("Residents in wards where nobody was seen", _pct(fair.get("share_residents_none"))),
    ]  # fmt: skip
    figures = "".join(f'<tr><th>{escape(k)}</th><td class="n">{v}</td></tr>' for k, v in items)
    per_km2 = [w["windows"][window]["patrol_minutes"] / w["area_km2"]
               for w in document["wards"] if w["area_km2"] > 0]  # fmt: skip
    rows = [_district_row(d, document["wards"], window) for d in document.get("districts", [])]
    districts = "" if not rows else "<h3>By district</h3>" + _table(
        ("District", "Wards", "On target", "Close", "Below", "Nobody seen",
         "Median ward attainment", "Residents in red wards"), rows)  # fmt: skip
    body = (
        f"<p>How evenly patrol time was spread over wards and residents in {escape(words)}. "
        "A Gini coefficient of 0 means every ward had the same patrol time for its size; "
        "1 means one ward had all of it.</p>"
        f'<div class="pair"><table class="figures">{figures}</table>'
        f"<figure>{charts.lorenz(per_km2)}<figcaption>Wards from least to most patrolled per "
        "km²: the further the curve sags below the diagonal, the less even the spread."
        f"</figcaption></figure></div>{districts}"
    )
    return _section("fairness", 4, body)


def _district_row(district: Mapping[str, Any], wards: list[Mapping[str, Any]], window: str) -> str:
    """A district's wards by status: how the commitment is kept across its communities."""
    members = [w["windows"][window] for w in wards if w.get("district") == district["code"]]
    counts = Counter(m["status"] for m in members)
    known = sorted(m["attainment"] for m in members if m["attainment"] is not None)
    median = None
    if known:
        middle = len(known) // 2
        median = known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) / 2
    people = [(w.get("population"), w["windows"][window]["status"]) for w in wards
              if w.get("district") == district["code"] and w.get("population")]  # fmt: skip
    total = sum(p for p, _ in people)
    red = sum(p for p, status in people if status == "red") / total if total else None
    cells = [escape(district["name"]), len(members), *(counts[s] for s in STATUSES),
             _pct(median, floor=True), _pct(red)]  # fmt: skip
    return (
        "<tr>"
        + f"<td>{cells[0]}</td>"
        + "".join(f'<td class="n">{c}</td>' for c in cells[1:])
        + "</tr>"
    )


def _method(document: Mapping[str, Any], method: Method, *, zones: bool = False) -> str:
    pairs = notes(method) + (zone_notes() if zones else [])
    terms = "".join(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in pairs)
    reasons = document.get("rejected", {}).items()
    rejected = ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in reasons) or "none"
    data = (f"For this report: {document.get('accepted', 0):,} pings were accepted, "
            f"{document.get('duplicates', 0):,} repeats ignored, {document.get('outside', 0):,} "
            f"fell outside every ward, and pings set aside were: {rejected}.")  # fmt: skip
    return _section("method", 5, f"<dl>{terms}</dl><p>{escape(data)}</p>")


def _attribution(document: Mapping[str, Any], attribution: str, *, zones: bool = False) -> str:
    body = (
        f"<p>{escape(attribution)}</p>"
        "<p>Patrol presence: anonymised positions from the force's radios, vehicles and "
        "body-worn devices, processed by Beatlight. Every figure is from the report document as of "
        f"{escape(document['as_of'])}, the same as <code>beatlight report --as-of "
        f"{escape(document['as_of'])}</code> on the same events.</p>"
        "<p>Beatlight measures places, not people: this report names no officer and no "
        "device, and shows nothing finer than a ward"
        + (", apart from the places the force has committed to patrol at set times"
           if zones else "") + ".</p>"
    )  # fmt: skip
    return _section("attribution", 6, body)


def _revised_note(document: Mapping[str, Any], period: list[Day], zone: ZoneInfo) -> str:
    """Says which figures changed after they were first published, and when (or nothing)."""
    parts = []
    if document.get("revision"):
        revised = _revised_wards(document)
        names = sorted(w["name"] for w in document["wards"] if w["code"] in revised)
        when = document.get("revised_at")
        at = _local(parse_time(when), zone) if when else None
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


def _revised_wards(document: Mapping[str, Any]) -> dict[str, str | None]:
    """Wards whose figures changed after first publication, with when."""
    return {w["code"]: w.get("revised_at") for w in document["wards"] if w.get("revision")}


def _mark(revised_at: str | None) -> str:
    """The marker of a revised figure, saying when in its tooltip."""
    if revised_at is None:
        return ""
    return (f' <abbr class="revised-mark" title="Revised after first publication, at '
            f'{escape(revised_at)}">{_MARK}</abbr>')  # fmt: skip


_MARK = "†"


# -- helpers ------------------------------------------------------------------------------

_STATUS_SHORT = {"green": "On target", "amber": "Close", "red": "Below", "none": "Nobody seen"}


def _section(key: str, index: int, body: str) -> str:
    return f'<section id="{key}">\n<h2>{SECTIONS[index]}</h2>\n{body}\n</section>'


def _card(label: str, value: str, detail: str) -> str:
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>'
            f'<div class="detail">{escape(detail)}</div></div>')  # fmt: skip


def _table(header: tuple[str, ...], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _hours(minutes: float | None) -> str:
    if minutes is None:
        return "–"
    hours = minutes / 60
    return f"{hours:,.0f} h" if hours >= 100 else f"{hours:,.1f} h"


def _pct(share: float | None, *, floor: bool = False) -> str:
    """A share as a whole percentage; ``floor`` for attainment, so that 74.9% (red) never
    shows as 75% (amber) nor 99.6% (amber) as 100% (green)."""
    if share is None:
        return "–"
    return f"{math.floor(share * 100 + 1e-9)}%" if floor else f"{share:.0%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


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
