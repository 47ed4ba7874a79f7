"""The demo's third act: the Shanghai property's own rails, driven without a browser.

Four owners who still owe pay through the account page: WeChat Pay on a computer (the order
page's QR code, scanned by the stand-in's scan endpoint as the WeChat app would), WeChat Pay on a
phone (the H5 page's Pay button), Alipay on a computer (the cashier page's Pay button) and Alipay
on a phone (WAP). Each bill is paid once and the owner comes back to the account page.

The clock then moves to the next morning: the reconciliation compares each rail's statement with
our payments and finds nothing. A second, scripted day injects two faults - a WeChat Pay
notification that never comes while the orders sweep is out, and an Alipay payment of an order
that is not ours - and the next morning's reconciliation finds both; once the sweep is back the
lost payment lands, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from infra.local import paying
from infra.local.demo import Checks, DeskTeam, drain_queues, expect, links_by_unit, move_clock, read_outbox

WAYS = paying.ways_of(("wechat_pay", "alipay"))  # on a computer and on a phone, each
SWEEP = "orders-sweep"


@dataclass
class BankWork:
    """The bank's side: a statement matched and confirmed, a direct-debit cycle."""

    statement: dict[str, Any] = field(default_factory=dict)  # as uploaded (proposals)
    statement_again: int = 0  # the status of the same statement uploaded again
    decided: dict[str, Any] = field(default_factory=dict)
    transfer_unit: str = ""
    debit_units: tuple[str, str] = ("", "")
    batch: dict[str, Any] = field(default_factory=dict)
    file_has_accounts: bool = False
    applied: dict[str, Any] = field(default_factory=dict)
    applied_again: dict[str, Any] = field(default_factory=dict)
    owed_after: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # the step that stopped it, if one did


@dataclass
class RailsAct:
    payments: list[paying.OnlinePayment] = field(default_factory=list)
    first_morning: list[dict[str, Any]] = field(default_factory=list)  # items after a normal day
    second_morning: list[dict[str, Any]] = field(default_factory=list)  # items after the faults
    lost_order: str | None = None
    foreign_order: str = "OTHERSYSTEM20270001"
    lost_landed: int = 0  # payments of the lost order once the sweep is back
    records: dict[str, Any] = field(default_factory=dict)
    bank: BankWork = field(default_factory=BankWork)


def next_morning(now: datetime, tz: ZoneInfo) -> datetime:
    day = now.astimezone(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 45, tzinfo=tz)


def third_act(
    config: Any,
    *,
    runtime: Any,
    http: requests.Session,
    owners: list[Any],
    skip: set[str],
    say: Callable[[str], None],
) -> RailsAct:
    from propdesk.services.accounts import account_view
    from propdesk.store.payments import PaymentRepository

    base = runtime.base_url
    act = RailsAct()
    tokens = links_by_unit(read_outbox(http, base), owners)
    chosen: list[tuple[str, str, int]] = []
    for unit_id in sorted(tokens):
        if unit_id in skip:
            continue
        view = account_view(unit_id)
        if view is not None and view.owed_minor > 0:
            chosen.append((unit_id, sorted(tokens[unit_id])[-1], view.owed_minor))
        if len(chosen) == len(WAYS) + 5:
            break
    if len(chosen) < len(WAYS) + 5:
        raise RuntimeError(f"the third act needs {len(WAYS) + 5} owing units with pay links")
    say(
        "third act: "
        + ", ".join(f"{u} pays by {way.label}" for (u, _, _), way in zip(chosen, WAYS, strict=False))
    )
    # Their earlier payments (the first month's, by the same rail perhaps): not counted below.
    earlier = {
        unit_id: {p.payment_id for p in PaymentRepository().of_unit(unit_id)} for unit_id, _, _ in chosen
    }
    for (unit_id, token, owed), way in zip(chosen, WAYS, strict=False):
        act.payments.append(paying.pay(base, token, paying.OnlinePayment(unit_id, way, owed), runtime))
    drain_queues(http, base)
    try:
        bank_and_debit(act, base, chosen[len(WAYS) + 1 :], runtime=runtime, http=http, say=say)
    except (RuntimeError, requests.RequestException, KeyError, ValueError) as exc:
        act.bank.problem = f"{type(exc).__name__}: {exc}"

    # The next morning: the reconciliation runs at 10:30 and finds nothing.
    tz = config.tz
    move_clock(http, base, next_morning(runtime.clock.now(), tz))
    drain_queues(http, base)
    team = DeskTeam.sign_in(base)
    act.first_morning = expect(team.cashier.get("/staff/reconciliation"), 200)["items"]
    say(f"next morning's reconciliation: {len(act.first_morning)} differences")

    # The scripted day: the sweep is out, a WeChat Pay notification is lost; an Alipay payment of
    # an order that is not ours (another system of the same merchant).
    unit_id, token, owed = chosen[len(WAYS)]
    runtime.scheduler.paused.add(SWEEP)
    runtime.wechatpay.lose_next_notification()
    lost = paying.pay(
        base, token, paying.OnlinePayment(unit_id, WAYS[0], owed), runtime, look_again=False
    )  # WeChat Pay's QR code on a computer; the owner closes the browser
    act.lost_order = lost.order_id
    foreign = _foreign_alipay_payment(runtime, act.foreign_order)
    say(f"faults injected: WeChat Pay order {lost.order_id} paid, its notification lost, the sweep out; "
        f"Alipay order {act.foreign_order} ({foreign}) paid, not ours")  # fmt: skip
    move_clock(http, base, next_morning(runtime.clock.now(), tz))
    team = DeskTeam.sign_in(base)  # a day on: yesterday's staff tokens (an hour) have expired
    act.second_morning = expect(team.cashier.get("/staff/reconciliation"), 200)["items"]
    say(f"the morning after: {len(act.second_morning)} differences for staff")
    runtime.scheduler.paused.discard(SWEEP)
    move_clock(http, base, runtime.clock.now().astimezone(tz) + timedelta(minutes=6))
    drain_queues(http, base)
    act.lost_landed = len(
        [p for p in PaymentRepository().of_unit(unit_id) if p.payment_id == f"wechat_pay:{lost.order_id}"]
    )
    act.records = {
        p.unit_id: {
            "owed_after": (account_view(p.unit_id).owed_minor if account_view(p.unit_id) else None),
            "payments": [
                r.payment_id
                for r in PaymentRepository().of_unit(p.unit_id)
                if r.provider == p.rail and r.payment_id not in earlier[p.unit_id]
            ],
        }
        for p in act.payments
    }
    return act


