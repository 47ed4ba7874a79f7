"""What respects an owner's time: SMS held in quiet hours, and a weekly cap on nudges.

Pure rules over plain values; the messenger passes the clock and the property's time zone.

Which messages are *nudges* (capped, counted) and which are *essential* (never capped nor held
back by the count) is the property company's view, not a technical one: an owner expects every
bill notice, receipt, refund, failed payment, autopay notice and work order, and would call
the service centre if one were missing; reminders are courtesy nudges, and a fourth one in a
week is nagging. Every template must be in exactly one of the two sets (a test holds it), so a
new template is classified on purpose.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from propdesk.config import QuietHours

NUDGES = frozenset({"pre_due_reminder", "overdue_reminder"})
ESSENTIAL = frozenset(
    {
        "bill_notice",
        "payment_receipt",
        "payment_refunded",
        "payment_failed",
        "autopay_notice",
        "work_order",
        "pay_link",
        "bill_voided",  # a bill withdrawn: the owner must not pay it
        "standard_published",  # the legal publication of a new fee standard reaches every owner
    }
)
# Sent while the owner waits for it (they asked for a new link on the web page a minute ago):
# holding its SMS until morning would only leave them with an expired page.
ASKED_FOR = frozenset({"pay_link"})


def _clock(value: str) -> time:
    hour, minute = (int(part) for part in value.split(":"))
    return time(hour, minute)


def quiet_until(now: datetime, *, time_zone: str, quiet: QuietHours) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (an aware UTC-comparable time), or None when
    ``now`` is outside them. Start is inclusive, end exclusive; hours may span midnight. The end
    is computed on the local calendar, so it is right across a DST change too."""
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    start, end = _clock(quiet.start), _clock(quiet.end)
    at = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= at < end
        end_day = local.date()
    else:  # spans midnight
        inside = at >= start or at < end
        end_day = local.date() + timedelta(days=1) if at >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone)


def contact_week(now: datetime, *, time_zone: str) -> str:
    """The ISO week ``now`` falls in, on the property's calendar (a Monday 00:30 local is the new
    week even while UTC is still on Sunday): ``"2026-W49"``."""
    year, week, _ = now.astimezone(ZoneInfo(time_zone)).isocalendar()
    return f"{year}-W{week:02d}"


def is_nudge(template: str) -> bool:
    return template in NUDGES


def may_be_held(template: str) -> bool:
    return template not in ASKED_FOR
