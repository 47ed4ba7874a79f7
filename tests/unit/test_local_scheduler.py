"""The local scheduler: EventBridge cron expressions, firing order, the movable clock."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from infra.local.inputs import BadRequest, parse_duration, parse_local_datetime
from infra.local.scheduler import CronError, CronExpression, ScheduledTarget, Scheduler, SimulatedClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


class FakeClock:
    """Stands still until moved, so each firing can be checked against the time it saw."""

    def __init__(self, now):
        self._now = now

    def now(self):
        return self._now

    def advance_to(self, when):
        self._now = max(self._now, when)


def test_daily_expression_fires_at_local_time_in_the_property_time_zone():
    # GIVEN 09:00 every day, evaluated in Shanghai (UTC+8)
    cron = CronExpression.parse("cron(0 9 * * ? *)")
    # WHEN listing a two-day window
    fires = list(cron.occurrences(_utc(2026, 12, 1, 0, 0), _utc(2026, 12, 3, 0, 0), SHANGHAI))
    # THEN 01:00 UTC each day, the end of the window included, the start excluded
    assert fires == [_utc(2026, 12, 1, 1, 0), _utc(2026, 12, 2, 1, 0)]
    assert list(cron.occurrences(_utc(2026, 12, 1, 1, 0), _utc(2026, 12, 2, 1, 0), SHANGHAI)) == [
        _utc(2026, 12, 2, 1, 0)
    ]


def test_lists_ranges_steps_and_names():
    # GIVEN every 20 minutes from 08:00 to 09:59 on weekdays (EventBridge: SUN=1 .. SAT=7)
    cron = CronExpression.parse("cron(0/20 8-9 ? * MON-FRI *)")
    utc = ZoneInfo("UTC")
    # WHEN listing Friday 2026-11-27 to Monday 2026-11-30
    fires = list(cron.occurrences(_utc(2026, 11, 27, 0, 0), _utc(2026, 11, 30, 23, 59), utc))
    # THEN six runs on Friday, none at the weekend, six on Monday
    assert [f.day for f in fires] == [27] * 6 + [30] * 6
    assert [f.minute for f in fires[:3]] == [0, 20, 40]
    assert CronExpression.parse("cron(15 10 ? * 2,4,6 *)").weekdays == {2, 4, 6}
    assert CronExpression.parse("cron(0 0 1 JAN,JUL ? 2027)").months == {1, 7}


def test_last_day_of_month_and_leap_year():
    cron = CronExpression.parse("cron(30 23 L * ? *)")
    fires = list(cron.occurrences(_utc(2028, 1, 1), _utc(2028, 4, 1), ZoneInfo("UTC")))
    assert [f.date().isoformat() for f in fires] == ["2028-01-31", "2028-02-29", "2028-03-31"]


def test_day_of_month_and_year_fields_restrict_fires():
    cron = CronExpression.parse("cron(0 9 15 * ? 2027)")
    fires = list(cron.occurrences(_utc(2026, 12, 1), _utc(2027, 3, 1), SHANGHAI))
    assert [f.astimezone(SHANGHAI).date().isoformat() for f in fires] == ["2027-01-15", "2027-02-15"]


@pytest.mark.parametrize(
    "expression",
    [
        "rate(5 minutes)",
        "cron(0 9 * * *)",
        "cron(0 9 * * MON *)",  # one of day-of-month / day-of-week must be '?'
        "cron(0 9 ? * ? *)",
        "cron(60 9 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 9 5-1 * ? *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 9 15W * ? *)",
        "cron(0/0 9 * * ? *)",
        "cron(0 9 * FOO ? *)",
    ],
)
def test_expressions_it_cannot_evaluate_are_refused_with_a_reason(expression):
    with pytest.raises(CronError):
        CronExpression.parse(expression)


def test_the_manifest_schedules_parse(demo_config):
    from infra import manifest

    start = _utc(2026, 11, 27, 4, 0)
    for spec in manifest.FUNCTIONS:
        for schedule in spec.schedules:
            cron = CronExpression.parse(schedule.expression(demo_config))
            runs = len(list(cron.occurrences(start, start + timedelta(days=1), demo_config.tz)))
            # the daily runs: exactly one in any 24 hours; the sweep of open orders: every 5 minutes
            assert runs == (288 if schedule.name == "orders-sweep" else 1), schedule.name


def test_advancing_fires_every_passed_occurrence_in_time_order_at_its_own_time():
    # GIVEN two daily schedules, the clock at 2026-11-27 12:00 Shanghai
    clock = FakeClock(_utc(2026, 11, 27, 4, 0))
    seen = []
    targets = [
        ScheduledTarget(
            "overdue-run", "overdue", CronExpression.parse("cron(30 9 * * ? *)"), {"action": "run_ladder"}
        ),
        ScheduledTarget(
            "notice-run", "notices", CronExpression.parse("cron(0 9 * * ? *)"), {"action": "plan_cycle"}
        ),
    ]
    scheduler = Scheduler(
        targets,
        clock=clock,
        tz=SHANGHAI,
        fire=lambda f: seen.append((f.target.name, clock.now(), f.target.payload)),
    )
    # WHEN the clock moves to 2026-11-29 09:00 Shanghai
    fired = scheduler.advance_to(_utc(2026, 11, 29, 1, 0))
    # THEN each run fired once, in order, with the clock at its time and its payload
    assert [(name, at) for name, at, _ in seen] == [
        ("notice-run", _utc(2026, 11, 28, 1, 0)),
        ("overdue-run", _utc(2026, 11, 28, 1, 30)),
        ("notice-run", _utc(2026, 11, 29, 1, 0)),
    ]
    assert seen[0][2] == {"action": "plan_cycle"}
    assert len(fired) == 3
    assert clock.now() == _utc(2026, 11, 29, 1, 0)
    # AND moving again fires nothing twice, and a target in the past fires nothing
    assert [f.target.name for f in scheduler.advance_to(_utc(2026, 11, 29, 1, 45))] == ["overdue-run"]
    assert scheduler.advance_to(_utc(2026, 11, 20)) == []
    assert len(seen) == 4


def test_a_coalescing_schedule_fires_once_before_each_other_firing_when_the_clock_jumps():
    # GIVEN the orders sweep every 5 minutes beside a daily run, the clock at 08:00 Shanghai
    clock = FakeClock(_utc(2026, 11, 27, 0, 0))
    seen = []
    targets = [
        ScheduledTarget(
            "orders-sweep", "payment_webhook", CronExpression.parse("cron(0/5 * * * ? *)"), {}, coalesce=True
        ),
        ScheduledTarget("notice-run", "notices", CronExpression.parse("cron(0 9 * * ? *)"), {}),
    ]
    scheduler = Scheduler(
        targets, clock=clock, tz=SHANGHAI, fire=lambda f: seen.append((f.target.name, f.at))
    )
    # WHEN the clock jumps to the next day 10:00
    scheduler.advance_to(_utc(2026, 11, 28, 2, 0))
    # THEN the sweep fired at 08:55 (the last before each run) and at the end: 3 of the 289 it passed
    assert seen == [
        ("orders-sweep", _utc(2026, 11, 27, 0, 55)),
        ("notice-run", _utc(2026, 11, 27, 1, 0)),
        ("orders-sweep", _utc(2026, 11, 28, 0, 55)),
        ("notice-run", _utc(2026, 11, 28, 1, 0)),
        ("orders-sweep", _utc(2026, 11, 28, 2, 0)),
    ]


def test_run_due_fires_what_real_time_reached():
    clock = FakeClock(_utc(2026, 11, 27, 0, 59))
    seen = []
    scheduler = Scheduler(
        [ScheduledTarget("notice-run", "notices", CronExpression.parse("cron(0 9 * * ? *)"), {})],
        clock=clock,
        tz=SHANGHAI,
        fire=seen.append,
    )
    assert scheduler.run_due() == []
    clock.advance_to(_utc(2026, 11, 27, 1, 0, 5))
    assert [f.at for f in scheduler.run_due()] == [_utc(2026, 11, 27, 1, 0)]
    assert scheduler.run_due() == []
    assert len(seen) == 1


def test_simulated_clock_moves_the_process_clock_forward_only():
    clock = SimulatedClock()
    clock.start()
    try:
        # GIVEN the clock running at real time
        before = datetime.now(UTC)
        # WHEN it moves ten days ahead
        clock.advance_to(before + timedelta(days=10))
        # THEN datetime and time both see the new time, and it keeps ticking
        now = datetime.now(UTC)
        assert timedelta(days=10) <= now - before < timedelta(days=10, minutes=1)
        import time

        assert abs(time.time() - now.timestamp()) < 60
        assert clock.offset >= timedelta(days=10) - timedelta(seconds=1)
        # AND moving to the past changes nothing
        clock.advance_to(before)
        assert datetime.now(UTC) >= now
    finally:
        clock.stop()
    assert datetime.now(UTC) - before < timedelta(days=1)


def test_durations_and_local_datetimes_for_the_clock_endpoint():
    assert parse_duration("P1D") == timedelta(days=1)
    assert parse_duration("PT2H30M") == timedelta(hours=2, minutes=30)
    assert parse_duration("P1W") == timedelta(weeks=1)
    assert parse_duration(90) == timedelta(seconds=90)
    for bad in ("1 day", "P", "PT", "P1DT", -5, True, "P1M"):
        with pytest.raises(BadRequest):
            parse_duration(bad)
    assert parse_local_datetime("2027-01-17T09:00", SHANGHAI) == _utc(2027, 1, 17, 1, 0)
    assert parse_local_datetime("2027-01-17T09:00+00:00", SHANGHAI) == _utc(2027, 1, 17, 9, 0)
    with pytest.raises(BadRequest):
        parse_local_datetime("tomorrow", SHANGHAI)
