"""The PCC report's section on zones: "Hot spots and peak-time commitments".

For each zone (SPEC "Zones and scheduled commitments") a calendar strip of the period's
days, each day showing its sessions met, missed or still on, then the sessions met and
missed and the patrol time in them; first, the zones furthest behind. A day's state is
told by its colour, by a mark (✓ ✗ …) and, for a missed session, by hatching, so that
the strip reads in black and white and without colour vision; each day says in words
what it shows, for screen readers and as a tooltip. Zones are places, as wards are: no
figure here is about a unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from zoneinfo import ZoneInfo

from beatlight.reports.commitments import Session, ZoneDay, ZoneRecord, furthest_behind
from beatlight.reports.formatting import hours, pct, table

__all__ = ["CSS", "DAY_MARKS", "DAY_WORDS", "HEADING", "section"]

HEADING = "Hot spots and peak-time commitments"
#: A day's mark in its cell: read in black and white as well as in colour.
DAY_MARKS = {"met": "✓", "missed": "✗", "open": "…", "none": "", "unknown": "–"}
#: A day's state in the strip's legend.
DAY_WORDS = {
    "met": "every session met",
    "missed": "a session missed",
    "open": "a session still on",
    "none": "no session scheduled",
    "unknown": "no figures for this day",
}
_SESSION_MARKS = {"met": "✓", "missed": "✗", "open": "…"}
_SESSION_WORDS = {"met": "met", "missed": "missed", "open": "still on"}


def section(records: Sequence[ZoneRecord], zone: ZoneInfo) -> str:
    """The section for ``records`` (from :func:`~beatlight.reports.commitments.zone_records`)."""
    days = records[0].days
    first, last = days[0].day, days[-1].day
    span = f"the {len(days)} day{'s' if len(days) != 1 else ''} from {_day(first)} to {_day(last)}"
    met = sum(r.met for r in records)
    missed = sum(r.missed for r in records)
    still = sum(r.count("open") for r in records)
    ended = met + missed
    intro = (
        f"Besides its wards, the force has committed to patrol {len(records)} places (hot "
        "spots, town centres and the like) at set times. Each of those times is a session. "
        "A session is met when police were there for the time promised and never away for "
        "longer than allowed. "
        + (f"In {span}, {met} of the {ended} sessions that ended were met and {missed} "
           f"were missed ({pct(met / ended)} met)" if ended else
           f"No session ended in {span}")
        + (f"; {still} {'is' if still == 1 else 'are'} still on." if still else ".")
    )  # fmt: skip
    body = [f"<p>{escape(intro)}</p>", _behind(records, span)]
    body.append("<h3>Zone by zone</h3>" + _legend()
                + "".join(_zone(r, zone) for r in records))  # fmt: skip
    return f'<section id="zones">\n<h2>{HEADING}</h2>\n{"".join(body)}\n</section>'


def _behind(records: Sequence[ZoneRecord], span: str) -> str:
    behind = furthest_behind(records)
    if not behind:
        return f"<h3>Furthest behind</h3><p>No session was missed in {escape(span)}.</p>"
    rows = [
        f'<tr><td>{escape(r.name)}<span class="code">{escape(r.code)}</span></td>'
        f"<td>{escape(_kind(r.kind))}</td>"
        f'<td class="n">{r.met} of {r.met + r.missed}</td>'
        f'<td class="n">{r.missed}</td>'
        f'<td class="n">{pct(r.share_met, floor=True)}</td>'
        f'<td class="n">{hours(r.patrol_minutes)}</td></tr>'
        for r in behind
    ]
    intro = (f"The zones where sessions were missed in {span}, furthest behind first: the "
             "lowest share of sessions met, then the most sessions missed.")  # fmt: skip
    head = ("Zone", "Kind", "Sessions met", "Missed", "Share met", "Patrol time in sessions")
    return f"<h3>Furthest behind</h3><p>{escape(intro)}</p>{table(head, rows)}"


def _zone(record: ZoneRecord, zone: ZoneInfo) -> str:
    still = record.count("open")
    unknown = sum(not d.known for d in record.days)
    if record.sessions:
        words = (f"{record.met} session{'s' if record.met != 1 else ''} met, "
                 f"{record.missed} missed" + (f", {still} still on" if still else "")
                 + (f" ({pct(record.share_met, floor=True)} of those ended met)"
                    if record.share_met is not None else "")
                 + f". Patrol time in sessions: {hours(record.patrol_minutes)}.")  # fmt: skip
    else:
        words = "No session was scheduled on these days."
    if unknown:
        words += f" No figures for {unknown} day{'s' if unknown != 1 else ''}."
    target = ""
    if record.target:
        parts = [f"last {'7' if w == '7d' else '28'} days {hours(p)} of {hours(t)} "
                 f"({pct(a, floor=True)})" for w, (p, t, a) in record.target.items()]  # fmt: skip
        target = f"<p>Weekly patrol target: {escape('; '.join(parts))}.</p>"
    cells = "".join(_cell(d, record.name, zone, first=i == 0) for i, d in enumerate(record.days))
    label = f"{record.name}: sessions day by day, {_day(record.days[0].day)} to " \
            f"{_day(record.days[-1].day)}"  # fmt: skip
    return (
        f'<div class="zone" id="zone-{escape(record.code)}"><h4>{escape(record.name)} '
        f'<span class="code">{escape(record.code)} · {escape(_kind(record.kind))}</span></h4>'
        f"<p>{escape(words)}</p>{target}"
        f'<ol class="strip" aria-label="{escape(label)}">{cells}</ol></div>'
    )


def _cell(day: ZoneDay, name: str, zone: ZoneInfo, *, first: bool = False) -> str:
    state = day.state
    what = [_session_words(s, zone) for s in day.sessions]
    if state == "unknown":  # the sessions some document lists, maybe not all of the day's
        what.insert(0, DAY_WORDS["unknown"] + (", some sessions listed" if what else ""))
    words = f"{name}, {_day(day.day)}: {'; '.join(what) or DAY_WORDS['none']}"
    marks = "".join(_SESSION_MARKS[s.state] for s in day.sessions)
    marks = DAY_MARKS["unknown"] + marks if state == "unknown" else marks or DAY_MARKS[state]
    return (
        f'<li class="day {state}" role="img" title="{escape(words)}" '
        f'aria-label="{escape(words)}"><span class="date">{_date(day.day, first)}</span>'
        f'<span class="mark">{escape(marks)}</span></li>'
    )


def _session_words(session: Session, zone: ZoneInfo) -> str:
    start, end = session.start.astimezone(zone), session.end.astimezone(zone)
    return (f"session {start:%H:%M} to {end:%H:%M} {_SESSION_WORDS[session.state]}, "
            f"{hours(session.patrol_minutes)} of patrol, longest gap "
            f"{hours(session.longest_gap_minutes)}")  # fmt: skip


def _legend() -> str:
    items = "".join(
        f'<li><span class="day {s}" aria-hidden="true"><span class="mark">{DAY_MARKS[s]}</span>'
        f"</span>{escape(DAY_WORDS[s])}</li>"
        for s in ("met", "missed", "open", "none", "unknown")
    )
    return (f'<ul class="legend strip-legend">{items}</ul><p class="note">One square per day; '
            "a session that runs past midnight belongs to the day it starts.</p>")  # fmt: skip


def _kind(kind: str | None) -> str:
    return (kind or "zone").replace("_", " ")


def _date(day: date, first: bool) -> str:
    """A cell's date: the day of the month, with the month on the first cell and each 1st."""
    return f"{day.day} {day:%b}" if first or day.day == 1 else str(day.day)


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


