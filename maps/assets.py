"""Offline map assets: Leaflet from an installed package, and the maps' own JS and CSS.

No map loads anything from a CDN (issue 5: "fully offline"). Leaflet 1.9.3, the
version Folium's templates are written for, comes from the PyPI package
``XStatic-Leaflet``, which ships the plain ``leaflet.js``/``leaflet.css`` and the
control images; the maps' own scripts and styles are package data of ``maps``.
The API serves both folders under :data:`STATIC_PREFIX` (``/static/leaflet/…``,
``/static/maps/…``), and the builders link only those URLs.

Only the base tiles come from elsewhere (``tiles``), and a map without them still
draws every ward.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["STATIC_PREFIX", "asset_folders", "content_security_policy", "tile_sources"]

#: Where the API serves the folders of :func:`asset_folders`.
STATIC_PREFIX = "/static"

_OWN = Path(__file__).resolve().parent / "static"


def asset_folders() -> dict[str, Path]:
    """``{name: folder}`` to serve at ``STATIC_PREFIX/name``: Leaflet's and the maps' own."""
    from xstatic.pkg import leaflet

    return {"leaflet": Path(leaflet.BASE_DIR), "maps": _OWN}


def tile_sources(tiles: str | None) -> list[str]:
    """The origins the tile template ``tiles`` loads from (for a Content-Security-Policy).

    ``{s}`` subdomains become a wildcard host; no tiles (``None``, ``""``, ``"none"``)
    load from nowhere.
    """
    if not tiles or tiles.strip().lower() == "none":
        return []
    parts = urlsplit(tiles.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    return [f"{parts.scheme}://{parts.netloc}"]


def content_security_policy(tiles: str | None) -> str:
    """A CSP for the map pages: scripts, styles and data from this API only, images also
    from the tile server. Folium writes its map set-up inline, hence ``'unsafe-inline'``
    for scripts; nothing else is allowed to run."""
    images = " ".join(["'self'", "data:", *tile_sources(tiles)])
    return (
        "default-src 'none'; "
        "script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
