"""Benchmark: one billing cycle of a synthetic property, in process on moto.

Runs the real handlers (notices planner and worker, messenger, payment webhook) the way their
triggers call them and reports, per phase, wall time and every AWS call made, by operation,
per unit. moto's speed is not AWS's, so the times compare runs of this code on this machine;
the call counts are what a deployment pays for. DynamoDB transactions run as the local
runtime runs them (``infra.local.moto_transactions``: the items they name, not a copy of every
table they touch), so the times do not grow with the tables as moto's own would.

    make bench                 # 500 units, 85 % pay online
    make bench UNITS=20000     # the size the roadmap targets (slow on moto)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "AWS_REGION": "ap-southeast-1",
        "POWERTOOLS_SERVICE_NAME": "propdesk-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "PropDeskBench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws

from bench.capacity import Watch
from infra.config import load_config
from infra.local import moto_speedups, moto_transactions
from infra.local.events import LambdaContext, http_event
from infra.local.pollers import pump
from infra.local.resources import LocalSecrets, provision
from infra.local.stripe import sign_payload
from propdesk import routes
from propdesk.config import QuietHours

REGION = "ap-southeast-1"
WEBHOOK_SECRET = "whsec_bench"  # noqa: S105 - a local benchmark secret
LINK_KEY = "bench-link-signing-key-0123456789abcdef"
ACCOUNT_PAGE_VIEWS = 200


def account_page_event(bill, key: str) -> dict:
    """An owner opening the account page from the link of ``bill``'s notice."""
    from propdesk.payments.links import sign_pay_link

    token = sign_pay_link(
        bill_id=bill.bill_id,
        unit_id=bill.unit_id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        key=key.encode(),
    )
    route = routes.route("bill_page")
    return http_event(route.method, f"/pay/{token}", route=route.path, path_parameters={"token": token})


@dataclass
class Phase:
    name: str
    seconds: float = 0.0  # the emulator's time: moto in this process, not AWS
    calls: Counter = field(default_factory=Counter)
    table_units: Counter = field(default_factory=Counter)  # DynamoDB write units by table
    index_units: Counter = field(default_factory=Counter)  # ... by global secondary index


def _since(now: Counter, then: Counter) -> Counter:
    return Counter({k: v - then.get(k, 0) for k, v in now.items() if v - then.get(k, 0)})


def Context() -> LambdaContext:
    return LambdaContext(function_name="propdesk-bench", memory_limit_in_mb=512, timeout_s=300, region=REGION)


def synthetic_units(config, count: int) -> str:
    """``count`` units spread over the property's buildings, in the import CSV format."""
    out = io.StringIO()
    fields = [
        "unit_id", "building", "floor", "number", "area_m2", "owner_id",
        "owner_name", "phone", "email", "locale", "sms_consent",
    ]  # fmt: skip
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    floors = [(b.code, f) for b in config.buildings for f in range(1, b.floors + 1)]
    for n in range(count):
        building, floor = floors[n % len(floors)]
        number = f"{floor:02d}{n // len(floors) + 1:03d}"
        writer.writerow(
            {
                "unit_id": f"{building}-{number}",
                "building": building,
                "floor": floor,
                "number": number,
                "area_m2": f"{70 + (n * 37) % 80}.{n % 100:02d}",
                "owner_id": f"B{n:06d}",
                "owner_name": f"Owner {n}",
                "phone": f"+86139{n:08d}",
                "email": f"owner{n}@bench.example.com",
                "locale": "en" if n % 10 == 0 else "zh-CN",
                "sms_consent": "yes",
            }
        )
    return out.getvalue()


def drain(queue_url: str, handler, batch_size: int) -> None:
    """Feed a queue to its consumer the way the SQS event source does, until it is empty."""
    pumped = pump(queue_url, handler, batch_size=batch_size, rounds=100_000)
    if pumped.failed:
        raise SystemExit(f"bench: {pumped.failed} records failed in {queue_url}")


