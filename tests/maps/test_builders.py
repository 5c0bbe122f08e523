"""The map builders: pure pages that link only this API's assets and carry no figures
unless given them."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from beatlight.configs import map_options
from beatlight.maps import MapOptions, coverage_map, live_map, public_map, signin_page
from beatlight.maps.assets import (
    STATIC_PREFIX,
    asset_folders,
    content_security_policy,
    tile_sources,
)
from beatlight.maps.palette import (
    STATUS_COLOURS,
    STATUS_LABELS,
    ZONE_SHARE_BANDS,
    ZONE_STATES,
)

pytestmark = pytest.mark.unit


def _options(**changes) -> MapOptions:
    """The maps' options from the default settings, with ``changes``."""
    return replace(map_options(), **changes)


BUILDERS = {"live": live_map, "coverage": coverage_map, "public": public_map}
WARD = {"type": "Feature", "id": "E05000001",
        "geometry": {"type": "Polygon", "coordinates": [[[-2, 52.6], [-1.99, 52.6],
                                                         [-1.99, 52.61], [-2, 52.6]]]},
        "properties": {"code": "E05000001", "name": "</script><script>alert(1)</script>",
                       "status": "red"}}  # fmt: skip


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.config: str | None = None
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.links += [v for k, v in found.items() if k in ("src", "href") and v]
        self._in_config = found.get("id") == "beatlight-config"

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config = data
            self._in_config = False


def _parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_pages_link_only_this_apis_assets_and_every_one_exists(kind):
    html = BUILDERS[kind](_options())
    links = _parse(html).links
    assert links and all(link.startswith(f"{STATIC_PREFIX}/") for link in links), links
    folders = asset_folders()
    for link in links:
        name, _, path = link.removeprefix(f"{STATIC_PREFIX}/").partition("/")
        assert (folders[name] / path).is_file(), link
    assert f"{STATIC_PREFIX}/maps/{kind}.js" in links
    # Nothing from a CDN, and none of Folium's defaults that these maps do not use.
    for word in ("cdn", "jquery", "bootstrap", "awesome", "fontawesome", "glyphicons"):
        assert word not in html.lower(), word


def test_leaflets_own_css_images_are_served_with_it():
    css = (asset_folders()["leaflet"] / "leaflet.css").read_text()
    for image in re.findall(r"url\((images/[^)]+)\)", css):
        assert (asset_folders()["leaflet"] / image).is_file(), image


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_without_wards_a_page_carries_no_figure(kind):
    config = json.loads(_parse(BUILDERS[kind](_options())).config)
    assert config["wards"] is None
    assert config["kind"] == kind and config["api"] == "/api/v1"
    assert config["palette"] == STATUS_COLOURS
    assert config["statuses"] == STATUS_LABELS[kind]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_map_says_its_zone_colours_in_words(kind):
    config = json.loads(_parse(BUILDERS[kind](_options())).config)
    assert [s for s, _, _ in config["zone_states"]] == ["none", "on_track", "unattended"]
    assert config["zone_states"] == ZONE_STATES and config["zone_share"] == ZONE_SHARE_BANDS
    for rows in (config["zone_states"], config["zone_share"]):
        colours = [r[-2] for r in rows]
        assert len(set(colours)) == len(colours)  # one colour per state, and words beside it
        assert all(r[-1].startswith("Zone: ") for r in rows)
    bands = [least for _, least, _, _ in config["zone_share"][:-1]]
    assert bands == sorted(bands, reverse=True) and bands[-1] == 0.0


def test_given_wards_are_embedded_safely():
    wards = {"type": "FeatureCollection", "features": [WARD]}
    html = live_map(_options(api=None), wards)
    assert "</script><script>alert" not in html
    config = json.loads(_parse(html).config)
    assert config["wards"] == wards and config["api"] is None


def test_the_live_map_has_the_specs_windows_and_refreshes():
    config = json.loads(_parse(live_map(_options(refresh_seconds=3), window="1h")).config)
    assert config["windows"] == ["1h", "24h", "7d", "28d"]
    assert config["window"] == "1h" and config["refresh_seconds"] == 3
    coverage = json.loads(_parse(coverage_map(_options(missed_weeks=4))).config)
    assert coverage["windows"] == ["7d", "28d"] and coverage["missed_weeks"] == 4
    assert json.loads(_parse(public_map(_options())).config)["refresh_seconds"] == 0


def test_an_unknown_window_is_refused():
    with pytest.raises(ValueError, match="window must be one of 7d, 28d"):
        coverage_map(_options(), window="1h")


def test_tiles_are_configurable_and_attributed():
    html = live_map(_options(tiles="https://tiles.example.org/{z}/{x}/{y}.png",
                               tiles_attribution="Tiles by Example"))  # fmt: skip
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in html and "Tiles by Example" in html
    assert "L.tileLayer" not in live_map(_options(tiles="none"))
    assert "Open Government Licence" in json.loads(_parse(html).config)["boundary_attribution"]


def test_the_pages_policy_allows_images_from_the_tile_server_only():
    assert tile_sources("https://{s}.tile.example.org/{z}/{x}/{y}.png") == [
        "https://*.tile.example.org"
    ]
    assert tile_sources("none") == [] and tile_sources(None) == []
    policy = content_security_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
    assert "connect-src 'self';" in policy and "default-src 'none';" in policy


def test_the_sign_in_page_escapes_its_words_and_holds_no_key():
    html = signin_page("<Live>", "inspector")
    assert "&lt;Live&gt;" in html and "<Live>" not in html
    assert _parse(html).links == ["/static/maps/beatlight.css", "/static/maps/signin.js"]
    assert "bl_" not in html.replace("bl_…", "")