#: The strip's style, added to the page's.
CSS = """
.zone { break-inside: avoid; margin: 0 0 10pt; }
.zone h4 { font-size: 10.5pt; margin: 8pt 0 2pt; }
.zone h4 .code { display: inline; font-weight: normal; }
.zone p { margin: 2pt 0; }
.note { font-size: 9pt; color: #444; }
ol.strip { list-style: none; padding: 0; margin: 3pt 0; display: flex; flex-wrap: wrap; gap: 2pt; }
.day { display: inline-flex; flex-direction: column; align-items: center; justify-content: center;
  width: 7.2mm; height: 8.4mm; border: 1px solid #999; font-size: 7.5pt; line-height: 1.05;
  background: #fff; color: #1a1a1a; }
.day .date { font-size: 6.5pt; white-space: nowrap; }
.day .mark { font-weight: bold; font-size: 9pt; min-height: 1em; }
.day.met { background: #009E73; border-color: #00684c; color: #fff; }
.day.missed { background: repeating-linear-gradient(45deg, #D55E00 0 2px, #f6c9a8 2px 4.5px);
  border: 1.5px solid #1a1a1a; color: #1a1a1a; }
.day.missed .mark, .day.missed .date { background: #fff; border-radius: 2px; padding: 0 1px; }
.day.open { background: #fff; border: 1.5px dashed #0072B2; color: #0072B2; }
.day.unknown { background: #e6e6e6; border-style: dotted; color: #555; }
.strip-legend .day { width: 5mm; height: 5mm; margin-right: 4pt; vertical-align: -2pt;
  display: inline-flex; }
"""
