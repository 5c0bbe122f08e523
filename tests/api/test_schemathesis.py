"""Schemathesis over the API's own OpenAPI document: no input makes it fail, answers match.

Every operation of the real app, over a SQLite store filled with real report
documents, is called with generated requests (valid and invalid) carrying a key:
an ``admin`` key for every operation, and an ``inspector`` key for the operations an
inspector may call, among them ``/api/v1/live/points`` (served from points held in
memory, as :class:`api.points.RecentPoints` holds them after reading Kafka). Two
checks: no answer is a 5xx, and every answer matches the schema its status declares
(the pydantic models of :mod:`api.schemas`). Hypothesis is derandomised and bounded
(``MAX_EXAMPLES`` per operation), so a run is the same every time.

The document is loaded when the module is collected, from an app over an empty
store (it depends on the routes only); the requests go to the app of the ``served``
fixture. (``schemathesis.pytest.from_fixture`` would load it from a fixture, but
Schemathesis 4.32 reads ``Function._nodeid``, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.orm import Session

from beatlight.api.app import create_app
from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.keys import create_key
from beatlight.api.points import Point, RecentPoints
from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.settings import Settings
from tests.api.conftest import API_NOW, HOURS, fill, new_database
from tests.streams.test_report_vs_oracle import ATTRIBUTES, _frame

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: Generated requests per operation (fuzzing phase): enough to reach every parameter's
#: edges, few enough for a run of about a minute on two cores.
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, response_schema_conformance]
#: The inspector's own operations: the live points are theirs alone.
INSPECTOR_PATHS = r"^/api/v1/(live/points|metrics|geojson|alerts)"

bounded = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, from an app over an empty, never-opened store."""
    wards = wards_from_frame(FRAME)
    geography = geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0))
    engine = create_engine_for("sqlite://")
    try:
        return create_app(Settings(), engine, geography).openapi()
    finally:
        engine.dispose()


FRAME = _frame()
#: Codes of the areas in the store: path parameters are mostly these (the generated
#: code the rest of the time), so ``/metrics/{code}``, ``/areas/{code}`` and
#: ``/history/{code}`` answer with figures, not only 404s.
KNOWN_CODES = sorted(
    {*FRAME["code"], *FRAME["district"], *(row.split(",")[1] for row in ATTRIBUTES.split()[1:])}
)

schema = schemathesis.openapi.from_dict(_openapi_document())
# The key is the one each test sends, never a generated one.
schema.config.generation.update(with_security_parameters=False)


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict[str, Any] | None) -> st.SearchStrategy:
    if not path_parameters or "code" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([*KNOWN_CODES, None]).map(
        lambda code: path_parameters if code is None else {**path_parameters, "code": code}
    )


class HeldPoints(RecentPoints):
    """Recent points held in memory without Kafka: :meth:`start` reads nothing."""

    def start(self) -> HeldPoints:
        return self


@pytest.fixture(scope="module")
def served(tmp_path_factory, documents, report_geography) -> Iterator[tuple[Any, dict]]:
    """The real app over its own filled SQLite store, and a key per role."""
    url = next(iter(new_database("sqlite", tmp_path_factory)))
    upgrade(url)
    engine = create_engine_for(url)
    fill(engine, documents, live=documents[HOURS[2]])
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"schemathesis {role}")[1]
                for role in ("inspector", "admin")}  # fmt: skip
    points = HeldPoints("unused:9092", clock=lambda: API_NOW)
    codes = [w["code"] for w in documents[HOURS[2]]["wards"]]
    points.add([Point(ts=API_NOW - timedelta(minutes=m), lat=52.8 + m / 1000, lon=-2.1,
                      ward=codes[m % len(codes)], mode=("foot", "vehicle")[m % 2])
                for m in range(1, 14)])  # fmt: skip
    app = create_app(Settings(rate_limit_per_minute=0, auth_cache_seconds=60), engine,
                     report_geography, clock=lambda: API_NOW, points=points)  # fmt: skip
    yield app, keys
    engine.dispose()


@schema.parametrize()
@bounded
def test_no_server_error_and_schema_conformance_as_admin(case, served):
    app, keys = served
    case.call_and_validate(app=app, headers={"X-API-Key": keys["admin"]}, checks=CHECKS)


@schema.include(path_regex=INSPECTOR_PATHS).parametrize()
@bounded
def test_no_server_error_and_schema_conformance_as_inspector(case, served):
    app, keys = served
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {keys['inspector']}"},
                           checks=CHECKS)  # fmt: skip
