"""The system's one list of functions, their triggers and the resources each may use.

Read by the CDK stack (to build functions, routes, schedules, queues, grants and each
function's environment) and by the local runtime (to serve the same routes, poll the same
queues, fire the same schedules and give each function the same environment). A function's
routes are its entries in the route table (``propdesk.routes``). Add a function, schedule or
queue here, or a route there, and both pick it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from propdesk import routes as route_table
from propdesk.config import PropertyConfig
from propdesk.naming import MESSAGES_QUEUE, NOTICES_QUEUE, TICKETS_QUEUE
from propdesk.payments.rails import order_rails, reconciled_rails
from propdesk.routes import Route

Access = Literal["read", "read_write"]


def staff_roles(config: PropertyConfig) -> tuple[str, ...]:
    """The property's Cognito groups: the base roles and one per department."""
    return route_table.staff_roles(d.code for d in config.departments)


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule, evaluated in the property's time zone."""

    name: str
    description: str
    expression: Callable[[PropertyConfig], str]
    payload: dict
    # A frequent check that only looks at what is pending (the orders sweep): when the local
    # runtime's clock jumps over many occurrences, it fires only the last one before each other
    # firing, instead of asking the same question thousands of times. Deployed, EventBridge
    # fires every occurrence; this flag is not part of the stack.
    coalesce: bool = False
    # Whether the property needs this schedule at all: a property with no WeChat Pay or Alipay
    # has no orders to sweep; one without card autopay has no charges to make. Not deployed (and
    # not fired by the local runtime) where it answers False.
    applies: Callable[[PropertyConfig], bool] = lambda config: True


@dataclass(frozen=True)
class QueueSpec:
    name: str
    description: str
    visibility_timeout_s: int
    max_receive_count: int = 5
    fifo: bool = False


@dataclass(frozen=True)
class QueueTrigger:
    queue: str
    batch_size: int = 10
    max_batching_window_s: int = 0


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/; handler "<name>.handler.lambda_handler"
    description: str
    memory_mb: int
    timeout_s: int
    schedules: tuple[Schedule, ...] = ()
    consumes: tuple[QueueTrigger, ...] = ()
    sends_to: tuple[str, ...] = ()  # queue names
    tables: dict[str, Access] = field(default_factory=dict)
    sends_email: bool = False
    sends_sms: bool = False
    secrets: tuple[str, ...] = ()  # keys of SECRETS
    reads_public_url: bool = False
    documents: Access | None = None
    document_prefixes: tuple[str, ...] = ("receipts/",)  # where in the documents bucket
    # The mandates key (KMS): "encrypt" to enrol owners' bank accounts, "encrypt_decrypt" to also
    # write the bank's deduction file.
    mandates_key: Literal["encrypt", "encrypt_decrypt"] | None = None
    # Receives the SES configuration set's bounce and complaint events (SNS) and the SMS delivery
    # failures (CloudWatch Logs): marks the owners' addresses and numbers.
    contact_events: bool = False

    @property
    def handler(self) -> str:
        return f"{self.name}.handler.lambda_handler"

    @property
    def routes(self) -> tuple[Route, ...]:
        return route_table.routes_of(self.name)


def _daily_at_clock(clock: str) -> str:
    hour, minute = (int(part) for part in clock.split(":"))
    return f"cron({minute} {hour} * * ? *)"


def _daily_at(config: PropertyConfig, minutes_after: int = 0) -> str:
    hour, minute = (int(part) for part in config.billing.run_time.split(":"))
    total = hour * 60 + minute + minutes_after
    return f"cron({total % 60} {(total // 60) % 24} * * ? *)"


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(
        NOTICES_QUEUE, "Batches of units whose bills the notice worker issues", visibility_timeout_s=360
    ),
    QueueSpec(
        MESSAGES_QUEUE, "Owner messages waiting to be rendered and sent (SES/SNS)", visibility_timeout_s=180
    ),
    QueueSpec(
        TICKETS_QUEUE, "Service requests waiting to be routed to a department", visibility_timeout_s=180
    ),
)

