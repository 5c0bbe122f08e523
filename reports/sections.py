"""The seven sections of the PCC report, each an HTML fragment from the report documents.

:func:`build_sections` gives them in the order of :data:`SECTIONS`; the page around
them is :func:`beatlight.reports.html.build_report`. Figures the stream published
again after late uploads (SPEC "Late uploads") are marked, with when.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.reports import charts, hotspots
from beatlight.reports.formatting import card, hours, number, pct, table
from beatlight.reports.method import Method, notes, zone_notes
from beatlight.reports.revisions import mark, revised_note, revised_wards
from beatlight.reports.trends import STATUSES, Day, shortfalls
from beatlight.windows import window_hours

__all__ = ["SECTIONS", "build_sections"]

#: Every section's heading, in order (the tests look for each in the printed PDF).
SECTIONS = (
    "Headline figures",
    "Map of wards",
    "Wards below target",
    "Trends",
    "Fairness",
    "How the figures are made",
    "Data and attribution",
)


def build_sections(
    document: Mapping[str, Any],
    *,
    window: str,
    words: str,
    period: list[Day],
    zone: ZoneInfo,
    outlines: Mapping[str, Mapping[str, Any]] | None,
    district_outlines: Mapping[str, Mapping[str, Any]] | None,
    method: Method,
    attribution: str,
    zones: list[Any] | None = None,
) -> list[str]:
    """Every section of the report on ``window`` (``words`` says it in prose), in order;
    with ``zones`` (:func:`beatlight.reports.commitments.zone_records`), their section
    after the trends."""
    return [
        _headline(document, window, words, revised_note(document, period, zone)),
        _map(document, window, words, outlines, district_outlines),
        _below(document, window, words, period),
        _trends(document, period, zone),
        *([hotspots.section(zones, zone)] if zones else []),
        _fairness(document, window, words),
        _method(document, method, zones=bool(zones)),
        _attribution(document, attribution, zones=bool(zones)),
    ]


def _headline(document: Mapping[str, Any], window: str, words: str, note: str = "") -> str:
    force = (document.get("force") or {}).get("windows", {}).get(window)
    wards = document["wards"]
    statuses = Counter(w["windows"][window]["status"] for w in wards)
    fair = document["fairness"].get(window, {})
    cards = []
    if force:
        span = window_hours(window)
        visible = f"out of {span:,} h, police were visible somewhere in the force area"
        cards.append(card("Patrol time", hours(force["patrol_minutes"]), visible))
        foot = force["foot_minutes"] / force["patrol_minutes"] if force["patrol_minutes"] else None
        cards.append(card("On foot", pct(foot), f"of that time, someone was on foot "
                           f"({hours(force['foot_minutes'])})"))  # fmt: skip
        cards.append(card("Force area seen", pct(force["coverage"]),
                           "of its grid squares had a patrol ping"))  # fmt: skip
    cards.append(card("Wards on target", f"{statuses['green']} of {len(wards)}",
                       f"{statuses['amber']} close, {statuses['red']} below target, "
                       f"{statuses['none']} with nobody seen"))  # fmt: skip
    cards.append(card("Residents in red wards", pct(fair.get("share_residents_red")),
                       f"{pct(fair.get('share_wards_red'))} of wards are red"
                       + ("" if fair.get("share_residents_red") is not None
                          else "; ward populations are not known")))  # fmt: skip
    summary = (
        f"In {words}, police were visible somewhere in the force area for "
        f"{hours(force['patrol_minutes']) if force else 'no recorded time'}. "
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
    revised = revised_wards(document)
    rows = []
    for s in short:
        since = "" if s.since is None else f" since {s.since:%a %d %b}"
        rows.append(
            f"<tr><td>{escape(s.name)}{mark(revised.get(s.code))}"
            f'<span class="code">{escape(s.code)}</span></td>'
            f"<td>{escape(s.district or '')}</td>"
            f'<td class="status"><span class="swatch" '
            f'style="background:{charts.STATUS_COLOURS[s.status]}">'
            f"</span>{escape(_STATUS_SHORT[s.status])}</td>"
            f'<td class="n">{hours(s.patrol_minutes)} of {hours(s.target_minutes)}</td>'
            f'<td class="n">{pct(s.attainment, floor=True)}</td>'
            f'<td class="n">{hours(s.longest_gap_minutes)}</td>'
            f'<td class="n">{s.days_in_a_row}{escape(since)}</td>'
            f'<td class="n">{s.days_below} of {s.days_known}</td></tr>'
        )
    listing = table(("Ward", "District", "Status", "Patrol time", "Attainment", "Longest gap",
                    "Days in a row", "Days below"), rows)  # fmt: skip
    return _section("below", 2, f"<p>{escape(intro)}</p>{listing}")


def _trends(document: Mapping[str, Any], period: list[Day], zone: ZoneInfo) -> str:
    n = len(document["wards"])
    rows = []
    for d in period:
        cells = [f"<td>{d.day:%a %d %b %Y}{mark(d.revised_at)}</td>"]
        if d.force is None:
            cells.append('<td colspan="8">no data for this day</td>')
        else:
            f = d.force
            cells += [f'<td class="n">{hours(f["patrol_minutes"])}</td>',
                      f'<td class="n">{hours(f["foot_minutes"])}</td>',
                      f'<td class="n">{pct(f["coverage"])}</td>']  # fmt: skip
            cells += [f'<td class="n">{(d.statuses or {}).get(s, 0)}</td>' for s in STATUSES]
            cells.append(f'<td class="n">{number(d.gini_minutes_per_km2)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    listing = table(("Day", "Patrol time", "On foot", "Area seen", "Green", "Amber", "Red",
                    "Nobody seen", "Gini per km²"), rows)  # fmt: skip
    body = (
        "<p>Each day's figures are the 24 hours to the local midnight that ends it.</p>"
        f"<figure>{charts.daily_hours(period)}<figcaption>Force patrol time per day: the "
        "hours in which police were visible somewhere in the force area (at most 24)."
        "</figcaption></figure>"
        f"<figure>{charts.daily_statuses(period, n)}<figcaption>Wards by status "
        "each day, against each ward's daily share of its weekly target.</figcaption></figure>"
        + listing
    )
    return _section("trends", 3, body)


def _fairness(document: Mapping[str, Any], window: str, words: str) -> str:
    fair = document["fairness"].get(window, {})
    items = [
        ("Gini of patrol time per km² across wards", number(fair.get("gini_minutes_per_km2"))),
        ("Gini of patrol time per 1,000 residents",
         number(fair.get("gini_minutes_per_1000_residents"))),
        ("Wards below target (red)", pct(fair.get("share_wards_red"))),
        ("Residents in wards below target (red)", pct(fair.get("share_residents_red"))),
        ("Wards where nobody was seen", pct(fair.get("share_wards_none"))),
        ("Residents in wards where nobody was seen", pct(fair.get("share_residents_none"))),
    ]  # fmt: skip
    figures = "".join(f'<tr><th>{escape(k)}</th><td class="n">{v}</td></tr>' for k, v in items)
    per_km2 = [w["windows"][window]["patrol_minutes"] / w["area_km2"]
               for w in document["wards"] if w["area_km2"] > 0]  # fmt: skip
    rows = [_district_row(d, document["wards"], window) for d in document.get("districts", [])]
    districts = "" if not rows else "<h3>By district</h3>" + table(
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
             pct(median, floor=True), pct(red)]  # fmt: skip
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


_STATUS_SHORT = {"green": "On target", "amber": "Close", "red": "Below", "none": "Nobody seen"}


def _section(key: str, index: int, body: str) -> str:
    return f'<section id="{key}">\n<h2>{SECTIONS[index]}</h2>\n{body}\n</section>'
