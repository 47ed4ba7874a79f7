"""Reading what people send to the local runtime's own endpoints (``/_local/...``): durations,
local times and JSON bodies, each refused with a message that says how to write it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION_RE = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class BadRequest(ValueError):
    """A request to one of the runtime's own endpoints is malformed; the message says how."""


def parse_duration(value: Any) -> timedelta:
    """Seconds (a number) or an ISO 8601 duration without years and months (``P1D``, ``PT2H30M``)."""
    if isinstance(value, bool):
        raise BadRequest("advance must be seconds or an ISO 8601 duration such as P1D")
    if isinstance(value, int | float):
        if value < 0:
            raise BadRequest("the clock only moves forward")
        return timedelta(seconds=value)
    text = str(value).strip().upper()
    found = _DURATION_RE.match(text)
    if not found or text in ("P", "PT") or text.endswith("T"):
        raise BadRequest(f"{value!r} is not a duration such as P1D, PT6H or 3600")
    parts = {k: int(v) for k, v in found.groupdict().items() if v}
    return timedelta(**parts)


def parse_local_datetime(value: Any, tz: Any) -> datetime:
    """An ISO datetime; without an offset it is read in the property's time zone."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise BadRequest(f"{value!r} is not an ISO datetime such as 2027-01-17T09:00") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


def json_object(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the body must be JSON") from exc
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value
