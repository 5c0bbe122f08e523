"""The demo: simulate patrols over real-looking wards, report, and show what a PCC analyst sees.

Until the API and maps land this is the batch path end to end: the simulator
writes a day of pings with a real feed's faults, the batch report computes every
figure, and a summary is printed. The files stay under ``--out`` to inspect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["find_reference_boundaries", "print_summary"]

REFERENCE = "staffordshire-wards.geojson"


def find_reference_boundaries() -> Path | None:
    """The Staffordshire wards in ``../shared/data`` beside the checkout or the working folder."""
    here = Path(__file__).resolve().parents[1]
    for folder in (here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        candidate = folder / REFERENCE
        if candidate.is_file():
            return candidate
    return None


def print_summary(document: dict[str, Any], console: Console, *, worst: int = 12) -> None:
    """Force figures, fairness, and the wards least visited in the last 24 hours."""
    force = document["force"]["windows"]["24h"]
    console.print(
        f"\n[bold]{document['force']['name']}[/] — 24 hours to {document['as_of']}: "
        f"{force['patrol_minutes']:.0f} patrol-minutes ({force['foot_minutes']:.0f} on foot), "
        f"{force['distinct_units']} units, {force['visits']} visits "
        f"({force['koper_visits']} of 10+ minutes), {force['coverage']:.0%} of 200 m cells seen."
    )
    fair = document["fairness"]["24h"]
    gini = fair["gini_minutes_per_km2"]
    console.print(
        f"Fairness: Gini of patrol per km² {'n/a' if gini is None else f'{gini:.2f}'}; "
        f"{fair['share_wards_red']:.0%} of wards red, {fair['share_wards_none']:.0%} unvisited."
    )
    counts = ", ".join(f"{k} {v}" for k, v in document["rejected"].items()) or "none"
    console.print(
        f"Events: {document['accepted']} accepted, {document['duplicates']} duplicates ignored, "
        f"{document['outside']} outside the force area; rejected: {counts}.\n"
    )
    table = Table(title=f"The {worst} wards least visited in the last 24 hours")
    for column in ("ward", "patrol min", "foot min", "longest gap", "units", "seen", "status"):
        table.add_column(column, justify="left" if column == "ward" else "right",
                         no_wrap=column != "ward")  # fmt: skip
    wards = sorted(
        document["wards"], key=lambda w: (w["windows"]["24h"]["patrol_minutes"], w["code"])
    )
    colours = {"green": "green", "amber": "yellow", "red": "red", "none": "bright_black"}
    for ward in wards[:worst]:
        m = ward["windows"]["24h"]
        table.add_row(
            ward["name"], f"{m['patrol_minutes']:.0f}", f"{m['foot_minutes']:.0f}",
            f"{m['longest_gap_minutes'] / 60:.1f} h", str(m["distinct_units"]),
            f"{m['coverage']:.0%}", f"[{colours[m['status']]}]{m['status']}[/]",
        )  # fmt: skip
    console.print(table)