ACCOUNTS = ("6222 0212 3456 7890 123", "6217 0000 1111 2222 333")


def bank_and_debit(
    act: RailsAct,
    base: str,
    units: list[tuple[str, str, int]],
    *,
    runtime: Any,
    http: requests.Session,
    say: Callable[[str], None],
) -> None:
    """A transfer found on the bank's statement and confirmed; two owners on direct debit, one
    debited, one refused by the bank (and told)."""
    from propdesk.services.accounts import account_view

    work = act.bank
    team = DeskTeam.sign_in(base)
    (transfer_unit, _, owed), (first, first_token, _), (second, second_token, _) = units[:3]
    work.transfer_unit = transfer_unit
    statement = (
        "date,amount,payer,memo,reference\n"
        f"{runtime.clock.now().astimezone(ZoneInfo('Asia/Shanghai')).date()},{owed // 100}.{owed % 100:02d},业主,"
        f"{transfer_unit.replace('-', '')} 物业费,ICBC{transfer_unit.replace('-', '')}01\n"
        f"{runtime.clock.now().astimezone(ZoneInfo('Asia/Shanghai')).date()},88.00,某公司,货款,ICBC000002\n"
    )
    csv_headers = {"Content-Type": "text/csv"}
    uploaded = team.cashier.session.post(
        f"{base}/staff/bank-statements", data=statement.encode(), headers=csv_headers, timeout=60
    )
    work.statement = expect(uploaded, 201)
    again = team.cashier.session.post(
        f"{base}/staff/bank-statements", data=statement.encode(), headers=csv_headers, timeout=60
    )
    work.statement_again = again.status_code
    decisions = {
        "decisions": [
            {"line": 2, "action": "confirm"},
            {"line": 3, "action": "set_aside", "note": "not ours"},
        ]
    }
    work.decided = expect(
        team.cashier.post(f"/staff/bank-statements/{work.statement['statement_id']}/decisions", decisions),
        200,
    )
    # direct debit: two owners enrol on their pages, the admin makes the file, the bank answers
    work.debit_units = (first, second)
    for token, account in ((first_token, ACCOUNTS[0]), (second_token, ACCOUNTS[1])):
        enrolled = requests.post(
            f"{base}/pay/{token}/debit",
            data={
                "bank": "招商银行",
                "holder": "业主",
                "account": account,
                "consent": "yes",
                "lang": "zh-CN",
            },
            allow_redirects=False,
            timeout=60,
        )
        if enrolled.status_code != 303 or "notice=debit_enrolled" not in enrolled.headers.get("Location", ""):
            raise RuntimeError(f"direct-debit enrolment answered {enrolled.status_code}")
    period = max(bill.period for bill in account_view(first).open_bills)
    work.batch = expect(team.admin.post(f"/staff/direct-debit/{period}/batch"), 201)
    bank_file = requests.get(work.batch["file_url"], timeout=60)
    work.file_has_accounts = bank_file.status_code == 200 and all(
        a.replace(" ", "") in bank_file.content.decode("utf-8-sig") for a in ACCOUNTS
    )
    mine = {line["unit_id"]: line for line in work.batch["lines"]}
    results = "备注,金额,结果,原因\n" + "".join(
        f"{mine[unit]['reference']},{mine[unit]['amount_minor'] // 100}.{mine[unit]['amount_minor'] % 100:02d},"
        f"{'成功' if unit == first else '失败'},{'' if unit == first else '余额不足'}\n"
        for unit in (first, second)
    )
    work.applied = expect(
        team.cashier.session.post(
            f"{base}/staff/direct-debit/results",
            data=results.encode("utf-8"),
            headers=csv_headers,
            timeout=60,
        ),
        200,
    )
    work.applied_again = expect(
        team.cashier.session.post(
            f"{base}/staff/direct-debit/results",
            data=results.encode("utf-8"),
            headers=csv_headers,
            timeout=60,
        ),
        200,
    )
    drain_queues(http, base)
    work.owed_after = {u: account_view(u).owed_minor for u in (transfer_unit, first, second)}
    box = read_outbox(http, base)
    work.told = [
        m.get("unit") or "" for m in box.get("messages", []) if m.get("template") == "payment_failed"
    ]
    say(
        f"bank: statement {work.statement['statement_id']} ({work.statement['counts']}), "
        f"direct debit {work.batch['batch_id']} ({len(work.batch['lines'])} lines)"
    )


