"""Map fixtures: the real API served by uvicorn over a filled store, and real Chromium.

The browser is Debian's ``chromium`` (``BEATLIGHT_CHROMIUM`` or ``/usr/bin/chromium``)
driven by Playwright, started once per session. Every page is opened with the
network to the outside blocked: requests to the API's own address go through,
tile requests are refused (so every map must draw its wards without tiles) and
recorded, and any other request fails the test. Screenshots go to
``artifacts/maps/`` (or ``$BEATLIGHT_TEST_ARTIFACTS/maps``).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import HOURS, documents, fill, new_database, report_geography

__all__ = ["documents", "report_geography"]  # fixtures shared with tests/api

#: The API's clock: the week of 2 November 2026 (ending at HOURS[4]) is published.
MAP_NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)
#: The live snapshot the sites start with, and the recent points' clock.
LIVE = HOURS[2]
_REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BEATLIGHT_TEST_ARTIFACTS", _REPO / "artifacts")) / "maps"


@dataclass
class Site:
    """The API serving the maps at ``url``, over a store of its own."""

    url: str
    engine: Any
    keys: dict[str, str]
    settings: Any
    tiles: re.Pattern[str]
    wards: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable; skips without one, except in CI, where it must be there."""
    path = os.environ.get("BEATLIGHT_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {path}: CI installs Debian's chromium (.ci/run)")
        pytest.skip(f"no Chromium at {path} (apt-get install chromium, or set BEATLIGHT_CHROMIUM)")
    return path


#: The axe-core release the accessibility tests run (npm), and where it is installed.
AXE_VERSION = "4.10"
AXE_DIR = _REPO / ".venv" / "axe-core"


