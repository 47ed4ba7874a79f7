"""The local runtime: moto server, the property's resources, the HTTP gateway, the queue
pollers, the scheduler on a movable clock and the Stripe stand-in in one process, and each
function in a process of its own (``infra.local.invoker``).

Everything is derived from the manifest (``infra/manifest.py``), the route table
(``propdesk.routes``) and the property config, so a function, route, schedule or queue added
there is served here without changes, and each function gets the environment the stack gives it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from infra import manifest
from infra.config import units_csv_path
from infra.local import endpoints
from infra.local.gateway import Gateway, GatewayServer, Request, bindings
from infra.local.inputs import BadRequest
from infra.local.invoker import Functions
from infra.local.jwt_authorizer import TokenIssuer
from infra.local.moto_process import MotoProcess
from infra.local.resources import LocalResources, LocalSecrets, provision
from infra.local.scheduler import CronExpression, Firing, ScheduledTarget, Scheduler, SimulatedClock
from infra.local.stripe import StripeStandIn
from propdesk import routes
from propdesk.config import PropertyConfig

log = logging.getLogger("propdesk.local")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
LOCAL_REGION = "ap-southeast-1"
# What Lambda's platform gives every function here that the stack does not: the emulator's
# endpoint and fake credentials (nothing local may ever reach a real AWS account), and no X-Ray.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


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
    # Where the functions' logs go, one file per function; None: the runtime's own stdout.
    log_dir: Path | None = None
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
        self.resources: LocalResources | None = None
        self.queue_urls: dict[str, str] = {}
        self.pollers: list[Any] = []
        self.functions = Functions(
            property_id=config.property_id,
            region=LOCAL_REGION,
            clock_offset=lambda: self.clock.offset.total_seconds(),
        )
        self.scheduler: Scheduler | None = None
        self.standin: StripeStandIn | None = None
        self.wechatpay: Any = None  # infra.local.wechatpay.WeChatPayStandIn, when the property offers it
        self.wechatpay_merchant: Any = None  # its merchant's keys (infra.local.wechatpay.MerchantKeys)
        self.alipay: Any = None  # infra.local.alipay.AlipayStandIn, when the property offers it
        self.alipay_app_keys: Any = None  # the app's key pair (infra.local.alipay.KeyPair)
        self.gateway_server: GatewayServer | None = None
        self.issuer: TokenIssuer | None = None
        self.units_imported: str = "not imported"
        self._moto: MotoProcess | None = None
        self._moto_log: IO[bytes] | None = None
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
        self.wechatpay = self._start_wechatpay()
        self.alipay = self._start_alipay()

        # The gateway listens first (its URL is the public URL the owners' links use); it answers
        # 503 for a function until the functions have started below.
        gateway = Gateway(
            bindings=bindings(), invoke=self.functions.invoke, available=self.functions.available
        )
        self.gateway_server = GatewayServer(
            gateway, host=self.options.host, port=self.options.port, access_log=self.options.access_log
        )
        self.issuer = TokenIssuer.generate(
            issuer=f"{self.base_url}/_local/cognito", audience=f"propdesk-{self.config.property_id}-local"
        )
        gateway.authorizer = self.issuer
        endpoints.register(gateway, self)
        self.gateway_server.start()
        self.standin.webhook_url = self.base_url + routes.route("stripe_webhook").path
        wechatpay_secret = self._wechatpay_secret()

        self.resources = provision(
            self.config,
            public_url=self.base_url,
            secrets=LocalSecrets(
                self.secrets.stripe_api_key,
                self.secrets.stripe_webhook_secret,
                self.secrets.link_key,
                wechatpay=wechatpay_secret,
                alipay=self._alipay_secret(),
            ),
        )
        self.queue_urls = dict(self.resources.queue_urls)
        # This process plays the operator (the demo's checks, the outbox): it sees everything.
        self.env = {**self.resources.operator_env(), "STRIPE_API_BASE": self.stripe_base_url}
        if self.wechatpay is not None:
            self.env["WECHATPAY_API_BASE"] = self.wechatpay.base_url
        if self.alipay is not None:
            self.env["ALIPAY_GATEWAY"] = self.alipay.gateway_url
        self.env.update(self.options.extra_env)
        self._set_env(self.env)
        self._reset_cached_clients()

        missing = self.functions.start(
            {name: self.function_env(spec) for name, spec in self.functions.specs.items()},
            platform_env=self._platform_env(),
            log_dir=self.options.log_dir,
        )
        for name, why in missing.items():
            log.warning("function %s did not start: %s", name, why)

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
        if self.wechatpay is not None:
            self.wechatpay.shutdown()
            self.wechatpay = None
        if self.alipay is not None:
            self.alipay.shutdown()
            self.alipay = None
        if self._moto is not None:
            self._moto.stop()
        if self._moto_log is not None:
            self._moto_log.close()
            self._moto_log = None
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

    def function_env(self, spec: manifest.FunctionSpec) -> dict[str, str]:
        """What the stack gives the function, and what only the local stand-ins need: where the
        Stripe SDK finds the stand-in (for a function that holds the Stripe keys)."""
        assert self.resources is not None
        env = self.resources.function_env(spec)
        if "stripe" in spec.secrets:
            env["STRIPE_API_BASE"] = self.stripe_base_url
        if "wechatpay" in spec.secrets and self.wechatpay is not None:
            env["WECHATPAY_API_BASE"] = self.wechatpay.base_url  # the SDK's gateway (payments.wechatpay)
        if "alipay" in spec.secrets and self.alipay is not None:
            env["ALIPAY_GATEWAY"] = self.alipay.gateway_url  # the SDK's gateway (payments.alipay)
        env.update(self.options.extra_env)
        return env

    def _start_wechatpay(self) -> Any:
        """The WeChat Pay stand-in, for a property that offers the rail: a merchant with keys made
        now, as a merchant platform would issue them."""
        if "wechat_pay" not in self.config.payment.rails:
            return None
        from infra.local.wechatpay import WeChatPayStandIn, merchant_keys

        merchant = merchant_keys()
        standin = WeChatPayStandIn(
            mchid="1900000109",
            appid="wx" + secrets.token_hex(8),
            apiv3_key=secrets.token_hex(16),
            merchant_serial=merchant.serial_no,
            merchant_public_key=merchant.public_key,
        )
        standin.serve(self.options.host, 0)
        self.wechatpay_merchant = merchant
        return standin

    def _wechatpay_secret(self) -> dict[str, str] | None:
        """The ``wechatpay`` secret, as the operator would put it (see the README)."""
        standin = self.wechatpay
        if standin is None:
            return None
        return {
            "mchid": standin.mchid,
            "appid": standin.appid,
            "private_key": self.wechatpay_merchant.private_key,
            "cert_serial_no": self.wechatpay_merchant.serial_no,
            "apiv3_key": standin.apiv3_key,
            "public_key": standin.public_key_pem,
            "public_key_id": standin.public_key_id,
        }

    def _start_alipay(self) -> Any:
        """The Alipay stand-in, for a property that offers the rail: an app whose key pair is made
        now, as the open platform's key tool would."""
        if "alipay" not in self.config.payment.rails:
            return None
        from infra.local.alipay import AlipayStandIn, generate_app_keys

        app = generate_app_keys()
        standin = AlipayStandIn(
            app_id="2021" + f"{secrets.randbelow(10**12):012d}", app_public_key=app.public_pem
        )
        standin.serve(self.options.host, 0)
        self.alipay_app_keys = app
        return standin

    def _alipay_secret(self) -> dict[str, str] | None:
        """The ``alipay`` secret, as the operator would put it (see the README)."""
        standin = self.alipay
        if standin is None:
            return None
        return {
            "app_id": standin.app_id,
            "app_private_key": self.alipay_app_keys.private_pem,
            "alipay_public_key": standin.alipay_public_key_pem,
            "seller_id": standin.seller_id,
        }

    def _platform_env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
        return {
            **{name: os.environ[name] for name in keep if name in os.environ},
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            if name not in self._saved_env:
                self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value

    def _start_moto(self) -> None:
        # A process of its own (see the module): a fresh, empty world each time, as a fresh
        # account would be, even when an earlier runtime ran here (tests start several).
        log: Any = subprocess.DEVNULL
        if self.options.log_dir is not None:
            self.options.log_dir.mkdir(parents=True, exist_ok=True)
            log = self._moto_log = (self.options.log_dir / "moto.log").open("ab")
        self._moto = MotoProcess(host="127.0.0.1", log=log).start()
        endpoint = self._moto.endpoint_url
        # Fake credentials: nothing here may ever reach a real AWS account.
        self._set_env(
            {
                "AWS_ENDPOINT_URL": endpoint,
                **LOCAL_CREDENTIALS,
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
                if not schedule.applies(self.config):
                    continue
                targets.append(
                    ScheduledTarget(
                        name=schedule.name,
                        function=spec.name,
                        cron=CronExpression.parse(schedule.expression(self.config)),
                        payload=dict(schedule.payload),
                        coalesce=schedule.coalesce,
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
            # A message in flight counts in the depths and a consumer at work is busy, so the
            # second reading only confirms the first: 10 ms apart (a no-op schedule run then
            # costs ~30 ms of waiting, not ~80; the demo fires ~300).
            time.sleep(0.01)
        return False

    def advance(self, *, to: datetime | None = None, by: timedelta | None = None) -> list[Firing]:
        assert self.scheduler is not None
        target = to if to is not None else self.clock.now() + (by or timedelta(0))
        if target < self.clock.now() - timedelta(seconds=1):
            raise BadRequest("the clock only moves forward")
        return self.scheduler.advance_to(target)

    def clock_state(self) -> dict[str, Any]:
        now = self.clock.now()
        tz = self.config.tz
        upcoming = []
        if self.scheduler is not None:
            for target in self.scheduler.targets:
                nxt = next(target.cron.occurrences(now, now + timedelta(days=400), tz), None)
                upcoming.append(
                    {
                        "schedule": target.name,
                        "function": target.function,
                        "next": nxt.astimezone(tz).isoformat() if nxt else None,
                    }
                )
        return {
            "now": now.isoformat(),
            "local": now.astimezone(tz).isoformat(),
            "time_zone": self.config.time_zone,
            "offset_s": int(self.clock.offset.total_seconds()),
            "schedules": upcoming,
        }

    def poller_counts(self) -> dict[str, dict[str, Any]]:
        return {
            p.queue: {"function": p.function, "processed": p.processed, "failed": p.failures}
            for p in self.pollers
        }

    def function_states(self) -> dict[str, str]:
        missing = self.functions.missing
        return {
            name: f"missing: {missing[name]}" if name in missing else "ready" for name in self.functions.specs
        }

    def stripe_state(self) -> dict[str, Any]:
        assert self.standin is not None
        return {
            "api_base": self.stripe_base_url,
            "webhook_url": self.standin.webhook_url,
            "webhook_signing_secret": self.secrets.stripe_webhook_secret,
            "deliveries": [d.summary() for d in self.standin.deliveries],
        }

    def report_contact(self, *, kind: str, to: str, response: str | None = None) -> dict[str, Any]:
        """Play back what SES (a permanent bounce, a complaint) or SNS (a failed SMS delivery)
        would report about the newest message sent to ``to``, in their formats, to the
        functions the manifest subscribes (``contact_events``); their answers."""
        from infra.local import contact_events, outbox
        from propdesk import naming

        box = outbox.outbox()
        at = self.clock.now()
        if kind in ("bounce", "complaint"):
            sent = next((m for m in box["email"] if to in m["to"]), None)
            if sent is None:
                raise BadRequest("no e-mail was sent to that address")
            topic = f"arn:aws:sns:{LOCAL_REGION}:{contact_events.ACCOUNT}:{naming.prefix(self.config.property_id)}-contact-events"
            event = contact_events.sns_delivery(
                contact_events.ses_event(sent, kind=kind, at=at), topic_arn=topic, at=at
            )
        elif kind == "sms_failure":
            sms = next((m for m in box["sms"] if m["to"] == to), None)
            if sms is None:
                raise BadRequest("no SMS was sent to that number")
            event = contact_events.sms_failure_delivery(
                sms, response=response or "Invalid phone number", region=LOCAL_REGION, at=at
            )
        else:
            raise BadRequest("kind is bounce, complaint or sms_failure")
        return {
            spec.name: self.functions.invoke(spec.name, event)
            for spec in self.functions.specs.values()
            if spec.contact_events
        }

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
                ("Authorization", "Bearer " + self.mint_token([routes.ROLE_ADMIN], sub="local-runtime")),
            ],
            body=text.encode("utf-8"),
        )
        assert self.gateway_server is not None
        response = self.gateway_server.gateway.handle(request)
        if 200 <= response.status < 300:
            return f"imported through POST /staff/units/import: {_short(response.body.decode('utf-8', 'replace'))}"
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


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
