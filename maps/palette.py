"""The maps' colours and the words beside them, in one place for every map.

Status colours are from the Okabe-Ito palette, which stays distinguishable with
the common colour-vision deficiencies: the SPEC's ``green`` is bluish green,
``amber`` orange and ``red`` vermilion, and ``none`` (nobody seen) is dark grey.
Legends and tooltips also say the status in words, so no one relies on colour.
"""

from __future__ import annotations

__all__ = [
    "MODE_COLOURS",
    "REVISED_COLOUR",
    "STATUS_COLOURS",
    "STATUS_LABELS",
    "ZONE_SHARE_BANDS",
    "ZONE_STATES",
]

#: SPEC rule 10's statuses.
STATUS_COLOURS = {
    "green": "#009E73",
    "amber": "#E69F00",
    "red": "#D55E00",
    "none": "#4D4D4D",
}

_STAFF = [
    ["green", "On target (100% or more)"],
    ["amber", "Close (75% to 99%)"],
    ["red", "Below target (under 75%)"],
    ["none", "Nobody seen"],
]
#: ``[status, words]`` in legend order, for each kind of map.
STATUS_LABELS = {
    "live": _STAFF,
    "coverage": _STAFF,
    "public": [
        ["green", "Met its target"],
        ["amber", "Close to its target"],
        ["red", "Well below its target"],
        ["none", "No visible patrol recorded"],
    ],
}

#: The outline of figures revised after first publication: Okabe-Ito's reddish purple,
#: apart from every status colour (beatlight.css and the PCC report use it too).
REVISED_COLOUR = "#CC79A7"

#: Recent presence points by mode (inspectors' live map).
MODE_COLOURS = {
    "foot": "#0072B2",
    "cycle": "#56B4E9",
    "vehicle": "#FFFFFF",
    "unknown": "#BBBBBB",
}

#: The live map's zone outlines: ``[state, colour, words]`` by the state of the zone's
#: current session (api.zone_maps), in legend order. No session now is a thin grey dashed
#: outline, so a zone that owes nothing now does not catch the eye.
ZONE_STATES = [
    ["none", "#7F7F7F", "Zone: no session now"],
    ["on_track", STATUS_COLOURS["green"], "Zone: session on, on track"],
    ["unattended", STATUS_COLOURS["red"], "Zone: session on, nobody for too long"],
]

#: The coverage map's zone outlines: ``[band, least share, colour, words]`` by the share
#: of the zone's sessions ended in the last 28 days that were met, highest band first;
#: a zone with no ended session is in band ``none``.
ZONE_SHARE_BANDS = [
    ["high", 0.9, STATUS_COLOURS["green"], "Zone: 90% or more of sessions met"],
    ["middle", 0.5, STATUS_COLOURS["amber"], "Zone: 50% to 89% of sessions met"],
    ["low", 0.0, STATUS_COLOURS["red"], "Zone: under 50% of sessions met"],
    ["none", None, "#7F7F7F", "Zone: no session ended in 28 days"],
]