# Secrets in Secrets Manager. Value shapes:
#   stripe:   {"api_key": "sk_...", "webhook_secret": "whsec_..."}
#   link_key: {"key": "<random text, at least 32 characters>"}
#   wechatpay: {"mchid", "appid", "private_key" (PEM), "cert_serial_no", "apiv3_key" (32 characters),
#               "public_key" (the platform public key, PEM), "public_key_id"}
#   alipay:   {"app_id", "app_private_key" (PEM), "alipay_public_key" (PEM), "seller_id" (PID, optional)}
SECRETS: dict[str, str] = {
    "stripe": "Stripe API key and webhook signing secret",
    "link_key": "Key that signs owners' pay links",
    "wechatpay": "WeChat Pay API v3 merchant keys and the platform public key",
    "alipay": "Alipay app id, the app's private key and Alipay's public key",
}

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="notices",
        description="Billing cycles: the daily run prepares a draft on its notice day; the worker computes "
        "drafts, issues approved cycles' bills and voids voided ones'",
        memory_mb=512,
        timeout_s=300,
        schedules=(
            Schedule(
                name="notice-run",
                description="Daily check: on a period's notice day, prepare its draft cycle (issued "
                "at once if the property's config says so)",
                expression=lambda config: _daily_at(config),
                payload={"action": "plan_cycle"},
            ),
        ),
        consumes=(QueueTrigger("notices", batch_size=1),),
        sends_to=("notices", "messages"),
        # owners: a draft lists the owners no notice can reach; cycles: drafts, approvals, voids;
        # standards: the version in force for the period
        tables={
            "units": "read",
            "standards": "read",
            "owners": "read",
            "bills": "read_write",
            "accounts": "read_write",
            "ledger": "read_write",
            "cycles": "read_write",
            "counters": "read_write",  # the lease on a batch of bills (store.issuing)
        },
        secrets=("link_key",),
        reads_public_url=True,
    ),
    FunctionSpec(
        name="messenger",
        description="Renders owner messages in the owner's locale and sends them by email (SES) and SMS (SNS)",
        memory_mb=256,
        timeout_s=150,
        schedules=(
            Schedule(
                name="release-held",
                description="End of quiet hours: queue again the messages whose SMS was held",
                expression=lambda config: _daily_at_clock(config.messaging.quiet_hours.end),
                payload={"action": "release_held"},
            ),
        ),
        consumes=(QueueTrigger("messages", batch_size=10, max_batching_window_s=1),),
        sends_to=("messages",),  # held messages, queued again at the end of quiet hours
        # bills: a reminder is re-read just before it goes, and dropped if its bill was paid;
        # owners: bounced addresses and failed numbers are marked; counters: weekly contact counts;
        # links: the SMS's short link (one conditional put), made only when an SMS goes;
        # standards: a notice names its items as the bill's fee standard version does
        tables={
            "owners": "read_write",
            "messages": "read_write",
            "ledger": "read_write",
            "bills": "read",
            "counters": "read_write",
            "links": "read_write",
            "standards": "read",
        },
        sends_email=True,
        sends_sms=True,
        contact_events=True,
    ),
    FunctionSpec(
        name="payment_webhook",
        description="Payment notifications (Stripe, WeChat Pay): verifies each and lands each payment on its "
        "unit's account exactly once; the orders sweep queries what was never notified",
        memory_mb=256,
        timeout_s=60,
        schedules=(
            Schedule(
                name="orders-sweep",
                description="Every 5 minutes: query open WeChat Pay and Alipay orders, close expired ones",
                expression=lambda config: "cron(0/5 * * * ? *)",
                payload={"action": "sweep_orders"},
                coalesce=True,
                applies=lambda config: bool(order_rails(config)),
            ),
            Schedule(
                name="reconcile",
                description="Daily at 10:30: yesterday's WeChat Pay and Alipay statements against our "
                "payments (their statements are ready from 10:00 Beijing time)",
                expression=lambda config: "cron(30 10 * * ? *)",
                payload={"action": "reconcile"},
                applies=lambda config: bool(reconciled_rails(config)),
            ),
            Schedule(
                name="autopay",
                description="Daily: card autopay's notices before the due date, its charges on the due "
                "date and its retries",
                expression=lambda config: _daily_at(config, minutes_after=45),
                payload={"action": "autopay"},
                applies=lambda config: config.payment.card_autopay is not None,
            ),
        ),
        sends_to=("messages",),
        tables={
            "bills": "read_write",
            "payments": "read_write",
            "accounts": "read_write",
            "counters": "read_write",
            "ledger": "read_write",
            "idempotency": "read_write",
            "refunds": "read_write",  # refunds settled by charge.refunded; surplus refunds
            "orders": "read_write",  # WeChat Pay and Alipay orders: notifications and the sweep
            "statements": "read_write",  # the daily reconciliation's differences
            "mandates": "read_write",  # card autopay: cards saved (setup sessions), the daily charges
            "owners": "read",  # card autopay: the account read before charging names its owner
        },
        # link_key and the public URL: a failed delayed payment's message carries the pay link.
        secrets=("stripe", "link_key", "wechatpay", "alipay"),
        reads_public_url=True,
    ),
    FunctionSpec(
        name="overdue",
        description="Daily dunning run: the next step of the overdue ladder for each open bill past due",
        memory_mb=256,
        timeout_s=300,
        schedules=(
            Schedule(
                name="overdue-run",
                description="Daily reminders: the pre-due reminder on its day, then the overdue ladder",
                expression=lambda config: _daily_at(config, minutes_after=30),
                payload={"action": "run_ladder"},
            ),
        ),
        sends_to=("messages",),
        # mandates: the pre-due reminder skips units the bank or the card collects from; owners
        # no message can reach go on the call list (statements)
        tables={
            "bills": "read_write",
            "payments": "read",
            "ledger": "read_write",
            "mandates": "read",
            "owners": "read",
            "statements": "read_write",
        },
        secrets=("link_key",),
        reads_public_url=True,
    ),
    FunctionSpec(
        name="tickets",
        description="Customer-service desk: routes each request to its department as a work order",
        memory_mb=256,
        timeout_s=60,
        consumes=(QueueTrigger("tickets", batch_size=10),),
        sends_to=("messages",),
        tables={"tickets": "read_write", "ledger": "read_write"},
    ),
    FunctionSpec(
        name="api",
        description="Owner pay pages, the staff API and the service desk's intake",
        memory_mb=512,
        timeout_s=29,
        sends_to=("notices", "tickets", "messages"),
        tables={
            "bills": "read_write",
            "accounts": "read_write",
            "payments": "read_write",
            "counters": "read_write",
            "units": "read_write",
            "owners": "read_write",
            "ledger": "read_write",
            "tickets": "read_write",
            "visits": "read_write",
            "refunds": "read_write",
            "orders": "read_write",  # WeChat Pay and Alipay orders started from the account page
            "statements": "read_write",  # bank statements uploaded and their lines confirmed
            "mandates": "read_write",  # direct-debit enrolments
            "cycles": "read_write",  # billing cycles prepared, approved and voided by managers
            "links": "read_write",  # short links opened (/p/{code}) and wrong codes counted
            "standards": "read_write",  # fee standard versions: drafts, publication, public pages
        },
        secrets=("stripe", "link_key", "wechatpay", "alipay"),
        reads_public_url=True,
        documents="read_write",  # receipts, billing notices, fee standard notices (PDF)
        # debit/: the bank's deduction files; standards/: the fee standards' printable notices
        document_prefixes=("receipts/", "notices/", "debit/", "standards/"),
        mandates_key="encrypt_decrypt",  # owners' bank accounts: enrolled, then in the bank's file
    ),
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def queue(name: str) -> QueueSpec:
    for spec in QUEUES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def routes() -> list[tuple[FunctionSpec, Route]]:
    return [(spec, route) for spec in FUNCTIONS for route in spec.routes]


def _check_routes_have_functions() -> None:
    names = {spec.name for spec in FUNCTIONS}
    orphans = [route.key for route in route_table.ROUTES if route.function not in names]
    if orphans:
        raise ValueError(f"routes served by no manifest function: {', '.join(orphans)}")


_check_routes_have_functions()