@pytest.fixture(scope="session")
def axe() -> str:
    """The source of axe-core's ``axe.min.js`` (``BEATLIGHT_AXE``, or npm's package installed
    into ``.venv/axe-core`` once); skips without npm or a registry, except in CI, where it
    must be there (.ci/run installs npm)."""
    import shutil
    import subprocess

    path = Path(os.environ.get("BEATLIGHT_AXE") or
                AXE_DIR / "node_modules" / "axe-core" / "axe.min.js")  # fmt: skip
    if not path.exists():
        npm = shutil.which("npm")
        problem = "no npm (apt-get install npm, or set BEATLIGHT_AXE to axe.min.js)"
        if npm is not None:
            done = subprocess.run([npm, "install", "--prefix", str(AXE_DIR), "--no-save",
                                   "--no-audit", "--no-fund", "--loglevel=error",
                                   f"axe-core@{AXE_VERSION}"],
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            problem = f"npm install axe-core failed: {done.stderr.strip()[-300:]}"
        if not path.exists():
            if os.environ.get("CI"):
                pytest.fail(problem)
            pytest.skip(problem)
    return path.read_text()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def sites(documents, report_geography, tmp_path_factory) -> Iterator[Any]:
    """``sites()``: a new :class:`Site` (a store filled with ``documents``, live = ``LIVE``);
    ``sites(points=False)``: one whose API reads no recent points (no Kafka);
    ``sites(zones=(zone_file, documents))``: one with a zones file, over ``documents``
    that carry zones (stored as tests/api/test_zones.py stores them);
    ``sites(settings={...})``: with these settings besides the tests' own."""
    with ExitStack() as stack:

        def make(*, points: bool = True, zones: tuple[Any, dict] | None = None,
                 settings: dict[str, Any] | None = None) -> Site:  # fmt: skip
            return stack.enter_context(
                _site(
                    documents,
                    report_geography,
                    tmp_path_factory,
                    points=points,
                    zones=zones,
                    settings=settings or {},
                )  # fmt: skip
            )

        yield make


@pytest.fixture(scope="session")
def site(sites) -> Site:
    """A site that tests only read."""
    return sites()


@contextmanager
def _site(documents, geography, tmp_path_factory, *, points: bool,
          zones: tuple[Any, dict] | None = None,
          settings: dict[str, Any] | None = None) -> Iterator[Site]:  # fmt: skip
    from sqlalchemy.orm import Session

    from beatlight.api.app import create_app
    from beatlight.api.db import create_engine_for, upgrade
    from beatlight.api.keys import create_key
    from beatlight.api.points import Point, RecentPoints
    from beatlight.settings import Settings

    for url in new_database("sqlite", tmp_path_factory):
        upgrade(url)
        engine = create_engine_for(url)
        zone_file = None
        if zones is None:
            fill(engine, documents, live=documents[LIVE])
        else:
            from tests.api.test_zones import fill as fill_zones

            zone_file, documents = zones
            fill_zones(engine, documents, live=documents[LIVE])
        with Session(engine) as session, session.begin():
            keys = {
                r: create_key(session, r, f"maps {r}")[1] for r in ("inspector", "pcc", "admin")
            }
        settings = Settings(**{"rate_limit_per_minute": 0, "auth_cache_seconds": 0,
                               "live_cache_seconds": 0, "map_refresh_seconds": 1,
                               "map_missed_weeks": 1, **(settings or {})})  # fmt: skip
        wards = [w["code"] for w in documents[LIVE]["wards"]]
        app = create_app(settings, engine, geography, clock=lambda: MAP_NOW, zone_file=zone_file)
        if points:
            recent = RecentPoints("127.0.0.1:1", 15, clock=lambda: LIVE)  # never started
            inside = _inside(geography, wards)
            ages_modes = ((2, "foot"), (6, "vehicle"), (11, "cycle"))
            pairs = zip(ages_modes, inside, strict=True)
            recent.add([Point(LIVE - timedelta(minutes=m), lat, lon, code, mode)
                        for (m, mode), (code, lat, lon) in pairs])  # fmt: skip
            app.state.services.points = recent  # held, not read from Kafka
        with _serve(app) as base:
            yield Site(base, engine, keys, settings, _tile_pattern(settings.tiles), wards)
        engine.dispose()


def _inside(geography, codes: list[str]) -> list[tuple[str, float, float]]:
    """A point inside each of the first three wards."""
    from shapely.geometry import shape

    from beatlight.api.shapes import AreaShapes

    shapes = AreaShapes(geography)
    out = []
    for code in codes[:3]:
        point = shape(shapes.get("ward", code)).representative_point()
        out.append((code, point.y, point.x))
    return out


@contextmanager
def _serve(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _tile_pattern(tiles: str) -> re.Pattern[str]:
    """A regex matching the URLs of the tile template ``tiles``."""
    pattern = re.escape(tiles)
    for name, part in (("z", r"\d+"), ("x", r"\d+"), ("y", r"\d+"), ("s", "[a-z0-9]+"),
                       ("r", "(@2x)?")):  # fmt: skip
        pattern = pattern.replace(re.escape("{" + name + "}"), part)
    return re.compile(pattern + "$")


class Watch:
    """A page whose outside requests are blocked and whose errors are recorded."""

    def __init__(self, page: Any, site: Site) -> None:
        self.page, self.site = page, site
        self.errors: list[str] = []  # console errors and uncaught exceptions
        self.failed: list[str] = []  # failed requests, tiles excepted
        self.offsite: list[str] = []  # requests that tried to leave the machine
        self.tiles: list[str] = []
        self.requests: list[str] = []
        self.responses: list[Any] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda response: self.responses.append(response))
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if url.startswith(self.site.url + "/"):
            route.continue_()
        elif self.site.tiles.match(url):
            self.tiles.append(url)
            route.abort("internetdisconnected")
        else:
            self.offsite.append(url)
            route.abort("blockedbyclient")

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if self.site.tiles.match(message.location.get("url", "")):
            return  # a tile that could not load: expected offline
        self.errors.append(message.text)

    def _failed(self, request: Any) -> None:
        if not self.site.tiles.match(request.url):
            self.failed.append(f"{request.url}: {request.failure}")

    def assert_clean(self) -> None:
        """No console error, no failed request and nothing sent off the machine (tiles aside)."""
        assert self.offsite == [], self.offsite
        assert self.errors == [], self.errors
        assert self.failed == [], self.failed

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture
def watch(browser) -> Iterator[Any]:
    """``watch(site)``: a new page in a fresh context (no storage shared between tests);
    ``watch(site, **options)`` with more of Playwright's context options (geolocation,
    ``bypass_csp`` to inject axe into a page whose policy runs no script, ...)."""
    contexts = []

    def open_page(site: Site, **options: Any) -> Watch:
        context = browser.new_context(viewport={"width": 1280, "height": 800},
                                      service_workers="block", **options)  # fmt: skip
        contexts.append(context)
        return Watch(context.new_page(), site)

    yield open_page
    for context in contexts:
        context.close()
