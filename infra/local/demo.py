"""``python -m infra.local.demo --property demo`` (``make demo``): a scripted month on the local runtime.

Starts the runtime in this process on free ports (so it runs beside ``make run``), then drives
it over HTTP the way people would: the clock moves to the next period's notice day so the
notice schedule fires; every owner's notice arrives in the outbox with a pay link; most
owners (a fixed ~85 %, chosen by unit) open their bill, pay through the Stripe stand-in's
checkout and come back; the others don't. Then it prints the collection summary from the
staff API and checks the path from the stored records: exit status 0 only if it worked.

Each function's log goes to ``.local/<property>/logs/<function>.log`` (as a log group would),
the runtime's own to ``.local/<property>/logs/runtime.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import logging
import os
import re
import shutil
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any, TextIO

import requests

from infra.config import ConfigError, load_config, units_csv_path
from infra.local.runtime import DEFAULT_STATE_DIR, LocalRuntime, RuntimeOptions
from propdesk.config import PropertyConfig

PAY_SHARE_PERCENT = 85
PAY_LINK_RE = re.compile(r"https?://[^\s\"'<>]+/pay/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


def pays(unit_id: str, share_percent: int = PAY_SHARE_PERCENT) -> bool:
    """Whether this unit's owner pays in the demo: fixed per unit, about ``share_percent`` of them."""
    return int(hashlib.sha256(unit_id.encode()).hexdigest()[:8], 16) % 100 < share_percent


def money(minor: int, currency: str) -> str:
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100:,}.{minor % 100:02d} {currency}"


@dataclass(frozen=True)
class Owner:
    unit_id: str
    owner_id: str
    email: str | None
    phone: str | None
    locale: str


def read_owners(config: PropertyConfig) -> list[Owner]:
    with units_csv_path(config).open(encoding="utf-8", newline="") as handle:
        return [
            Owner(
                unit_id=row["unit_id"],
                owner_id=row["owner_id"],
                email=(row.get("email") or "").strip() or None,
                phone=(row.get("phone") or "").strip() or None,
                locale=row.get("locale") or config.default_locale,
            )
            for row in csv.DictReader(handle)
        ]


def next_notice_moment(config: PropertyConfig, now: datetime) -> tuple[str, datetime]:
    """The next period whose notice run (notice day at run_time, property time zone) is after now."""
    from propdesk.domain.calendar import next_period, notice_date, period_of

    hour, minute = (int(p) for p in config.billing.run_time.split(":"))
    period = period_of(now.astimezone(config.tz).date())
    for _ in range(24):
        day = notice_date(period, config.billing)
        moment = datetime.combine(day, day_time(hour, minute), tzinfo=config.tz)
        if moment > now:
            return period, moment
        period = next_period(period)
    raise RuntimeError("no notice day within two years")


def links_by_unit(box: dict[str, Any], owners: list[Owner]) -> dict[str, set[str]]:
    """Pay-link tokens found in the outbox, per unit (the recipient tells whose message it is)."""
    by_email = {o.email.lower(): o.unit_id for o in owners if o.email}
    by_phone = {o.phone: o.unit_id for o in owners if o.phone}
    found: dict[str, set[str]] = defaultdict(set)
    for mail in box["email"]:
        units = {by_email.get(addr.lower()) for addr in mail["to"]} - {None}
        for token in PAY_LINK_RE.findall(mail["body"]):
            for unit in units:
                found[unit].add(token)  # type: ignore[index]
    for sms in box["sms"]:
        unit = by_phone.get(sms["to"])
        if unit:
            found[unit].update(PAY_LINK_RE.findall(sms["text"]))
    return found


@dataclass
class PaymentAttempt:
    unit_id: str
    ok: bool = False
    steps: list[str] = field(default_factory=list)
    error: str | None = None


def pay_as_owner(base_url: str, unit_id: str, token: str) -> PaymentAttempt:
    """What an owner does: open the bill, press Pay, pay on the checkout page, come back."""
    attempt = PaymentAttempt(unit_id)
    with requests.Session() as browser:
        try:
            page = browser.get(f"{base_url}/pay/{token}", timeout=30)
            attempt.steps.append(f"bill {page.status_code}")
            page.raise_for_status()
            checkout = browser.post(f"{base_url}/pay/{token}/checkout", allow_redirects=False, timeout=30)
            attempt.steps.append(f"checkout {checkout.status_code}")
            if checkout.status_code != 303 or not checkout.headers.get("Location"):
                raise RuntimeError(f"checkout answered {checkout.status_code}: {checkout.text[:200]}")
            stripe_page = browser.get(checkout.headers["Location"], timeout=30)
            attempt.steps.append(f"stripe page {stripe_page.status_code}")
            stripe_page.raise_for_status()
            form = re.search(r'<form method="post" action="([^"]+/pay)"', stripe_page.text)
            if not form:
                raise RuntimeError("no Pay button on the checkout page")
            stripe_base = checkout.headers["Location"].split("/checkout/")[0]
            paid = browser.post(stripe_base + form.group(1), allow_redirects=False, timeout=60)
            attempt.steps.append(f"pay {paid.status_code}")
            if paid.status_code != 303:
                raise RuntimeError(f"pay answered {paid.status_code}")
            back = browser.get(paid.headers["Location"], timeout=30)
            attempt.steps.append(f"return {back.status_code}")
            back.raise_for_status()
            attempt.ok = True
        except (requests.RequestException, RuntimeError) as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
    return attempt


