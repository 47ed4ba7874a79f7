"""One function's warm instance: ``python -m infra.local.worker <fd> <handler>``.

Started by the local runtime (``infra.local.invoker``) in a process of its own, with exactly
the environment the stack would give the function (its declared resources, its Powertools
names, Lambda's ``TZ=:UTC``) and stdout/stderr going to the function's own log, as in AWS. It
imports the handler once (the cold start), then runs one invocation at a time, as Lambda runs
one instance: each request comes over the pipe ``fd`` with the runtime's clock offset, which
the process clock follows (time-machine), so "now" is the same here as in the runtime.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any


class Clock:
    """This process's clock: real time plus the runtime's offset (which only grows)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._traveller: Any = None

    def follow(self, offset_s: float) -> None:
        if self._traveller is None:
            import time_machine  # dev dependency of the local runtime only

            travel = time_machine.travel(datetime.now(UTC) + timedelta(seconds=offset_s), tick=True)
            self._traveller = travel.start()
            self._offset = offset_s
        elif offset_s > self._offset:
            self._traveller.shift(timedelta(seconds=offset_s - self._offset))
            self._offset = offset_s


def serve(connection: Connection, handler_path: str) -> int:
    from infra.local.events import LambdaContext

    clock = Clock()
    try:
        kind, offset_s = connection.recv()
    except (EOFError, OSError):  # stopped before it started
        return 0
    if kind != "start":
        return 0
    clock.follow(offset_s)
    module_name, _, attribute = handler_path.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException as exc:
        traceback.print_exc()
        connection.send(("failed", f"{type(exc).__name__}: {exc}"))
        return 1
    connection.send(("ready", None))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the runtime is gone
            return 0
        if message[0] == "stop":
            return 0
        _, event, context_fields, offset_s = message
        clock.follow(offset_s)
        try:
            result = handler(event, LambdaContext(**context_fields))
        except Exception as exc:
            # As Lambda does: the error goes to the function's log, a summary to the caller.
            traceback.print_exc()
            sys.stdout.flush()
            connection.send(("error", type(exc).__name__, str(exc)[:500]))
            continue
        sys.stdout.flush()
        connection.send(("ok", result))


def main(argv: list[str]) -> int:
    connection = Connection(int(argv[0]))
    try:
        return serve(connection, argv[1])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
