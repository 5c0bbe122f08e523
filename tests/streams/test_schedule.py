"""Zone schedules (SPEC Z3): the syntax, and sessions in UTC across midnight and clock changes.

Europe/London in 2026: clocks go forward at 01:00 GMT on Sunday 29 March (local
01:00-02:00 does not exist) and back at 02:00 BST on Sunday 25 October (local
01:00-02:00 happens twice).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatlight.streams.schedule import ScheduleError, parse_schedule, to_utc_us
from beatlight.times import format_us as format_ts

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
H = 3600 * 1_000_000


def us(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp()) * 1_000_000


def spans(text: str, start: int, end: int, zone: ZoneInfo = LONDON) -> list[tuple[str, str]]:
    return [
        (format_ts(s.start_us), format_ts(s.end_us))
        for s in parse_schedule(text).sessions(start, end, zone)
    ]


# ---------------------------------------------------------------- worked examples


def test_a_session_over_midnight_belongs_to_the_day_it_starts():
    sessions = parse_schedule("Fri 20:00-02:00").sessions(
        us(2026, 11, 20), us(2026, 11, 22), LONDON
    )
    assert [(format_ts(s.start_us), format_ts(s.end_us), s.day) for s in sessions] == [
        ("2026-11-20T20:00:00Z", "2026-11-21T02:00:00Z", date(2026, 11, 20))  # a Friday
    ]


def test_the_night_the_clocks_go_back_a_0200_end_makes_the_session_an_hour_longer():
    assert spans("Sat 20:00-02:00", us(2026, 10, 24), us(2026, 10, 26)) == [
        ("2026-10-24T19:00:00Z", "2026-10-25T02:00:00Z")  # 20:00 BST to 02:00 GMT: 7 h
    ]


def test_the_night_the_clocks_go_forward_a_0200_end_makes_the_session_an_hour_shorter():
    assert spans("Sat 20:00-02:00", us(2026, 3, 28), us(2026, 3, 30)) == [
        ("2026-03-28T20:00:00Z", "2026-03-29T01:00:00Z")  # 20:00 GMT to 02:00 BST: 5 h
    ]


def test_a_time_that_happens_twice_is_its_first_occurrence():
    assert format_ts(to_utc_us(datetime(2026, 10, 25, 1, 30), LONDON)) == "2026-10-25T00:30:00Z"
    assert spans("Sun 01:00-02:00", us(2026, 10, 25), us(2026, 10, 26)) == [
        ("2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z")  # the repeated hour is inside
    ]


def test_a_time_that_does_not_exist_is_the_instant_the_clocks_jump():
    assert format_ts(to_utc_us(datetime(2026, 3, 29, 1, 30), LONDON)) == "2026-03-29T01:00:00Z"
    assert spans("Sun 01:30-03:00", us(2026, 3, 29), us(2026, 3, 30)) == [
        ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z")
    ]


def test_a_session_wholly_in_the_skipped_hour_did_not_happen():
    assert spans("Sun 01:00-02:00", us(2026, 3, 22), us(2026, 4, 6)) == [
        ("2026-03-22T01:00:00Z", "2026-03-22T02:00:00Z"),
        ("2026-04-05T00:00:00Z", "2026-04-05T01:00:00Z"),
    ]


def test_ranges_and_several_parts():
    # 2026-11-16 is a Monday.
    assert spans(
        "Mon-Wed 08:00-09:00; Sat,Sun 22:00-24:00", us(2026, 11, 16), us(2026, 11, 23)
    ) == [
        ("2026-11-16T08:00:00Z", "2026-11-16T09:00:00Z"),
        ("2026-11-17T08:00:00Z", "2026-11-17T09:00:00Z"),
        ("2026-11-18T08:00:00Z", "2026-11-18T09:00:00Z"),
        ("2026-11-21T22:00:00Z", "2026-11-22T00:00:00Z"),
        ("2026-11-22T22:00:00Z", "2026-11-23T00:00:00Z"),
    ]


def test_a_range_may_wrap_round_the_week():
    sessions = parse_schedule("Sat-Mon 10:00-11:00").sessions(
        us(2026, 11, 16), us(2026, 11, 23, 12), LONDON
    )
    assert [s.day.strftime("%a") for s in sessions] == ["Mon", "Sat", "Sun", "Mon"]


def test_a_whole_day_and_days_in_any_case():
    assert spans("sat 00:00-24:00", us(2026, 11, 21), us(2026, 11, 22)) == [
        ("2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z")
    ]


def test_sessions_overlapping_the_range_are_whole_and_the_range_is_half_open():
    text = "Fri 20:00-02:00"
    assert spans(text, us(2026, 11, 21, 1, 59), us(2026, 11, 21, 3)) == [
        ("2026-11-20T20:00:00Z", "2026-11-21T02:00:00Z")
    ]
    assert spans(text, us(2026, 11, 21, 2), us(2026, 11, 21, 3)) == []
    assert spans(text, us(2026, 11, 20, 19), us(2026, 11, 20, 20)) == []
    assert spans(text, us(2026, 11, 21), us(2026, 11, 21)) == []


def test_sessions_may_meet():
    assert len(spans("Fri 20:00-24:00; Sat 00:00-02:00", us(2026, 11, 20), us(2026, 11, 22))) == 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the schedule is empty"),
        ("Fri", "write days then a time range"),
        ("Fri 20:00", "write days then a time range"),
        ("Friday 20:00-02:00", "'Friday' in 'Friday 20:00-02:00' is not a day"),
        ("Fri 25:00-02:00", "'25:00' in 'Fri 25:00-02:00' is not a time of day: use HH:MM, 00:00"),
        ("Fri 20:60-22:00", "is not a time of day"),
        ("Fri 24:00-02:00", "00:00 to 23:59"),
        ("Fri 20:00-24:30", "00:00 to 24:00"),
        ("Fri 20:00-20:00", "starts and ends at the same time: for a whole day write 00:00-24:00"),
        ("Mon-Mon 08:00-09:00", "starts and ends on the same day: write Mon alone"),
        ("Mon-Wed,Tue 08:00-09:00", "names Tue more than once"),
        ("Mon-Wed-Fri 08:00-09:00", "cannot read the days 'Mon-Wed-Fri'"),
        ("Fri, 08:00-09:00", "cannot read the days ''"),
        (
            "Fri 20:00-02:00; Sat 01:00-03:00",
            "the Fri session of 'Fri 20:00-02:00' overlaps the Sat",
        ),
        ("Sun 23:00-01:00; Mon 00:30-02:00", "overlaps"),
        ("Fri 20:00-02:00;", "write days then a time range"),
    ],
)
def test_bad_schedules_are_refused_with_the_fix(text, says):
    with pytest.raises(ScheduleError) as error:
        parse_schedule(text)
    message = str(error.value)
    assert says in message
    assert "\n" not in message


def test_a_schedule_error_is_a_user_error_and_a_value_error():
    from beatlight.errors import BeatlightError

    assert issubclass(ScheduleError, BeatlightError) and issubclass(ScheduleError, ValueError)


# ------------------------------------------------------------------- properties

_TIME = st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
_ZONES = st.sampled_from(
    ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
)


@st.composite
def schedules(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        days = draw(st.lists(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
                             min_size=1, max_size=3, unique=True))  # fmt: skip
        (h1, m1), (h2, m2) = draw(_TIME), draw(_TIME)
        if (h1, m1) == (h2, m2):
            h2 = (h2 + 1) % 24
        parts.append(f"{','.join(days)} {h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}")
    return "; ".join(parts)


@settings(max_examples=300, deadline=None)
@given(
    text=schedules(),
    zone=_ZONES,
    start=st.integers(us(2025, 1, 1), us(2027, 12, 1)),
    hours=st.integers(0, 24 * 40),
)
def test_sessions_are_sorted_disjoint_and_each_overlaps_the_range(text, zone, start, hours):
    try:
        schedule = parse_schedule(text)
    except ScheduleError:
        return  # overlapping parts are refused; other properties cover valid ones
    end = start + hours * H
    sessions = schedule.sessions(start, end, ZoneInfo(zone))
    for s in sessions:
        assert s.start_us < s.end_us
        assert s.start_us < end and s.end_us > start
        # A local length within a day, give or take an offset change.
        assert s.end_us - s.start_us <= 26 * H
    for a, b in zip(sessions, sessions[1:], strict=False):
        assert a.end_us <= b.start_us


@settings(max_examples=200, deadline=None)
@given(
    text=schedules(),
    instant=st.integers(us(2025, 1, 1), us(2027, 12, 1)).map(lambda u: u - u % (60 * 10**6)),
)
def test_away_from_clock_changes_an_instant_is_in_a_session_iff_its_local_time_says_so(
    text, instant
):
    try:
        schedule = parse_schedule(text)
    except ScheduleError:
        return
    moment = datetime.fromtimestamp(instant / 1e6, UTC)
    offsets = {(moment + timedelta(hours=h)).astimezone(LONDON).utcoffset() for h in (-27, 27)}
    if len(offsets) > 1:
        return  # within a day of a clock change: the worked examples pin those
    inside = any(
        s.start_us <= instant < s.end_us for s in schedule.sessions(instant, instant + 1, LONDON)
    )
    assert inside == _naively_inside(schedule, moment.astimezone(LONDON).replace(tzinfo=None))


def _naively_inside(schedule, local: datetime) -> bool:
    """Is the local clock reading inside a session that started today or yesterday?"""
    for part in schedule.parts:
        for back in (0, 1):
            day = local.date() - timedelta(days=back)
            if day.weekday() not in part.days:
                continue
            begin = datetime.combine(day, datetime.min.time()) + timedelta(
                minutes=part.start_minute
            )
            if begin <= local < begin + timedelta(minutes=part.minutes):
                return True
    return False


@settings(max_examples=60, deadline=None)
@given(
    text=schedules(),
    zone=_ZONES,
    as_of=st.integers(us(2025, 1, 1), us(2027, 12, 1)).map(lambda u: u - u % (60 * 10**6)),
)
def test_sessions_agree_with_the_zone_oracles_naive_ones(text, zone, as_of):
    from tests.zone_oracle import naive_sessions

    try:
        schedule = parse_schedule(text)
    except ScheduleError:
        return
    tz = ZoneInfo(zone)
    start = as_of - 28 * 24 * H
    naive = [(s, e) for s, e in naive_sessions(text, as_of, tz) if e > start and s < as_of]
    found = [(s.start_us, s.end_us) for s in schedule.sessions(start, as_of, tz)]
    assert found == naive
