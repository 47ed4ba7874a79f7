"""The local runtime: one process with moto server, the property's resources, the HTTP gateway,
the queue pollers, the scheduler on a movable clock and the Stripe stand-in.

Everything is derived from the manifest (``infra/manifest.py``) and the property config, so a
function, route, schedule or queue added there is served here without changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra import manifest
from infra.config import units_csv_path
from infra.local.gateway import Gateway, GatewayServer, Request, bindings_from_manifest
from infra.local.invoker import Functions
from infra.local.jwt_authorizer import TokenIssuer
from infra.local.scheduler import CronExpression, Firing, ScheduledTarget, Scheduler, SimulatedClock
from infra.local.stripe import StripeStandIn
from propdesk.config import PropertyConfig

log = logging.getLogger("propdesk.local")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
LOCAL_REGION = "ap-southeast-1"
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
    found = _DURATION_RE.match(str(value).strip().upper())
    if not found or str(value).strip().upper() in ("P", "PT") or str(value).strip().upper().endswith("T"):
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


@dataclass
class RuntimeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    stripe_port: int = 0
    access_log: bool = False
    import_units: bool = True
    state_dir: Path | None = DEFAULT_STATE_DIR
    retry_delay_s: int = 1
    drain_timeout_s: float = 180.0
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalSecretValues:
    stripe_api_key: str
    stripe_webhook_secret: str
    link_key: str

    @classmethod
    def generate(cls) -> LocalSecretValues:
        return cls(
            stripe_api_key="sk_test_local_" + secrets.token_hex(16),
            stripe_webhook_secret="whsec_" + secrets.token_hex(24),
            link_key=secrets.token_urlsafe(48),
        )


class LocalRuntime:
    def __init__(self, config: PropertyConfig, options: RuntimeOptions | None = None) -> None:
        self.config = config
        self.options = options or RuntimeOptions()
        self.secrets = LocalSecretValues.generate()
        self.clock = SimulatedClock()
        self.env: dict[str, str] = {}
        self.queue_urls: dict[str, str] = {}
        self.pollers: list[Any] = []
        self.functions = Functions(property_id=config.property_id, region=LOCAL_REGION)
        self.scheduler: Scheduler | None = None
        self.standin: StripeStandIn | None = None
        self.gateway_server: GatewayServer | None = None
        self.issuer: TokenIssuer | None = None
        self.units_imported: str = "not imported"
        self._moto = None
        self._saved_env: dict[str, str | None] = {}
        self._sqs = None
        self._sqs_lock = threading.Lock()
        self.started = False

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.gateway_server is not None
        return self.gateway_server.base_url

    @property
    def stripe_base_url(self) -> str:
        assert self.standin is not None
        return self.standin.base_url

    def start(self) -> LocalRuntime:
        self.clock.start()
        self._start_moto()
        self._reset_cached_clients()

        self.standin = StripeStandIn(
            api_key=self.secrets.stripe_api_key, webhook_secret=self.secrets.stripe_webhook_secret
        )
        self.standin.serve(self.options.host, self.options.stripe_port)

        # The gateway listens first (its URL is the public URL the owners' links use); it answers
        # 503 for a function until the handlers are loaded below.
        gateway = Gateway(
            bindings=bindings_from_manifest(tuple(self.functions.specs.values())),
            invoke=self.functions.invoke,
            available=self.functions.available,
        )
        self.gateway_server = GatewayServer(
            gateway, host=self.options.host, port=self.options.port, access_log=self.options.access_log
        )
        self.issuer = TokenIssuer.generate(
            issuer=f"{self.base_url}/_local/cognito", audience=f"propdesk-{self.config.property_id}-local"
        )
        gateway.authorizer = self.issuer
        self._add_local_routes(gateway)
        self.gateway_server.start()
        self.standin.webhook_url = f"{self.base_url}/webhooks/stripe"

        from infra.local.resources import LocalSecrets, provision

        self.env = provision(
            self.config,
            public_url=self.base_url,
            secrets=LocalSecrets(
                self.secrets.stripe_api_key, self.secrets.stripe_webhook_secret, self.secrets.link_key
            ),
        )
        self.env.update(
            {
                "STRIPE_API_BASE": self.stripe_base_url,
                "POWERTOOLS_SERVICE_NAME": f"propdesk-{self.config.property_id}",
                "POWERTOOLS_METRICS_NAMESPACE": "PropDesk",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
            }
        )
        self.env.update(self.options.extra_env)
        self._set_env(self.env)
        self._reset_cached_clients()
        self._queue_urls_from_env()

        missing = self.functions.load()
        for name, why in missing.items():
            log.warning("function %s is not available: %s", name, why)

        self._start_pollers()
        self.scheduler = Scheduler(
            self._schedule_targets(), clock=self.clock, tz=self.config.tz, fire=self._fire
        )
        self.scheduler.start()
        if self.options.import_units:
            self.units_imported = self.import_units()
        self._write_state()
        self.started = True
        return self

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        for poller in self.pollers:
            poller._stop.set()
        for poller in self.pollers:
            poller.stop()
        self.functions.shutdown()
        if self.gateway_server is not None:
            self.gateway_server.shutdown()
        if self.standin is not None:
            self.standin.shutdown()
        if self._moto is not None:
            self._moto.stop()
        self.clock.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._reset_cached_clients()
        self.started = False

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            if name not in self._saved_env:
                self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        # Fake credentials: nothing here may ever reach a real AWS account.
        self._set_env(
            {
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_REGION": LOCAL_REGION,
            }
        )
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            if name in os.environ:
                self._saved_env.setdefault(name, os.environ[name])
                del os.environ[name]

    @staticmethod
    def _reset_cached_clients() -> None:
        """Drop clients made before the endpoint was set (pynamodb's, Powertools', ours)."""
        import boto3

        from propdesk.store.models import TABLES

        boto3.DEFAULT_SESSION = None
        for table in TABLES:
            table.model._connection = None
        try:
            from propdesk.aws import reset_clients
            from propdesk.settings import get_settings

            reset_clients()
            get_settings.cache_clear()
        except ImportError:  # pragma: no cover - the shared package is always there
            pass

    def _queue_urls_from_env(self) -> None:
        import boto3

        from infra.local.resources import queue_name

        sqs = boto3.client("sqs")
        for spec in manifest.QUEUES:
            self.queue_urls[spec.name] = self.env[manifest.queue_env(spec.name)]
            dlq = queue_name(self.config.property_id, f"{spec.name}-dlq")
            self.queue_urls[f"{spec.name}-dlq"] = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]

    def _start_pollers(self) -> None:
        from infra.local.pollers import QueuePoller

        for spec in self.functions.specs.values():
            if not self.functions.available(spec.name):
                continue
            for trigger in spec.consumes:
                poller = QueuePoller(
                    queue=trigger.queue,
                    queue_url=self.queue_urls[trigger.queue],
                    function=spec.name,
                    invoke=self.functions.invoke,
                    batch_size=trigger.batch_size,
                    batching_window_s=min(trigger.max_batching_window_s, 0.2),
                    region=LOCAL_REGION,
                    retry_delay_s=self.options.retry_delay_s,
                )
                poller.start()
                self.pollers.append(poller)

    def _schedule_targets(self) -> list[ScheduledTarget]:
        targets = []
        for spec in self.functions.specs.values():
            for schedule in spec.schedules:
                targets.append(
                    ScheduledTarget(
                        name=schedule.name,
                        function=spec.name,
                        cron=CronExpression.parse(schedule.expression(self.config)),
                        payload=dict(schedule.payload),
                    )
                )
        return targets

    # --- what the scheduler and the local endpoints do -------------------------------------------

    def _fire(self, firing: Firing) -> None:
        """Invoke a schedule's target with its payload (the event, as Scheduler sends it), then
        let the work it queued finish before the clock moves on."""
        target = firing.target
        if not self.functions.available(target.function):
            log.warning("schedule %s: function %s not available", target.name, target.function)
            return
        try:
            result = self.functions.invoke(target.function, dict(target.payload))
            log.info("schedule %s fired at %s: %s", target.name, firing.at.isoformat(), _short(result))
        except Exception:
            log.exception("schedule %s: %s failed", target.name, target.function)
        self.wait_until_drained()

    def queue_depths(self, names: set[str] | None = None) -> dict[str, dict[str, int]]:
        from infra.local.pollers import queue_depths

        urls = {n: u for n, u in self.queue_urls.items() if names is None or n in names}
        with self._sqs_lock:
            if self._sqs is None:
                import boto3

                self._sqs = boto3.client("sqs")
            return queue_depths(urls, client=self._sqs)

    def wait_until_drained(self, timeout_s: float | None = None) -> bool:
        """True once every consumed queue is empty and no consumer is working, twice in a row.

        Asks the emulator only while every poller is idle, so waiting costs the functions little.
        """
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.options.drain_timeout_s)
        consumed = {p.queue for p in self.pollers}
        stable = 0
        while time.monotonic() < deadline:
            if any(p.busy for p in self.pollers):
                stable = 0
                time.sleep(0.1)
                continue
            before = sum(p.activity for p in self.pollers)
            depths = self.queue_depths(consumed)
            after = sum(p.activity for p in self.pollers)
            pending = sum(sum(d.values()) for d in depths.values())
            if pending == 0 and before == after and not any(p.busy for p in self.pollers):
                stable += 1
                if stable >= 2:
                    return True
            else:
                stable = 0
            time.sleep(0.05)
        return False

    def advance(self, *, to: datetime | None = None, by: timedelta | None = None) -> list[Firing]:
        assert self.scheduler is not None
        target = to if to is not None else self.clock.now() + (by or timedelta(0))
        if target < self.clock.now() - timedelta(seconds=1):
            raise BadRequest("the clock only moves forward")
        return self.scheduler.advance_to(target)

    def mint_token(self, roles: list[str], *, sub: str | None = None, ttl_s: int = 3600) -> str:
        assert self.issuer is not None
        known = set(manifest.staff_roles(self.config))
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise BadRequest(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(sorted(known))}")
        return self.issuer.mint(roles=roles, sub=sub, ttl_s=ttl_s)

    def import_units(self) -> str:
        """The property's units and owners, through the admin API (as an administrator would)."""
        text = units_csv_path(self.config).read_text(encoding="utf-8")
        request = Request(
            method="POST",
            target="/staff/units/import",
            headers=[
                ("Content-Type", "text/csv; charset=utf-8"),
                ("Authorization", "Bearer " + self.mint_token([manifest.ROLE_ADMIN], sub="local-runtime")),
            ],
            body=text.encode("utf-8"),
        )
        assert self.gateway_server is not None
        response = self.gateway_server.gateway.handle(request)
        if 200 <= response.status < 300:
            return f"imported through POST /staff/units/import: {_short(response.body.decode('utf-8', 'replace'))}"
        if response.status in (404, 503):
            # The API function is not in this build yet: use the same service directly.
            from propdesk.services.units import import_units_csv

            result = import_units_csv(text, config=self.config)
            if not result.ok:
                raise RuntimeError(f"units CSV refused: {result.errors[:5]}")
            return f"imported directly (no API route yet): {result.created} created, {result.updated} updated"
        raise RuntimeError(
            f"units import failed: {response.status} {response.body.decode('utf-8', 'replace')[:500]}"
        )

    def _write_state(self) -> None:
        if self.options.state_dir is None:
            return
        folder = self.options.state_dir / self.config.property_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "runtime.json").write_text(
            json.dumps(
                {
                    "property_id": self.config.property_id,
                    "base_url": self.base_url,
                    "stripe_base_url": self.stripe_base_url,
                    "pid": os.getpid(),
                    "started_at": datetime.now(UTC).isoformat(),
                },
                indent=2,
            ),
            encoding="utf-8",
        )

    def _add_local_routes(self, gateway: Gateway) -> None:
        from infra.local import endpoints

        endpoints.register(gateway, self)


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
