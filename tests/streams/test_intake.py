"""Admission (SPEC "The presence event"): lateness, then de-duplication, in arrival order.

Each event is judged against the watermark of the events accepted before it;
:class:`beatlight.streams.intake.Intake` forgets the ids of events that can no longer be
re-sent in time, and must still answer as if it remembered every one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatlight.streams.events import ValidEvents
from beatlight.streams.intake import Intake
from tests.streams.fixtures import valid_events

pytestmark = pytest.mark.unit

HOUR_US = 3_600_000_000


def events(rows: list[tuple[str, int]]) -> ValidEvents:
    """Valid events with these (event_id, ts_us), all of one unit."""
    return valid_events([(event_id, "u", t) for event_id, t in rows])


def one_at_a_time(state: dict, rows: list[tuple[str, int]]) -> list[str]:
    """The SPEC's rule, event by event: "late", "duplicate" or "accepted"."""
    out = []
    for event_id, t in rows:
        if state["watermark"] is not None and t < state["watermark"] - HOUR_US:
            out.append("late")
        elif event_id in state["seen"]:
            out.append("duplicate")
        else:
            state["seen"].add(event_id)
            state["watermark"] = t if state["watermark"] is None else max(state["watermark"], t)
            out.append("accepted")
    return out


def decisions(intake: Intake, rows: list[tuple[str, int]]) -> list[str]:
    batch = events(rows)
    admission = intake.admit(batch)
    late = np.equal(batch.reason, "too_late")
    return [
        "late" if late[i] else "duplicate" if admission.duplicate[i] else "accepted"
        for i in range(len(rows))
        if admission.accepted[i] or admission.duplicate[i] or late[i]
    ]


# Few events (so they are sent again) at times over a few hours (so some are late). A
# re-sent event is the same event: same id, same time.
event = st.tuples(st.sampled_from("abcd"), st.integers(0, 24))
batches = st.lists(st.lists(event, max_size=30), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(batches)
def test_batches_are_decided_as_one_event_at_a_time(sent):
    intake = Intake(lateness_us=HOUR_US)
    state: dict = {"watermark": None, "seen": set()}
    for batch in sent:
        rows = [(f"{unit}-{step}", step * 600_000_000) for unit, step in batch]
        assert decisions(intake, rows) == one_at_a_time(state, rows)
        if state["watermark"] is not None:
            assert intake.watermark_us == state["watermark"]


def test_a_repeat_of_a_late_event_is_judged_on_its_own():
    # "a" and its repeat are both late; "b" is late, so its repeat, on time, is no
    # duplicate: it is accepted (the batch goes through the one-at-a-time path).
    intake = Intake(lateness_us=HOUR_US)
    rows = [("x", 3 * HOUR_US), ("a", HOUR_US), ("a", HOUR_US), ("b", 0), ("b", 2 * HOUR_US)]
    assert decisions(intake, rows) == ["accepted", "late", "late", "late", "accepted"]
    assert decisions(intake, [("b", 2 * HOUR_US), ("x", 0)]) == ["duplicate", "late"]


def test_a_duplicate_never_moves_the_watermark_whatever_its_time():
    intake = Intake(lateness_us=HOUR_US)
    rows = [("a", 0), ("a", 3 * HOUR_US), ("b", 0)]
    assert decisions(intake, rows) == ["accepted", "duplicate", "accepted"]
    assert intake.watermark_us == 0