class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[bool, str]] = []

    def check(self, ok: bool, text: str) -> bool:
        self.results.append((bool(ok), text))
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.results)


def personal_data_in(log_text: str, owners: list[Owner]) -> int:
    """How many of the owners' e-mail addresses and phone numbers appear in the log text."""
    lowered = log_text.lower()
    contacts = {c.lower() for o in owners for c in (o.email, o.phone) if c}
    # Phones are also looked for without the leading "+", as a log might strip it.
    contacts |= {c[1:] for c in contacts if c.startswith("+")}
    return sum(1 for contact in contacts if contact in lowered)


def stored_records(period: str) -> dict[str, Any]:
    """The period's bills, payments and messages, read from the tables (the demo's oracle).
    Payments and messages have no index by period; reading them whole is fine for a check."""
    from propdesk.store.models import BillItem, MessageItem, PaymentItem

    bills = {b.bill_id: b for b in BillItem.period_index.query(period)}
    payments = [p for p in PaymentItem.scan() if any(a.bill_id in bills for a in p.allocations)]
    messages = list(MessageItem.scan())
    return {"bills": bills, "payments": payments, "messages": messages}


def verify(
    *,
    period: str,
    owners: list[Owner],
    payers: set[str],
    attempts: list[PaymentAttempt],
    notice_tokens: dict[str, set[str]],
    records: dict[str, Any],
    box: dict[str, Any],
    runtime: LocalRuntime,
) -> Checks:
    checks = Checks()
    bills = records["bills"]
    units = {o.unit_id for o in owners}
    owner_of = {o.unit_id: o.owner_id for o in owners}
    checks.check(len(bills) == len(units), f"bills issued == units ({len(bills)} of {len(units)})")
    checks.check(
        {b.unit_id for b in bills.values()} == units, "every unit has exactly one bill for the period"
    )
    failed = [a for a in attempts if not a.ok]
    checks.check(
        not failed, f"every payer got through checkout ({len(attempts) - len(failed)} of {len(attempts)})"
    )

    credited = [p for p in records["payments"] if p.status == "allocated" and p.allocations]
    per_bill = Counter(a.bill_id for p in credited for a in p.allocations)
    paid_units = {bills[b].unit_id for b in per_bill}
    checks.check(
        paid_units == payers, f"payers' bills paid, and only theirs ({len(paid_units)} of {len(payers)})"
    )
    checks.check(all(n == 1 for n in per_bill.values()), "each paid bill credited exactly once")
    checks.check(
        all(bills[b].status == "paid" for b in per_bill)
        and all(b.status != "paid" for b in bills.values() if b.unit_id not in payers),
        "bill status: paid for payers, open for the others",
    )

    numbers = [p.receipt_no for p in credited if p.receipt_no]
    checks.check(len(numbers) == len(credited), f"every payment has a receipt number ({len(numbers)})")
    checks.check(len(set(numbers)) == len(numbers), "receipt numbers are distinct")
    sequences = sorted(int(n.rsplit("-", 1)[-1]) for n in numbers if n.rsplit("-", 1)[-1].isdigit())
    checks.check(
        len(sequences) == len(numbers)
        and sequences == list(range(sequences[0], sequences[0] + len(sequences)))
        if sequences
        else not numbers,
        "receipt numbers have no gaps",
    )

    messages = records["messages"]
    notices = [m for m in messages if m.template == "bill_notice"]
    receipts = [m for m in messages if m.template == "payment_receipt"]
    checks.check(
        len(notices) == len({m.message_id for m in notices}) and len(notices) == len(bills),
        f"one notice per bill ({len(notices)})",
    )
    settled = {"sent", "undeliverable"}  # undeliverable: the owner has no usable contact
    unsent = Counter(m.status for m in notices + receipts if m.status not in settled)
    undeliverable = sum(1 for m in notices + receipts if m.status == "undeliverable")
    checks.check(
        not unsent,
        f"every notice and receipt sent ({undeliverable} undeliverable for lack of a usable contact)"
        + (f"; not sent: {dict(unsent)}" if unsent else ""),
    )
    checks.check(len(receipts) == len(credited), f"receipt messages == payments ({len(receipts)})")
    payer_owners = {owner_of[u] for u in payers}
    checks.check(
        {m.owner_id for m in receipts} <= payer_owners,
        "owners who did not pay got no receipt",
    )
    # No notice went out twice: each pay link appears once per channel and recipient.
    sent = Counter()
    for mail in box["email"]:
        for token in set(PAY_LINK_RE.findall(mail["body"])):
            sent[("email", tuple(mail["to"]), token, mail["subject"])] += 1
    for sms in box["sms"]:
        for token in set(PAY_LINK_RE.findall(sms["text"])):
            sent[("sms", sms["to"], token, "")] += 1
    checks.check(all(n == 1 for n in sent.values()), "no message sent twice")
    reachable = sum(1 for o in owners if o.unit_id in notice_tokens)
    checks.check(reachable > 0, f"owners reached with a pay link ({reachable} of {len(owners)})")
    depths = runtime.queue_depths()
    dead = {q: sum(d.values()) for q, d in depths.items() if q.endswith("-dlq") and sum(d.values())}
    checks.check(not dead, f"dead-letter queues empty{' (' + str(dead) + ')' if dead else ''}")
    assert runtime.standin is not None
    undelivered = [d for d in runtime.standin.deliveries if not d.delivered]
    checks.check(not undelivered, f"every Stripe webhook delivered ({len(runtime.standin.deliveries)})")
    return checks