def signed_webhook(bill: dict, *, property_id: str, now: int) -> dict:
    session = {
        "id": f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "amount_total": bill["total_minor"],
        "currency": bill["currency"].lower(),
        "client_reference_id": bill["bill_id"],
        "metadata": {"property_id": property_id, "unit_id": bill["unit_id"], "bill_ids": bill["bill_id"]},
        "payment_intent": f"pi_{uuid.uuid4().hex}",
        "payment_status": "paid",
        "status": "complete",
        "livemode": False,
    }
    payload = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": now,
            "livemode": False,
            "data": {"object": session},
        }
    )
    route = routes.route("stripe_webhook")
    return http_event(
        route.method,
        route.path,
        headers={
            "content-type": "application/json",
            "stripe-signature": sign_payload(payload, WEBHOOK_SECRET, now),
        },
        body=payload,
    )


class PlayedBackRail:
    """WeChat Pay's side, played back in process: the bench counts our AWS calls, not the provider's."""

    rail = "wechat_pay"

    def start(self, request):
        from propdesk.payments.port import PaymentStart

        return PaymentStart(
            order_id=request.order_id, kind="qr", qr_text=f"weixin://wxpay/bizpayurl?pr={request.order_id}"
        )


def start_rail_order(bill, config):
    from datetime import UTC, datetime

    from propdesk.services import rails

    return rails.start_order(
        [bill],
        provider=PlayedBackRail(),
        owner_id=bill.owner_id,
        device="desktop",
        client_ip="203.0.113.9",
        notify_url="https://pay.bench.example.com/webhooks/wechatpay",
        return_url="https://pay.bench.example.com/pay/x",
        config=config,
        now=datetime.now(UTC),
    ).order


def land_rail_order(order, config):
    from datetime import UTC, datetime

    from propdesk.payments.port import ProviderPayment
    from propdesk.services import rails

    report = ProviderPayment(
        rail="wechat_pay",
        order_id=order.order_id,
        state="paid",
        amount_minor=order.amount_minor,
        currency=order.currency,
        provider_payment_id="42000" + order.order_id,
        paid_at=datetime.now(UTC),
        method="wechat_pay",
    )
    landed = rails.land(report, config=config, now=datetime.now(UTC))
    if landed.outcome != "credited":
        raise SystemExit(f"bench: a WeChat Pay order landed as {landed.outcome}")


@contextmanager
def phase(watch: Watch, phases: list[Phase], name: str):
    """Count the calls and write units of one phase (the watch counts nothing between phases)."""
    current = Phase(name)
    calls = Counter(watch.calls)
    tables = Counter(watch.meter.tables) if watch.meter else Counter()
    indexes = Counter(watch.meter.index_units) if watch.meter else Counter()
    watch.active = True
    start = time.perf_counter()
    try:
        # The functions' metrics (EMF lines on stdout) would bury the report.
        with redirect_stdout(io.StringIO()):
            yield current
    finally:
        current.seconds = time.perf_counter() - start
        watch.active = False
        current.calls = _since(watch.calls, calls)
        if watch.meter:
            current.table_units = _since(watch.meter.tables, tables)
            current.index_units = _since(watch.meter.index_units, indexes)
        phases.append(current)


FIRST_PERIOD, PERIOD = "2026-12", "2027-01"