def _foreign_alipay_payment(runtime: Any, out_trade_no: str) -> str:
    """A page pay of the same Alipay app for an order PropDesk never made, paid at the cashier."""
    from alipay import AliPay

    secret = runtime._alipay_secret()
    client = AliPay(
        appid=secret["app_id"],
        app_private_key_string=secret["app_private_key"],
        alipay_public_key_string=secret["alipay_public_key"],
        sign_type="RSA2",
    )
    client._gateway = runtime.alipay.gateway_url
    signed = client.api_alipay_trade_page_pay(
        subject="停车费 parking", out_trade_no=out_trade_no, total_amount="50.00"
    )
    result = runtime.alipay.pay_url(f"{client._gateway}?{signed}")
    return str(result.trade["trade_no"])


def verify_rails(act: RailsAct) -> Checks:
    checks = Checks()
    for payment in act.payments:
        way = f"{payment.unit_id} by {payment.way.label}"
        record = act.records.get(payment.unit_id, {})
        checks.check(
            payment.ok,
            f"{way}: paid at the provider and back on our page"
            + (f" ({payment.error})" if payment.error else ""),
        )
        checks.check(
            record.get("owed_after") == 0 and len(record.get("payments", [])) == 1,
            f"{way}: {payment.owed_minor / 100:.2f} landed once, nothing owed",
        )
    checks.check(act.first_morning == [], "a normal day's reconciliation finds nothing")
    found = {(item["type"], item["order_id"]) for item in act.second_morning}
    checks.check(
        found == {("provider_only", act.lost_order), ("provider_only", act.foreign_order)},
        f"the morning after the faults, reconciliation finds the lost notification and the payment not "
        f"ours ({sorted(found)})",
    )
    checks.check(act.lost_landed == 1, "once the sweep is back, the lost payment lands, once")
    bank = act.bank
    checks.check(bank.problem is None, "the bank's side ran" + (f" ({bank.problem})" if bank.problem else ""))
    proposals = {line["line"]: line for line in bank.statement.get("lines", [])}
    checks.check(
        proposals.get(2, {}).get("unit_id") == bank.transfer_unit
        and proposals.get(3, {}).get("state") == "unmatched",
        f"bank statement: the transfer matched to {bank.transfer_unit} by its memo and amount, the other line unmatched",
    )
    checks.check(bank.statement_again == 200, "the same statement uploaded again changes nothing (200)")
    checks.check(
        bank.owed_after.get(bank.transfer_unit) == 0,
        f"the confirmed transfer paid {bank.transfer_unit}'s bills",
    )
    first, second = bank.debit_units
    checks.check(
        bank.file_has_accounts and all("****" in line["account"] for line in bank.batch.get("lines", [])),
        "direct debit: the bank's file has the account numbers, the API shows them masked",
    )
    results = {r["unit_id"]: r for r in bank.applied.get("results", [])}
    checks.check(
        results.get(first, {}).get("state") == "paid" and results.get(second, {}).get("state") == "failed"
        and bank.owed_after.get(first) == 0 and (bank.owed_after.get(second) or 0) > 0,
        f"the bank's results: {first} debited and paid, {second} refused and still owing",
    )  # fmt: skip
    checks.check(
        all(not r["changed"] for r in bank.applied_again.get("results", [])),
        "the same result file imported again changes nothing",
    )
    return checks


def rails_summary_lines(act: RailsAct) -> list[str]:
    lines = [
        f"{p.unit_id}: {p.way.label} ¥{p.owed_minor / 100:.2f}, order {p.order_id}: {' -> '.join(p.steps)}"
        for p in act.payments
    ]
    bank = act.bank
    lines.append(
        f"bank statement {bank.statement.get('statement_id')}: {bank.statement.get('counts')}; "
        f"direct debit {bank.batch.get('batch_id')}: "
        + ", ".join(f"{r['unit_id']} {r['state']}" for r in bank.applied.get("results", []))
    )
    lines.append(f"reconciliation, normal day: {len(act.first_morning)} differences")
    lines.append(
        "reconciliation after the faults: "
        + "; ".join(
            f"{i['type']} {i['rail']} {i['order_id']} ¥{(i['provider_minor'] or 0) / 100:.2f}"
            for i in act.second_morning
        )
    )
    return lines
