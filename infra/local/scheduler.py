"""EventBridge Scheduler, locally: cron expressions, a movable clock, and a scheduler firing the
manifest's schedules in time order.

The clock is the whole process's clock: ``SimulatedClock`` uses ``time-machine`` (a dev
dependency of the local runtime, never of the product) to shift ``time.time()`` and
``datetime.now()`` for every thread of the runtime, so the functions, moto, the Stripe
stand-in and the gateway's JWT check all agree on "now" without the product code knowing.
Simulated now = real now + offset; the offset only grows.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}  # "Jan" -> 1
# EventBridge numbers the days of the week 1 (Sunday) to 7 (Saturday).
WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_CRON_RE = re.compile(r"^cron\((?P<body>[^()]*)\)$")


class CronError(ValueError):
    """An expression this scheduler cannot evaluate; the message says which part."""


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """Numbers, ``*``, lists, ranges and steps (``0/15``, ``1-5``, ``MON-FRI``, ``*/2``)."""
    values: set[int] = set()

    def number(token: str) -> int:
        upper = token.upper()
        if names:
            for name, value in names.items():
                if name.upper() == upper:
                    return value
        if not token.isdigit():
            raise CronError(f"{token!r} is not a number between {low} and {high}")
        value = int(token)
        if not low <= value <= high:
            raise CronError(f"{value} is outside {low}-{high}")
        return value

    for part in text.split(","):
        if not part:
            raise CronError(f"empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"bad step in {part!r}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
            if end < start:
                raise CronError(f"range {base!r} runs backwards")
        else:
            start = number(base)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronExpression:
    """An EventBridge ``cron(minutes hours day-of-month month day-of-week year)`` expression.

    Supports numbers, ``*``, ``?``, lists, ranges, steps, month and weekday names and ``L``
    (last day of the month) in day-of-month; ``W`` and ``#`` are refused.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: any day ("*" or "?")
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int] | None  # EventBridge numbering, 1 = Sunday; None: any
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        match = _CRON_RE.match(expression.strip())
        if not match:
            raise CronError(f"{expression!r} is not a cron(...) expression")
        fields = match.group("body").split()
        if len(fields) != 6:
            raise CronError(f"{expression!r} needs 6 fields, has {len(fields)}")
        minute, hour, dom, month, dow, year = fields
        if dom == "?" and dow == "?":
            raise CronError("day-of-month and day-of-week cannot both be '?'")
        if dom != "?" and dow != "?":
            raise CronError("one of day-of-month and day-of-week must be '?'")
        for text in (dom, dow):
            if "W" in text.upper().replace("WED", "") or "#" in text:
                raise CronError(f"{text!r}: 'W' and '#' are not supported locally")
        last_day = dom.upper() == "L"
        days = None if dom in ("*", "?") or last_day else _parse_field(dom, 1, 31)
        weekdays = None if dow in ("*", "?") else _parse_field(dow, 1, 7, WEEKDAYS)
        return cls(
            minutes=_parse_field(minute, 0, 59),
            hours=_parse_field(hour, 0, 23),
            days=days,
            last_day=last_day,
            months=_parse_field(month, 1, 12, MONTHS),
            weekdays=weekdays,
            years=_parse_field(year, 1970, 2199),
        )

    def matches_day(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.last_day and day.day != calendar.monthrange(day.year, day.month)[1]:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        # date.isoweekday(): Monday 1 .. Sunday 7; EventBridge: Sunday 1 .. Saturday 7.
        return self.weekdays is None or (day.isoweekday() % 7) + 1 in self.weekdays

    def occurrences(self, after: datetime, until: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """Fire times (UTC) in ``(after, until]``, in order, evaluated in the time zone ``tz``."""
        if after.tzinfo is None or until.tzinfo is None:
            raise ValueError("after and until must be aware datetimes")
        day = after.astimezone(tz).date()
        last = until.astimezone(tz).date()
        times = sorted((h, m) for h in self.hours for m in self.minutes)
        while day <= last:
            if self.matches_day(day):
                for hour, minute in times:
                    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    at = local.astimezone(UTC)
                    if after < at <= until:
                        yield at
            day += timedelta(days=1)


class SimulatedClock:
    """The runtime's clock: real time plus a forward offset, applied to the whole process.

    ``start()`` begins a time-machine travel that ticks with real time; ``advance_to`` shifts
    it forward. ``now()`` is the simulated time as every thread sees it.
    """

    def __init__(self) -> None:
        self._travel = None
        self._traveller = None
        self._lock = threading.Lock()
        self.offset = timedelta(0)  # how far ahead of real time the clock has been moved

    def start(self) -> None:
        import time_machine  # dev dependency of the local runtime only

        with self._lock:
            if self._travel is None:
                self._travel = time_machine.travel(datetime.now(UTC), tick=True)
                self._traveller = self._travel.start()

    def stop(self) -> None:
        with self._lock:
            if self._travel is not None:
                self._travel.stop()
                self._travel = None
                self._traveller = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def advance_to(self, when: datetime) -> None:
        """Move forward to ``when`` (never backward: a past ``when`` changes nothing)."""
        with self._lock:
            if self._traveller is None:
                raise RuntimeError("clock not started")
            delta = when - datetime.now(UTC)
            if delta > timedelta(0):
                self._traveller.shift(delta)
                self.offset += delta


@dataclass(frozen=True)
class ScheduledTarget:
    """One manifest schedule: which function it invokes and with what payload."""

    name: str
    function: str
    cron: CronExpression
    payload: dict
    coalesce: bool = False  # see infra.manifest.Schedule.coalesce


@dataclass(frozen=True)
class Firing:
    at: datetime
    target: ScheduledTarget


class Scheduler:
    """Fires schedule occurrences, in time order, as the clock passes them.

    ``fire`` is called with each due firing (the runtime invokes the function and waits for
    the queues to drain, as the real system finishes a run long before the next one).
    A background thread catches occurrences that real time reaches by itself.
    """

    def __init__(
        self,
        targets: list[ScheduledTarget],
        *,
        clock: SimulatedClock,
        tz: ZoneInfo,
        fire: Callable[[Firing], None],
        poll_interval_s: float = 1.0,
    ) -> None:
        self.targets = targets
        self._clock = clock
        self._tz = tz
        self._fire = fire
        self._poll_interval_s = poll_interval_s
        self._lock = threading.RLock()
        self._checked_until = clock.now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[Firing] = []
        # Schedules that do not fire while named here: a fault the demo injects (an outage of
        # the orders sweep), never set by the product.
        self.paused: set[str] = set()

    def due(self, after: datetime, until: datetime) -> list[Firing]:
        firings = [
            Firing(at, target)
            for target in self.targets
            if target.name not in self.paused
            for at in target.cron.occurrences(after, until, self._tz)
        ]
        firings.sort(key=lambda f: (f.at, f.target.name))
        # A coalescing schedule's run of occurrences with nothing else between them: the last only.
        return [
            firing
            for index, firing in enumerate(firings)
            if not (
                firing.target.coalesce
                and index + 1 < len(firings)
                and firings[index + 1].target.name == firing.target.name
            )
        ]

    def run_due(self) -> list[Firing]:
        """Fire everything between the last check and now."""
        with self._lock:
            now = self._clock.now()
            firings = self.due(self._checked_until, now)
            self._checked_until = now
            for firing in firings:
                self._fire_one(firing)
            return firings

    def advance_to(self, target: datetime) -> list[Firing]:
        """Move the clock to ``target``, firing every occurrence passed, each at its own time."""
        with self._lock:
            self.run_due()
            if target <= self._clock.now():
                return []
            firings = self.due(self._checked_until, target)
            for firing in firings:
                self._clock.advance_to(firing.at)
                self._checked_until = max(self._checked_until, firing.at)
                self._fire_one(firing)
            self._clock.advance_to(target)
            self._checked_until = max(self._checked_until, target)
            return firings

    def _fire_one(self, firing: Firing) -> None:
        self.fired.append(firing)
        self._fire(firing)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_interval_s):
            self.run_due()