def run(units: int, pay_share: float, property_id: str, *, billing_only: bool = False) -> int:
    config = load_config(property_id)
    # Send pacing is a configured rate limit, not work: lift it so the figures measure the code.
    # Quiet hours hold SMS by the clock: moved to a minute half a day away, so the figures do not
    # depend on when the bench is run.
    away = datetime.now(UTC).astimezone(config.tz) + timedelta(hours=12)
    quiet = QuietHours(start=f"{away:%H:%M}", end=f"{away + timedelta(minutes=1):%H:%M}")
    config = config.model_copy(
        update={
            "messaging": config.messaging.model_copy(update={"max_send_rate": 1000, "quiet_hours": quiet})
        }
    )
    watch = Watch()
    watch.active = False
    phases: list[Phase] = []
    moto_transactions.install()
    moto_speedups.install()
    with mock_aws():
        resources = provision(
            config,
            public_url="https://pay.bench.example.com",
            secrets=LocalSecrets("sk_test_bench", WEBHOOK_SECRET, LINK_KEY),
        )
        # One process plays every function here: it sees every resource.
        env = resources.operator_env()
        os.environ.update(env)
        from api.handler import lambda_handler as api_handler
        from messenger.handler import lambda_handler as messenger_handler
        from notices.handler import lambda_handler as notices_handler
        from payment_webhook.handler import lambda_handler as webhook_handler
        from propdesk.services.cycles import approve_cycle
        from propdesk.services.units import import_units_csv
        from propdesk.store.bills import BillRepository

        result = import_units_csv(synthetic_units(config, units), config=config)
        if not result.ok:
            raise SystemExit(f"bench: units import failed: {result.errors[:3]}")
        watch.install()
        payers: list = []
        rail_payers: list = []
        viewers: list = []
        try:
            # The units' first bills open their accounts (a posting each); the month measured is
            # the next one, as every month after the first is. Its notices are not sent.
            with phase(watch, phases, "first bills"):
                notices_handler({"action": "plan_cycle", "period": FIRST_PERIOD}, Context())
                drain(env["NOTICES_QUEUE_URL"], notices_handler, batch_size=1)
                approve_cycle(FIRST_PERIOD, config=config, staff_id="bench", now=datetime.now(UTC))
                drain(env["NOTICES_QUEUE_URL"], notices_handler, batch_size=1)
            _purge(env["MESSAGES_QUEUE_URL"])
            with phase(watch, phases, "plan cycle"):
                notices_handler({"action": "plan_cycle", "period": PERIOD}, Context())
            with phase(watch, phases, "compute draft"):
                drain(env["NOTICES_QUEUE_URL"], notices_handler, batch_size=1)
            with phase(watch, phases, "approve cycle"):
                approve_cycle(PERIOD, config=config, staff_id="bench", now=datetime.now(UTC))
            with phase(watch, phases, "issue bills"):
                drain(env["NOTICES_QUEUE_URL"], notices_handler, batch_size=1)
            bills = sorted(BillRepository().list_period(PERIOD), key=lambda b: b.bill_id)
            if not billing_only:
                payers, rail_payers, viewers = _the_month(
                    bills,
                    config,
                    env,
                    watch,
                    phases,
                    pay_share,
                    api_handler,
                    messenger_handler,
                    webhook_handler,
                )
        finally:
            watch.uninstall()
        paid = sum(1 for b in BillRepository().list_period(PERIOD) if b.status == "paid")
        if len(bills) != units or paid != len(payers) + len(rail_payers):
            raise SystemExit(
                f"bench: expected {units} bills and {len(payers) + len(rail_payers)} paid, got {len(bills)} and {paid}"
            )
    return report(phases, units=units, payers=len(payers), rail_payers=len(rail_payers), viewers=len(viewers))


def _purge(queue_url: str) -> None:
    import boto3

    boto3.client("sqs", region_name=REGION).purge_queue(QueueUrl=queue_url)


def _the_month(bills, config, env, watch, phases, pay_share, api_handler, messenger_handler, webhook_handler):
    """Notices sent, owners paying by card and WeChat Pay, receipts sent, account pages opened."""
    with phase(watch, phases, "send notices"):
        drain(env["MESSAGES_QUEUE_URL"], messenger_handler, batch_size=10)
    payers = bills[: int(len(bills) * pay_share)]
    with phase(watch, phases, "payment webhooks"):
        for bill in payers:
            event = signed_webhook(
                {
                    "bill_id": bill.bill_id,
                    "unit_id": bill.unit_id,
                    "total_minor": bill.total_minor,
                    "currency": bill.currency,
                },
                property_id=config.property_id,
                now=int(time.time()),
            )
            response = webhook_handler(event, Context())
            if response["statusCode"] != 200:
                raise SystemExit(f"bench: webhook answered {response['statusCode']}")
    with phase(watch, phases, "send receipts"):
        drain(env["MESSAGES_QUEUE_URL"], messenger_handler, batch_size=10)
    # The owners who did not pay by card pay through WeChat Pay: the order written before
    # they leave, then the notification landing it (the provider's side played back).
    rail_payers = bills[len(payers) :]
    with phase(watch, phases, "wechat orders"):
        started = [start_rail_order(bill, config) for bill in rail_payers]
    with phase(watch, phases, "wechat payments"):
        for order in started:
            land_rail_order(order, config)
    # Owners open their account pages (the first page view warms the function: the link
    # key and the settings are read once per instance, as in Lambda).
    viewers = bills[: min(len(bills), ACCOUNT_PAGE_VIEWS)]
    api_handler(account_page_event(viewers[0], LINK_KEY), Context())
    with phase(watch, phases, "account pages"):
        for bill in viewers:
            response = api_handler(account_page_event(bill, LINK_KEY), Context())
            if response["statusCode"] != 200:
                raise SystemExit(f"bench: account page answered {response['statusCode']}")
    return payers, rail_payers, viewers


