"""Invoking the manifest's functions in-process, the way Lambda would.

Each function is imported by its handler string (``<name>.handler.lambda_handler``) after the
runtime has set the environment, and invoked with a Lambda-shaped context. One invocation at
a time per function (like a reserved concurrency of one): the handlers' module-level
Powertools objects are not meant to be shared by concurrent invocations.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from infra import manifest

ACCOUNT_ID = "123456789012"


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    region: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionNotAvailable(Exception):
    """The manifest names a function whose handler cannot be imported (yet)."""


@dataclass
class Invocation:
    function: str
    ok: bool
    duration_ms: float
    error: str | None = None


class Functions:
    def __init__(
        self, *, property_id: str, region: str, specs: tuple[manifest.FunctionSpec, ...] | None = None
    ):
        self.property_id = property_id
        self.region = region
        self.specs = {spec.name: spec for spec in (specs or manifest.FUNCTIONS)}
        self._handlers: dict[str, Callable[[dict, Any], Any]] = {}
        self._modules: dict[str, ModuleType] = {}
        self._missing: dict[str, str] = {}
        self._instances = {
            name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lambda-{name}")
            for name in self.specs
        }
        self.history: deque[Invocation] = deque(maxlen=5000)
        self.counts: Counter[tuple[str, bool]] = Counter()
        self._history_lock = threading.Lock()

    def load(self) -> dict[str, str]:
        """Import every handler; returns the functions that could not be loaded, with why."""
        for name, spec in self.specs.items():
            module_name, _, attr = spec.handler.rpartition(".")
            try:
                module = importlib.import_module(module_name)
                self._modules[name] = module
                self._handlers[name] = getattr(module, attr)
            except (ImportError, AttributeError) as exc:
                self._missing[name] = f"{type(exc).__name__}: {exc}"
        return dict(self._missing)

    @property
    def missing(self) -> dict[str, str]:
        return dict(self._missing)

    def module(self, name: str) -> ModuleType | None:
        return self._modules.get(name)

    def available(self, name: str) -> bool:
        return name in self._handlers

    def invoke(self, name: str, event: dict) -> Any:
        """Run the function; exceptions propagate (the caller decides what Lambda would do)."""
        handler = self._handlers.get(name)
        if handler is None:
            raise FunctionNotAvailable(self._missing.get(name, name))
        spec = self.specs[name]
        context = LocalLambdaContext(
            function_name=f"propdesk-{self.property_id}-{name}",
            memory_limit_in_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            region=self.region,
        )
        return self._instances[name].submit(self._run, name, handler, event, context).result()

    def _run(self, name: str, handler: Callable[[dict, Any], Any], event: dict, context: Any) -> Any:
        started = time.monotonic()
        try:
            result = handler(event, context)
        except Exception as exc:
            self._record(Invocation(name, False, (time.monotonic() - started) * 1000, type(exc).__name__))
            raise
        self._record(Invocation(name, True, (time.monotonic() - started) * 1000))
        return result

    def shutdown(self) -> None:
        for instance in self._instances.values():
            instance.shutdown(wait=False, cancel_futures=True)

    def _record(self, invocation: Invocation) -> None:
        with self._history_lock:
            self.history.append(invocation)
            self.counts[(invocation.function, invocation.ok)] += 1
