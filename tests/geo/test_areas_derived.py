"""What is worked out from a geography's areas once is kept with those areas, and only them."""

from __future__ import annotations

import pytest

from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.geo.synthetic import synthetic_wards

pytestmark = pytest.mark.unit


def _areas():
    wards = wards_from_frame(synthetic_wards())
    return geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0)).areas


def test_built_once_per_areas_and_never_shared_with_other_areas():
    first, second = _areas(), _areas()
    calls = []

    def build(areas):
        calls.append(areas)
        return len(calls)

    assert first.derived("test.count", build) == 1
    assert first.derived("test.count", build) == 1
    assert second.derived("test.count", build) == 2
    assert len(calls) == 2 and calls[0] is first and calls[1] is second
    assert first.derived("test.other", lambda areas: "other") == "other"
