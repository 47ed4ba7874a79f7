"""The system's one list of functions and their triggers.

Read by the CDK stack (to build functions, routes, schedules, queues and grants) and by the
local runtime (to serve the same routes, poll the same queues and fire the same schedules).
Add a function, route, schedule or queue here and both pick it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from propdesk.config import PropertyConfig

Auth = Literal["staff", "owner_link", "stripe_signature"]
Access = Literal["read", "read_write"]

# Cognito groups. Department groups are added per property: "dept-<code>".
ROLE_ADMIN = "admin"
ROLE_CASHIER = "cashier"
ROLE_AGENT = "agent"
BASE_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_CASHIER, ROLE_AGENT)


def department_role(code: str) -> str:
    return f"dept-{code}"


def staff_roles(config: PropertyConfig) -> tuple[str, ...]:
    return BASE_ROLES + tuple(department_role(d.code) for d in config.departments)


@dataclass(frozen=True)
class Route:
    """An HTTP route of the API. ``auth`` says who may call it: staff (Cognito JWT, checked by
    the authorizer; ``roles`` are then checked by the function), an owner's signed pay link
    (checked by the function), or Stripe (signature checked by the function)."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    auth: Auth
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule, evaluated in the property's time zone."""

    name: str
    description: str
    expression: Callable[[PropertyConfig], str]
    payload: dict


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
    routes: tuple[Route, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    consumes: tuple[QueueTrigger, ...] = ()
    sends_to: tuple[str, ...] = ()  # queue names
    tables: dict[str, Access] = field(default_factory=dict)
    sends_email: bool = False
    sends_sms: bool = False
    secrets: tuple[str, ...] = ()  # keys of SECRETS
    reads_public_url: bool = False
    documents: Access | None = None

    @property
    def handler(self) -> str:
        return f"{self.name}.handler.lambda_handler"


def _daily_at(config: PropertyConfig, minutes_after: int = 0) -> str:
    hour, minute = (int(part) for part in config.billing.run_time.split(":"))
    total = hour * 60 + minute + minutes_after
    return f"cron({total % 60} {(total // 60) % 24} * * ? *)"


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("notices", "Batches of units whose bills the notice worker issues", visibility_timeout_s=360),
    QueueSpec(
        "messages", "Owner messages waiting to be rendered and sent (SES/SNS)", visibility_timeout_s=180
    ),
    QueueSpec("tickets", "Service requests waiting to be routed to a department", visibility_timeout_s=180),
)

# Secrets in Secrets Manager. Value shapes:
#   stripe:   {"api_key": "sk_...", "webhook_secret": "whsec_..."}
#   link_key: {"key": "<random text, at least 32 characters>"}
SECRETS: dict[str, str] = {
    "stripe": "Stripe API key and webhook signing secret",
    "link_key": "Key that signs owners' pay links",
}

STAFF_READERS = (ROLE_ADMIN, ROLE_CASHIER, ROLE_AGENT)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="notices",
        description="Billing notices: the daily run plans a cycle on its notice day; the worker issues bills",
        memory_mb=512,
        timeout_s=300,
        schedules=(
            Schedule(
                name="notice-run",
                description="Daily check: on a period's notice day, issue its bills and notices",
                expression=lambda config: _daily_at(config),
                payload={"action": "plan_cycle"},
            ),
        ),
        consumes=(QueueTrigger("notices", batch_size=1),),
        sends_to=("notices", "messages"),
        tables={"units": "read", "owners": "read", "bills": "read_write", "ledger": "read_write"},
        secrets=("link_key",),
        reads_public_url=True,
    ),
    FunctionSpec(
        name="messenger",
        description="Renders owner messages in the owner's locale and sends them by email (SES) and SMS (SNS)",
        memory_mb=256,
        timeout_s=150,
        consumes=(QueueTrigger("messages", batch_size=10, max_batching_window_s=1),),
        tables={"owners": "read", "messages": "read_write", "ledger": "read_write"},
        sends_email=True,
        sends_sms=True,
    ),
    FunctionSpec(
        name="payment_webhook",
        description="Stripe webhook: verifies the signature and credits each payment exactly once",
        memory_mb=256,
        timeout_s=30,
        routes=(Route("POST", "/webhooks/stripe", auth="stripe_signature"),),
        sends_to=("messages",),
        tables={
            "bills": "read_write",
            "payments": "read_write",
            "counters": "read_write",
            "ledger": "read_write",
            "idempotency": "read_write",
        },
        secrets=("stripe",),
    ),
    FunctionSpec(
        name="overdue",
        description="Daily dunning run: the next step of the overdue ladder for each open bill past due",
        memory_mb=256,
        timeout_s=300,
        schedules=(
            Schedule(
                name="overdue-run",
                description="Daily overdue ladder run",
                expression=lambda config: _daily_at(config, minutes_after=30),
                payload={"action": "run_ladder"},
            ),
        ),
        sends_to=("messages",),
        tables={"bills": "read_write", "ledger": "read_write", "units": "read"},
        secrets=("link_key",),
        reads_public_url=True,
    ),
    FunctionSpec(
        name="tickets",
        description="Customer-service desk: takes requests, routes them to departments as work orders",
        memory_mb=256,
        timeout_s=60,
        routes=(
            Route("POST", "/staff/tickets", auth="staff", roles=(ROLE_ADMIN, ROLE_AGENT)),
            Route("GET", "/staff/tickets/{ticket_id}", auth="staff", roles=STAFF_READERS),
        ),
        consumes=(QueueTrigger("tickets", batch_size=10),),
        sends_to=("tickets", "messages"),
        tables={"tickets": "read_write", "units": "read", "ledger": "read_write"},
    ),
    FunctionSpec(
        name="api",
        description="Owner pay pages and the staff API",
        memory_mb=512,
        timeout_s=29,
        routes=(
            Route("GET", "/pay/{token}", auth="owner_link"),
            Route("POST", "/pay/{token}/checkout", auth="owner_link"),
            Route("GET", "/pay/{token}/return", auth="owner_link"),
            Route("GET", "/staff/bills", auth="staff", roles=STAFF_READERS),
            Route("GET", "/staff/bills/{bill_id}", auth="staff", roles=STAFF_READERS),
            Route("GET", "/staff/summary", auth="staff", roles=(ROLE_ADMIN, ROLE_CASHIER)),
            Route("POST", "/staff/units/import", auth="staff", roles=(ROLE_ADMIN,)),
            Route("POST", "/staff/cycles/{period}", auth="staff", roles=(ROLE_ADMIN,)),
        ),
        sends_to=("notices",),
        tables={"bills": "read_write", "units": "read_write", "owners": "read_write", "ledger": "read_write"},
        secrets=("stripe", "link_key"),
        reads_public_url=True,
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


# Environment variable names, shared by the stack and the local runtime.
def queue_env(name: str) -> str:
    return f"{name.upper()}_QUEUE_URL"


def secret_env(key: str) -> str:
    return f"{key.upper()}_SECRET_NAME"


PUBLIC_URL_PARAMETER_ENV = "PUBLIC_URL_PARAMETER"
DOCUMENTS_BUCKET_ENV = "DOCUMENTS_BUCKET"
PROPERTY_CONFIG_ENV = "PROPERTY_CONFIG"


# Names both the stack and the local runtime give to resources an administrator refers to.
def secret_name(property_id: str, key: str) -> str:
    return f"propdesk/{property_id}/{key}"


def public_url_parameter_name(property_id: str) -> str:
    return f"/propdesk/{property_id}/public-url"
