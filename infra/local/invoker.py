"""Running the manifest's functions locally the way Lambda runs them.

Each function is a warm instance in a process of its own (``infra.local.worker``), started
with exactly the environment ``infra.environment`` computes from its spec, as the stack does:
a function that reaches for a table, queue or secret it did not declare fails here as it would
in AWS. Its own process also gives it its own Powertools service name and logger state, and its
log (a file per function, like a log group, or the runtime's terminal). One invocation at a
time per function, like a reserved concurrency of one.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from infra import manifest
from infra.local.events import LambdaContext
from propdesk import naming

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPORT_PATH = os.pathsep.join(str(REPO_ROOT / part) for part in ("", "functions", "layers/core/python"))
START_TIMEOUT_S = 60.0
TIMEOUT_GRACE_S = 2.0


class FunctionNotAvailable(Exception):
    """The manifest names a function whose handler could not be started."""


class FunctionError(Exception):
    """The function raised; its log holds the traceback (as Lambda's would)."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.function = function
        self.error_type = error_type


@dataclass
class Invocation:
    function: str
    ok: bool
    duration_ms: float
    error: str | None = None


class Worker:
    """One function's warm instance: a process and the pipe to it. Like Lambda, an instance that
    crashed or ran past its timeout is replaced by a fresh one (a cold start) on the next call."""

    def __init__(
        self,
        spec: manifest.FunctionSpec,
        *,
        env: Mapping[str, str],
        function_name: str,
        region: str,
        log: IO[str] | None,
        handler: str | None = None,
    ) -> None:
        self.spec = spec
        self.handler = handler or spec.handler
        self.function_name = function_name
        self.region = region
        self._env = dict(env)
        self._log = log
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self.process: subprocess.Popen | None = None
        self._spawn()

    def _spawn(self) -> None:
        parent, child = Pipe()
        self._connection = parent
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "infra.local.worker", str(child.fileno()), self.handler],
            env=self._env,
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            start_new_session=True,  # ^C in the terminal stops the runtime, which stops this
            cwd=REPO_ROOT,
        )
        child.close()

    def start(self, offset_s: float) -> str | None:
        """Send the start message; returns None when the handler loaded, else why not."""
        assert self._connection is not None
        try:
            self._connection.send(("start", offset_s))
            if not self._connection.poll(START_TIMEOUT_S):
                self._kill()
                return f"no answer within {START_TIMEOUT_S:.0f} s"
            kind, detail = self._connection.recv()
        except (EOFError, OSError):
            return f"the process exited ({self._reap()})"
        return None if kind == "ready" else str(detail)

    def invoke(self, event: Any, offset_s: float) -> Any:
        context = LambdaContext(
            function_name=self.function_name,
            memory_limit_in_mb=self.spec.memory_mb,
            timeout_s=self.spec.timeout_s,
            region=self.region,
        )
        fields = {k: v for k, v in asdict(context).items() if not k.startswith("_")}
        with self._lock:
            if self._connection is None:  # the last instance died: a cold start
                self._spawn()
                why = self.start(offset_s)
                if why is not None:
                    self._connection = None
                    raise FunctionError(self.spec.name, "Runtime.InitError", why)
            connection = self._connection
            assert connection is not None
            try:
                connection.send(("invoke", event, fields, offset_s))
                if not connection.poll(self.spec.timeout_s + TIMEOUT_GRACE_S):
                    self._kill()
                    raise FunctionError(
                        self.spec.name, "Task timed out", f"after {self.spec.timeout_s} seconds"
                    )
                answer = connection.recv()
            except (EOFError, OSError):
                raise FunctionError(
                    self.spec.name, "Runtime.ExitError", f"exit code {self._reap()}"
                ) from None
        if answer[0] == "ok":
            return answer[1]
        raise FunctionError(self.spec.name, answer[1], answer[2])

    def _reap(self) -> int | None:
        """Wait for a dead process and forget it; its exit code."""
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        if self._connection is not None:
            self._connection.close()
        self._connection = None
        return code

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self._reap()

    def stop(self) -> None:
        # An invocation still running holds the lock: wait for it a while, then stop regardless.
        held = self._lock.acquire(timeout=self.spec.timeout_s + TIMEOUT_GRACE_S)
        try:
            if self._connection is not None:
                with contextlib.suppress(OSError):
                    self._connection.send(("stop",))
            if self.process is not None:
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            self._reap()
        finally:
            if held:
                self._lock.release()


class Functions:
    """The manifest's functions as local warm instances."""

    def __init__(
        self,
        *,
        property_id: str,
        region: str,
        specs: tuple[manifest.FunctionSpec, ...] | None = None,
        clock_offset: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.property_id = property_id
        self.region = region
        self.specs = {spec.name: spec for spec in (specs or manifest.FUNCTIONS)}
        self._clock_offset = clock_offset
        self._workers: dict[str, Worker] = {}
        self._missing: dict[str, str] = {}
        self._logs: list[IO[str]] = []
        self.history: deque[Invocation] = deque(maxlen=5000)
        self.counts: Counter[tuple[str, bool]] = Counter()
        self._history_lock = threading.Lock()

    def start(
        self,
        environments: Mapping[str, Mapping[str, str]],
        *,
        platform_env: Mapping[str, str],
        log_dir: Path | None = None,
    ) -> dict[str, str]:
        """Start every function with its environment (plus what Lambda's platform sets); returns
        the functions that could not be started, with why."""
        offset = self._clock_offset()
        for name, spec in self.specs.items():
            log = None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                log = (log_dir / f"{name}.log").open("a", encoding="utf-8")
                self._logs.append(log)
            env = {
                **platform_env,
                **environments[name],
                "PYTHONPATH": IMPORT_PATH,
                "AWS_LAMBDA_FUNCTION_NAME": naming.function_name(self.property_id, name),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "TZ": ":UTC",
            }
            self._workers[name] = Worker(
                spec,
                env=env,
                function_name=naming.function_name(self.property_id, name),
                region=self.region,
                log=log,
            )
        for name, worker in self._workers.items():
            why = worker.start(offset)
            if why is not None:
                self._missing[name] = why
        for name in self._missing:
            self._workers.pop(name).stop()
        return dict(self._missing)

    @property
    def missing(self) -> dict[str, str]:
        return dict(self._missing)

    def available(self, name: str) -> bool:
        return name in self._workers

    def invoke(self, name: str, event: dict) -> Any:
        """Run the function; its error is raised as ``FunctionError`` (the caller decides what
        Lambda would do with it)."""
        worker = self._workers.get(name)
        if worker is None:
            raise FunctionNotAvailable(self._missing.get(name, name))
        started = time.monotonic()
        try:
            result = worker.invoke(event, self._clock_offset())
        except FunctionError as exc:
            self._record(Invocation(name, False, (time.monotonic() - started) * 1000, exc.error_type))
            raise
        self._record(Invocation(name, True, (time.monotonic() - started) * 1000))
        return result

    def shutdown(self) -> None:
        threads = [threading.Thread(target=worker.stop) for worker in self._workers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._workers.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def _record(self, invocation: Invocation) -> None:
        with self._history_lock:
            self.history.append(invocation)
            self.counts[(invocation.function, invocation.ok)] += 1
