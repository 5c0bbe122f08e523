"""Fuzzing the API's query strings and path parameters, with a key that may call each route.

Schemathesis (``tests/api/test_schemathesis.py``) generates requests from the OpenAPI
document, so it mostly sends what the document describes. This fuzzer sends what a
hostile or careless client types instead: times at the ends of the calendar and at odd
offsets, dates of year 1 and 9999, huge and non-ASCII numbers, repeated parameters,
unknown ones, percent garbage, very long values, control characters, and path
parameters that are none of the store's codes. It covers every GET route, the
undocumented ones too (maps, documentation pages, Prometheus).

Properties: never a 5xx; every 4xx is a JSON problem (``{"detail": ...}``); no body
carries a stack trace or a database error.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beatlight.api.app import create_app
from beatlight.api.db import create_engine_for
from beatlight.api.routes import health, maps
from beatlight.api.schemas import LEVELS
from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.settings import Settings
from beatlight.windows import WINDOWS
from tests.api.conftest import HOURS
from tests.fuzz.events import timestamps
from tests.fuzz.profiles import fuzz, timeout
from tests.streams.test_report_vs_oracle import ATTRIBUTES, _frame

pytestmark = [pytest.mark.integration, pytest.mark.timeout(timeout(120))]

#: Signs of an internal failure leaking into a body.
TRACES = re.compile(
    rb"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line|sqlalchemy\.|sqlite3\."
    rb"|psycopg|\[SQL: |OverflowError|ValueError|KeyError|TypeError|AttributeError"
)


def _app_routes() -> dict[str, list[str]]:
    """Every GET route of an app over an empty store: its path and its query parameters."""
    wards = wards_from_frame(_frame())
    geography = geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0))
    engine = create_engine_for("sqlite://")
    try:
        paths = create_app(Settings(), engine, geography).openapi()["paths"]
    finally:
        engine.dispose()
    documented = {path: [p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"]
                  for path, item in paths.items() if "get" in item}  # fmt: skip
    return documented | UNDOCUMENTED


#: GET routes the OpenAPI document leaves out, and their query parameters.
UNDOCUMENTED = {"/maps/live": ["window"], "/maps/coverage": ["window"], "/maps/public": [],
                "/metrics": [], "/docs": [], "/redoc": [], "/openapi.json": []}  # fmt: skip
#: The documentation pages and the document they show.
FASTAPI_PAGES = {"/docs", "/redoc", "/openapi.json"}
ROUTES = _app_routes()
#: The routes only an inspector may call; an admin key calls the rest.
INSPECTOR_ONLY = {"/api/v1/live/points", "/maps/live"}
CODES = sorted({*_frame()["code"], *_frame()["district"], "Force area",
                *(row.split(",")[1] for row in ATTRIBUTES.split()[1:])})  # fmt: skip


# -- values -------------------------------------------------------------------------------

hostile = st.text(st.characters(exclude_categories=("Cs",)), max_size=30) | st.sampled_from([
    "", " ", "\x00", "\n", "\u202e", "null", "None", "NaN", "-1", "0", "1e309", "9" * 400,
    "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "%", "%ZZ", "%FF", "=",
    "&", "２０２６-11-03", "[]", "{}", "true",
]) | st.integers(1000, 20000).map(lambda n: "x" * n)  # fmt: skip

#: The ends of the calendar, where date arithmetic overflows.
calendar_ends = st.sampled_from([
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00-01:00",
    "0001-01-07T00:00:00Z", "9999-12-31T23:00:00Z", "9999-12-31T23:00:00-01:00",
    "9999-12-31T23:59:59.999999+14:00", "9999-12-25T00:00:00Z", "1900-01-01T00:00:00Z",
])  # fmt: skip
moments = st.sampled_from([
    *(h.strftime("%Y-%m-%dT%H:%M:%SZ") for h in HOURS), "2026-11-03T06:00:00+00:00",
    "2026-11-03T11:30:00+05:30", "2026-11-03T06:30:00Z", "2026-11-03T06:00:00",
    "2026-11-03", "1795392000", "-62135596800", "1e20", "253402300800",
    "2026-11-03T06:00:00+24:00", "2026-02-29T00:00:00Z", "2026-11-03T24:00:00Z",
])  # fmt: skip
times = calendar_ends | moments | st.datetimes(timezones=st.timezones() | st.just(UTC)).map(
    lambda d: d.isoformat()) | timestamps()  # fmt: skip
days = st.sampled_from(["0001-01-01", "9999-12-31", "9999-12-27", "9999-12-20"]) | st.sampled_from(
    ["2026-11-03", "2026-11-02", "2026-11-09", "2026-11-10"]) | st.dates().map(str)  # fmt: skip
numbers = st.integers().map(str) | st.sampled_from(
    ["1", "52", "53", "92", "93", "1e3", "0x10", "+5", " 5", "٥", "5.0", "9" * 40]
)

#: What each parameter is fuzzed with, besides ``hostile``.
VALUES: dict[str, st.SearchStrategy[str]] = {
    "as_of": times,
    "since": times,
    "start": times,
    "end": times,
    "date": days,
    "level": st.sampled_from([*LEVELS, "WARD", "ward ", "wards"]),
    "window": st.sampled_from([*WINDOWS, "1H", "48h", "0h", "7d "]),
    "metric": st.sampled_from(["patrol_minutes", "foot_minutes", "coverage", "last_seen",
                               "attainment", "status", "distinct_units", "code", "name"]),
    "resolution": st.sampled_from(["hourly", "daily", "weekly", "monthly"]),
    "period": st.sampled_from(["day", "week", "month", "DAY"]),
    "format": st.sampled_from(["json", "csv", "html", "xml", "JSON", "csv\n"]),
    "period_days": numbers,
    "weeks": numbers,
    "ward": st.sampled_from(CODES),
}  # fmt: skip


@st.composite
def requests(draw: st.DrawFn, path: str, names: list[str]) -> str:
    """A URL for ``path``: its path parameters filled, then a hostile query string."""
    url = path
    for name in re.findall(r"{(\w+)}", path):
        code = draw(st.sampled_from(CODES) | hostile)
        url = url.replace(f"{{{name}}}", quote(code, safe="") or "%20")
    pairs: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(names) if names and draw(st.integers(0, 4)) else hostile)
        value = draw(VALUES.get(name, hostile) | hostile if draw(st.booleans()) else
                     VALUES.get(name, hostile))  # fmt: skip
        pairs.append((name, value))
    if names and draw(st.booleans()):  # the same parameter twice, the second one odd
        name = draw(st.sampled_from(names))
        pairs += [(name, draw(VALUES.get(name, hostile))), (name, draw(hostile))]
    parts = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs]
    if draw(st.integers(0, 9)) == 0:  # raw, unencoded garbage
        parts.append(draw(st.sampled_from(["%", "%zz=1", "a=%FF%FE", "==", "&&", "a", "=x"])))
    return url + ("?" + "&".join(parts) if parts else "")


def _key(path: str, keys: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": keys["inspector" if path in INSPECTOR_ONLY else "admin"]}


def check(response: Any) -> None:
    """The properties every answer must have, whatever was asked."""
    where = f"GET {response.request.url} → {response.status_code}: {response.content[:300]!r}"
    assert response.status_code < 500, where
    asked = unquote_to_bytes(response.request.url.raw_path)
    leaked = [m for m in TRACES.findall(response.content) if m not in asked]  # not an echo
    assert not leaked, where
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"].startswith("application/json"), where
        problem = orjson.loads(response.content)
        assert isinstance(problem, dict) and isinstance(problem.get("detail"), str), where
    elif response.headers.get("content-type", "").startswith("application/"):
        orjson.loads(response.content)  # JSON and GeoJSON parse


def test_the_fuzz_covers_every_get_route(served):
    client, _ = served
    documented = {p for p, item in client.app.openapi()["paths"].items() if "get" in item}
    hidden = {route.path for router in (health.router, maps.router) for route in router.routes
              if not route.include_in_schema}  # fmt: skip
    assert documented | hidden | FASTAPI_PAGES == set(ROUTES)
    for path in hidden | FASTAPI_PAGES:
        assert client.get(path, headers=_key(path, served[1])).status_code == 200, path


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_no_query_string_makes_a_route_fail(served, path):
    client, keys = served

    @fuzz(60 if ROUTES[path] else 10)
    @given(requests(path, ROUTES[path]))
    def run(url: str) -> None:
        try:
            response = client.get(url, headers=_key(path, keys))
        except httpx.InvalidURL:  # over 64 KiB: no client sends it, no server reads it
            return
        check(response)

    run()


presented = hostile | st.sampled_from(
    [
        "bl_abcdefgh_" + "A" * 43,
        "bl_ABCDEFGH_" + "A" * 43,
        "bl_abcdefgh_" + "A" * 42,
        "Bearer",
        "bl_",
        "",
    ]
)


@fuzz(150)
@given(path=st.sampled_from(sorted(ROUTES)), key=presented, bearer=st.booleans())
def test_no_key_header_makes_a_route_fail(served, path, key, bearer):
    client, _ = served
    header = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    try:
        response = client.get(path.replace("{code}", "E05000001"), headers=header)
    except UnicodeEncodeError:  # not a header a client can send (httpx refuses it)
        return
    check(response)
    if path.startswith("/api/v1/") and not path.startswith("/api/v1/public/"):
        assert response.status_code == 401, response.content
