"""Handlers for the tests of the local runtime's function processes: one that answers, one that
takes too long, one whose process dies."""

from __future__ import annotations

import os
import time


def echo(event, context):
    return {"event": event, "function": context.function_name, "tz": os.environ.get("TZ")}


def sleepy(event, context):
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def crash(event, context):
    os._exit(3)