def report(phases: list[Phase], *, units: int, payers: int, rail_payers: int, viewers: int) -> int:
    def per_item(name: str) -> int:
        if "account" in name:
            return max(1, viewers)
        if "wechat" in name:
            return max(1, rail_payers)
        return max(1, payers) if "payment" in name or "receipt" in name else units

    print(f"PropDesk cycle benchmark: {units} units, {payers} paid online, moto in process")
    print("(send pacing lifted to 1000/s; the first bills open the accounts, the month measured is the next)")
    print("\nWhat AWS bills (requests and DynamoDB write units, per item of the phase):")
    print(f"{'phase':<18}{'AWS calls':>11}{'calls/item':>12}{'WCU/item':>10}{'index WCU/item':>16}")
    cycle = [p for p in phases if p.name not in ("account pages", "first bills")]  # a billing month
    total_calls: Counter = Counter()
    for p in phases:
        per = per_item(p.name)
        calls = sum(p.calls.values())
        if p in cycle:
            total_calls.update(p.calls)
        print(
            f"{p.name:<18}{calls:>11}{calls / per:>12.2f}{sum(p.table_units.values()) / per:>10.2f}"
            f"{sum(p.index_units.values()) / per:>16.2f}"
        )
    print(f"{'month total':<18}{sum(total_calls.values()):>11}{sum(total_calls.values()) / units:>12.2f}")
    print("\nDynamoDB requests per item of the phase (bill issued, notice or receipt sent, payment, page):")
    for p in phases:
        per = per_item(p.name)
        dynamodb = Counter(
            {op.split(":", 1)[1]: n for op, n in p.calls.items() if op.startswith("dynamodb:")}
        )
        detail = ", ".join(f"{op} {n / per:.2f}" for op, n in dynamodb.most_common())
        print(f"  {p.name:<18}{sum(dynamodb.values()) / per:>6.2f}   {detail}")
    issue = next(p for p in phases if p.name == "issue bills")
    print(
        "\nWrite units per bill issued (computed from the requests: 1 per started KB, x2 in a transaction):"
    )
    for table, n in sorted(issue.table_units.items()):
        print(f"  {table.rsplit('-', 1)[-1]:<28}{n / units:>8.3f}")
    print(f"  {'total (tables)':<28}{sum(issue.table_units.values()) / units:>8.3f}")
    for index, n in sorted(issue.index_units.items()):
        print(f"  index {index.split('.', 1)[1]:<22}{n / units:>8.3f}")
    scans = sum(n for p in phases for op, n in p.calls.items() if op == "dynamodb:Scan")
    print(f"\nScans: {scans}")
    print("\nAWS calls per unit-month (the month, without page views), by operation:")
    for operation, count in total_calls.most_common():
        print(f"  {operation:<40}{count / units:>8.2f}")
    print("\nThe emulator's time (moto in this process; grows with what moto copies, not AWS's cost):")
    print(f"{'phase':<18}{'seconds':>9}{'ms/item':>9}")
    for p in phases:
        print(f"{p.name:<18}{p.seconds:>9.1f}{1000 * p.seconds / per_item(p.name):>9.1f}")
    if scans:
        print("bench: a Scan was made", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--pay-share", type=float, default=0.85)
    parser.add_argument("--property", default="demo")
    parser.add_argument(
        "--billing-only", action="store_true", help="plan and issue the bills only (no messages or payments)"
    )
    args = parser.parse_args(argv)
    if args.units < 1 or not 0 <= args.pay_share <= 1:
        parser.error("--units must be positive and --pay-share between 0 and 1")
    return run(args.units, args.pay_share, args.property, billing_only=args.billing_only)


if __name__ == "__main__":
    sys.exit(main())
