"""The three maps as HTML: pure functions of the map options and, optionally, the wards.

Each builder returns a whole page: a Folium map (Leaflet, offline assets, tiles,
scale bar, attribution) that loads the maps' own script for its kind. The page's
figures come from the API's GeoJSON, fetched by the page with the viewer's key and,
on the live map, fetched again every ``refresh_seconds``; so a page served by the
API carries no figure. Given ``wards`` (a FeatureCollection as the API's
``/api/v1/geojson`` or ``/api/v1/public/geojson`` returns it), a builder embeds them
and the page draws them at once (with ``api=None``: a self-contained file).

Every map also draws the zones the API outlines (``/zones?format=geojson``, public map:
``/public/zones/geojson``) above the wards, in the colours and words of
:data:`~beatlight.maps.palette.ZONE_STATES` (live) or ``ZONE_SHARE_BANDS`` (coverage).

Every map also lists its wards (and zones) after it as a sortable table in words, its
text alternative (``table.js``), and its wards can be reached with the keyboard.

* :func:`live_map`: the inspectors' live map (SPEC: "where presence is thin *now*").
* :func:`coverage_map`: the PCC office's coverage against commitments and fairness.
* :func:`public_map`: residents' published figures, in plain words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from beatlight.maps.assets import STATIC_PREFIX
from beatlight.maps.palette import (
    MODE_COLOURS,
    REVISED_COLOUR,
    STATUS_COLOURS,
    STATUS_LABELS,
    ZONE_SHARE_BANDS,
    ZONE_STATES,
)
from beatlight.windows import COVERAGE_WINDOWS, WINDOWS

__all__ = ["MapOptions", "coverage_map", "live_map", "public_map"]

Kind = Literal["live", "coverage", "public"]


_TITLES = {
    "live": "Live visibility by ward",
    "coverage": "Coverage against commitments",
    "public": "Visible patrol in your ward",
}
# Before the wards are drawn the map shows England; it then fits the force area.
_CENTRE, _ZOOM = (52.8, -1.8), 7


@dataclass(frozen=True)
class MapOptions:
    """What a map needs besides its figures.

    Built from ``Settings`` by :func:`beatlight.configs.map_options`, where the defaults
    of the settings are declared; only where the page finds the API and its assets,
    which are no settings, have their own."""

    tiles: str | None
    tiles_attribution: str
    boundary_attribution: str
    refresh_seconds: float
    missed_weeks: int
    koper_minutes: float
    timezone: str
    #: Where the page fetches figures (``None``: only the embedded ``wards``).
    api: str | None = "/api/v1"
    static: str = STATIC_PREFIX


def live_map(options: MapOptions, wards: dict[str, Any] | None = None, *,
             window: str = "24h") -> str:  # fmt: skip
    """The inspectors' live map: ward attainment in ``window``, recent points, outlines."""
    _check_window(window, WINDOWS)
    return _page("live", options, wards, {"window": window, "windows": list(WINDOWS)})


def coverage_map(options: MapOptions, wards: dict[str, Any] | None = None, *,
                 window: str = "7d") -> str:  # fmt: skip
    """The PCC office's map: attainment over 7 or 28 days, repeated misses, fairness."""
    _check_window(window, COVERAGE_WINDOWS)
    return _page("coverage", options, wards,
                 {"window": window, "windows": list(COVERAGE_WINDOWS)})  # fmt: skip


def public_map(options: MapOptions, wards: dict[str, Any] | None = None) -> str:
    """Residents' map: the published day or week (SPEC publication rules), in plain words."""
    return _page("public", replace(options, refresh_seconds=0), wards, {})


def _check_window(window: str, allowed: tuple[str, ...]) -> None:
    if window not in allowed:
        raise ValueError(f"window must be one of {', '.join(allowed)}, not {window!r}")


def _page(kind: Kind, options: MapOptions, wards: dict[str, Any] | None,
          extra: dict[str, Any]) -> str:  # fmt: skip
    import folium
    from branca.element import Element, MacroElement
    from folium.template import Template

    static = options.static.rstrip("/")
    fmap = folium.Map(location=_CENTRE, zoom_start=_ZOOM, tiles=None, control_scale=True,
                      prefer_canvas=False, zoom_snap=0.25)  # fmt: skip
    fmap._id = kind  # the page's script finds the map as map_<kind>
    # Leaflet and our own files from this API, nothing from a CDN (and no jQuery,
    # Bootstrap or icon fonts: these maps use none of them).
    # Every map lists its wards as a table (table.js); the public map also finds wards by
    # name (find.js).
    finding = [("beatlight_find", f"{static}/maps/find.js")] if kind == "public" else []
    fmap.default_js = [("leaflet", f"{static}/leaflet/leaflet.js"),
                       ("beatlight", f"{static}/maps/beatlight.js"),
                       ("beatlight_table", f"{static}/maps/table.js"), *finding,
                       (f"beatlight_{kind}", f"{static}/maps/{kind}.js")]  # fmt: skip
    fmap.default_css = [("leaflet_css", f"{static}/leaflet/leaflet.css"),
                        ("beatlight_css", f"{static}/maps/beatlight.css")]  # fmt: skip
    if options.tiles and options.tiles.strip().lower() != "none":
        folium.TileLayer(tiles=options.tiles, attr=options.tiles_attribution, name="Base map",
                         max_zoom=19, control=False).add_to(fmap)  # fmt: skip
    figure = fmap.get_root()
    figure.title = f"Beatlight: {_TITLES[kind]}"
    config = {"kind": kind, "title": _TITLES[kind], "api": options.api,
              "refresh_seconds": options.refresh_seconds, "missed_weeks": options.missed_weeks,
              "koper_minutes": options.koper_minutes,
              "timezone": options.timezone, "boundary_attribution": options.boundary_attribution,
              "palette": STATUS_COLOURS, "statuses": STATUS_LABELS[kind], "modes": MODE_COLOURS,
              "revised": REVISED_COLOUR, "zone_states": ZONE_STATES,
              "zone_share": ZONE_SHARE_BANDS,
              "wards": wards, **extra}  # fmt: skip
    figure.header.add_child(Element(
        f'<script type="application/json" id="beatlight-config">{_script_json(config)}</script>'
    ), name="beatlight_config")  # fmt: skip
    start = MacroElement()
    start._template = Template(
        "{% macro script(this, kwargs) %}"
        f"Beatlight.start({{{{ this._parent.get_name() }}}}, {kind!r});"
        "{% endmacro %}"
    )
    fmap.add_child(start, name="beatlight_start")
    return _accessible(figure.render())


def _accessible(html: str) -> str:
    """Folium's page with a language and a viewport that lets people zoom (WCAG 2.2:
    3.1.1 Language of Page, 1.4.4 Resize Text): Folium's own forbids zooming."""
    html = html.replace("<html>", '<html lang="en-GB">', 1)
    return re.sub(r'<meta name="viewport"[^>]*>',
                  '<meta name="viewport" content="width=device-width, initial-scale=1.0" />',
                  html, count=1)  # fmt: skip


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no HTML comments)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