def run_demo(config: PropertyConfig, *, out: TextIO, workers: int, log_dir: Path) -> int:
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", file=out, flush=True)

    owners = read_owners(config)
    say(f"starting the local runtime for {config.name.en} ({len(owners)} units)")
    options = RuntimeOptions(port=0, stripe_port=0, state_dir=None, access_log=False, log_dir=log_dir)
    runtime = LocalRuntime(config, options)
    runtime.start()
    try:
        base = runtime.base_url
        missing = runtime.functions.missing
        if missing:
            raise RuntimeError(f"functions did not start: {missing}")
        say(f"gateway {base}, Stripe stand-in {runtime.stripe_base_url}; {runtime.units_imported}")
        http = requests.Session()

        period, moment = next_notice_moment(config, runtime.clock.now())
        say(f"moving the clock to {moment:%Y-%m-%d %H:%M} {config.time_zone}: notice day of period {period}")
        moved = http.post(
            f"{base}/_local/clock", json={"to": moment.replace(tzinfo=None).isoformat()}, timeout=900
        )
        moved.raise_for_status()
        fired = [f for f in moved.json()["fired"] if f["schedule"] == "notice-run"]
        say(f"{len(moved.json()['fired'])} schedule runs fired on the way ({len(fired)} notice runs)")
        drained = http.post(f"{base}/_local/drain", json={"timeout_s": 300}, timeout=310).json()["drained"]
        box = http.get(f"{base}/_local/outbox", params={"format": "json"}, timeout=60).json()
        notice_tokens = links_by_unit(box, owners)
        say(
            f"notices out (queues drained: {drained}): {box['counts']['email']} email,"
            f" {box['counts']['sms']} SMS; pay links for {len(notice_tokens)} units"
        )

        payers = {u for u in notice_tokens if pays(u)}
        say(f"{len(payers)} owners pay through checkout, {len(owners) - len(payers)} don't")
        jobs = [(u, sorted(notice_tokens[u])[0]) for u in sorted(payers)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            attempts = list(pool.map(lambda job: pay_as_owner(base, *job), jobs))
        failures = [a for a in attempts if not a.ok]
        for attempt in failures[:5]:
            say(f"  {attempt.unit_id}: {' -> '.join(attempt.steps)}: {attempt.error}")
        drained = http.post(f"{base}/_local/drain", json={"timeout_s": 300}, timeout=310).json()["drained"]
        say(
            f"payments done ({len(attempts) - len(failures)} ok, {len(failures)} failed); queues drained: {drained}"
        )

        admin = http.post(
            f"{base}/_local/token", json={"role": "admin", "sub": "demo-admin"}, timeout=10
        ).json()
        summary_response = http.get(
            f"{base}/staff/summary",
            params={"period": period},
            headers={"Authorization": f"Bearer {admin['token']}"},
            timeout=60,
        )
        summary = summary_response.json() if summary_response.ok else {}
        box = http.get(f"{base}/_local/outbox", params={"format": "json"}, timeout=60).json()
        records = stored_records(period)
        checks = verify(
            period=period,
            owners=owners,
            payers=payers,
            attempts=attempts,
            notice_tokens=notice_tokens,
            records=records,
            box=box,
            runtime=runtime,
        )
        if not summary_response.ok:
            checks.check(False, f"GET /staff/summary answered {summary_response.status_code}")
        sys.stdout.flush()
        logs = "".join(path.read_text(encoding="utf-8") for path in sorted(log_dir.glob("*.log")))
        leaks = personal_data_in(logs, owners)
        checks.check(
            not leaks,
            "no owner e-mail address or phone number in the functions' logs"
            + (f" ({leaks} found)" if leaks else ""),
        )
        print_summary(
            out,
            config=config,
            period=period,
            moment=moment,
            summary=summary,
            box=box,
            records=records,
            checks=checks,
            wall_s=time.monotonic() - started,
            log_dir=log_dir,
        )
        return 0 if checks.ok else 1
    finally:
        runtime.stop()


def print_summary(
    out: TextIO,
    *,
    config: PropertyConfig,
    period: str,
    moment: datetime,
    summary: dict[str, Any],
    box: dict[str, Any],
    records: dict[str, Any],
    checks: Checks,
    wall_s: float,
    log_dir: Path,
) -> None:
    currency = summary.get("currency", config.currency)
    by_template: Counter[str] = Counter()
    by_template_channel: Counter[tuple[str, str]] = Counter()
    for message in records["messages"]:
        if message.status != "sent":
            continue
        by_template[message.template] += 1
        for channel in message.channels or []:
            by_template_channel[(message.template, channel)] += 1
    credited = [p for p in records["payments"] if p.status == "allocated"]
    numbers = sorted(p.receipt_no for p in credited if p.receipt_no)
    rate = summary.get("collection_rate_bp")
    lines = [
        "",
        f"PropDesk demo: {config.name.en} / {config.name.zh_CN}, period {period}",
        f"  notice run      {moment:%Y-%m-%d %H:%M} {config.time_zone} (simulated clock)",
        f"  bills issued    {summary.get('bills_issued', '?'):>5}   billed       "
        f"{money(summary.get('billed_minor', 0), currency):>16}",
        f"  paid            {summary.get('bills_paid', '?'):>5}   collected    "
        f"{money(summary.get('collected_minor', 0), currency):>16}"
        + (f"   ({rate / 100:.2f} %)" if isinstance(rate, int) else ""),
        f"  unpaid          {summary.get('bills_unpaid', '?'):>5}   outstanding  "
        f"{money(summary.get('outstanding_minor', 0), currency):>16}",
        f"  messages sent   email {box['counts']['email']}, sms {box['counts']['sms']}",
    ]
    for template, count in sorted(by_template.items()):
        channels = ", ".join(
            f"{channel} {n}" for (t, channel), n in sorted(by_template_channel.items()) if t == template
        )
        lines.append(f"    {template:<16} {count:>4} owners ({channels})")
    lines.append(
        f"  receipts        {len(numbers)}" + (f" ({numbers[0]} .. {numbers[-1]})" if numbers else "")
    )
    lines.append("")
    lines.append("Checks:")
    lines.extend(f"  [{'ok' if ok else 'FAILED'}] {text}" for ok, text in checks.results)
    lines.append("")
    lines.append(
        f"{'Demo passed' if checks.ok else 'Demo FAILED'} in {wall_s:.1f} s; the functions' logs are in {log_dir}"
    )
    print("\n".join(lines), file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.demo", description=__doc__)
    parser.add_argument("--property", default="demo")
    parser.add_argument("--workers", type=int, default=8, help="owners paying at the same time")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.property)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    log_dir = DEFAULT_STATE_DIR / config.property_id / "logs"
    if log_dir.exists():
        shutil.rmtree(log_dir)
    log_dir.mkdir(parents=True)
    out = sys.stdout
    # The runtime's own lines (moto, the gateway) go to its log; the demo talks on `out`.
    with (
        (log_dir / "runtime.log").open("w", encoding="utf-8") as log_file,
        contextlib.redirect_stdout(log_file),
    ):
        logging.basicConfig(level=logging.WARNING, stream=log_file, force=True)
        try:
            return run_demo(config, out=out, workers=args.workers, log_dir=log_dir)
        except Exception as exc:
            print(f"Demo FAILED: {type(exc).__name__}: {exc}", file=out, flush=True)
            logging.getLogger("propdesk.local.demo").exception("demo failed")
            return 1


if __name__ == "__main__":
    code = main()
    # Everything is stopped and written; skip the interpreter's slow teardown of the emulator's
    # and the functions' objects (seconds after a full run).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
