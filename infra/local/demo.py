"""``python -m infra.local.demo --property demo`` (``make demo``): a scripted month on the local runtime.

Starts the runtime in this process on free ports (so it runs beside ``make run``), then drives
it over HTTP the way people would: the clock moves to the next period's notice day so the
notice schedule fires; every owner's notice arrives in the outbox with a pay link; most
owners (a fixed ~85 %, chosen by unit) open their bill, pay on one of the property's rails (each
unit has its way: WeChat Pay or Alipay on a computer or a phone in Shanghai, Stripe's Checkout
elsewhere; ``paying``) and come back; the others don't. A second act follows with some of those who did not
pay: the front desk (cash, card, too much, a double payment refunded, a void), a home visit, the
cash-up and a receipt PDF; then the next notice day, where credit and one Pay for all bills show.
A third act (``demo_rails``) pays through the property's own rails (WeChat Pay and Alipay, on a
computer and on a phone) and runs the daily reconciliation, on a normal day and after two
injected faults; for a property with card autopay (``--property harbour``), ``demo_autopay``
saves two owners' cards and follows their bills through the notice, the due date and the retries.
It prints the collection summary from the staff API and a line per scenario, and checks all of it
against the stored records: exit status 0 only if it worked. ``--keep-running`` leaves the
runtime up afterwards, so the pages it names can be opened.

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
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import requests

from infra.config import ConfigError, load_config, units_csv_path
from infra.local import paying
from infra.local.runtime import DEFAULT_STATE_DIR, LocalRuntime, RuntimeOptions
from propdesk.config import PropertyConfig

if TYPE_CHECKING:  # the store's modules are imported where used, once the runtime set their tables
    from propdesk.domain.billing import Bill
    from propdesk.services.visits import Visit
    from propdesk.store.accounts import Account
    from propdesk.store.payments import PaymentRecord
    from propdesk.store.refunds import RefundRecord

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
    sms_consent: bool = False


def read_owners(config: PropertyConfig) -> list[Owner]:
    with units_csv_path(config).open(encoding="utf-8", newline="") as handle:
        return [
            Owner(
                unit_id=row["unit_id"],
                owner_id=row["owner_id"],
                email=(row.get("email") or "").strip() or None,
                phone=(row.get("phone") or "").strip() or None,
                locale=row.get("locale") or config.default_locale,
                sms_consent=(row.get("sms_consent") or "").strip().lower() == "yes",
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
        tokens = PAY_LINK_RE.findall(sms["text"]) + [
            token for url in SHORT_LINK_RE.findall(sms["text"]) if (token := short_link_token(url))
        ]
        if unit and tokens:
            found[unit].update(tokens)
    return found


SHORT_LINK_RE = re.compile(r"https?://\S+?/p/[A-Za-z0-9]+")
_short_links: dict[str, str | None] = {}


def short_link_token(url: str) -> str | None:
    """The pay-link token an SMS's short link (``/p/{code}``) leads to, as the owner's phone
    finds it by opening the link; asked once per link."""
    if url not in _short_links:
        opened = requests.get(url, allow_redirects=False, timeout=30)
        location = urljoin(url, opened.headers.get("Location", ""))
        found = PAY_LINK_RE.findall(location) if opened.status_code == 303 else []
        _short_links[url] = found[0] if found else None
    return _short_links[url]


def online_way(config: PropertyConfig, unit_id: str) -> paying.Way:
    """How this unit's owner pays online: one of the property's rails, on a computer or a phone."""
    return paying.way_for(unit_id, paying.ways_of(config.payment.rails))


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
    from propdesk.store.bills import BillRepository
    from propdesk.store.models import MessageItem, PaymentItem

    bills = {b.bill_id: b for b in BillRepository().list_period(period)}
    payments = [p for p in PaymentItem.scan() if any(a.bill_id in bills for a in p.allocations)]
    messages = list(MessageItem.scan())
    return {"bills": bills, "payments": payments, "messages": messages}


def verify(
    *,
    period: str,
    owners: list[Owner],
    payers: set[str],
    attempts: list[paying.OnlinePayment],
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
    ways = Counter(a.way.label for a in attempts)
    checks.check(
        not failed,
        f"every payer paid and came back ({len(attempts) - len(failed)} of {len(attempts)}: "
        + ", ".join(f"{n} by {way}" for way, n in sorted(ways.items()))
        + ")",
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
    for name, standin in (
        ("Stripe", runtime.standin),
        ("WeChat Pay", runtime.wechatpay),
        ("Alipay", runtime.alipay),
    ):
        # Lost on purpose (the third act's fault) is not undelivered: the provider never sent it.
        sent_ = [
            d for d in (standin.deliveries if standin is not None else []) if not getattr(d, "lost", False)
        ]
        if sent_:
            late = [d for d in sent_ if not d.delivered]
            checks.check(
                not late, f"every {name} notification delivered ({len(sent_) - len(late)} of {len(sent_)})"
            )
    return checks


# --- the second act: the front desk and the unit accounts ------------------------------------------
#
# After the first month, staff and owners work with what is left unpaid, through the same HTTP API
# (staff with bearer tokens from the runtime's token endpoint, owners with their notices' links):
# payments at the desk (full, partial, too much), a double payment that becomes credit and is
# refunded, a void that needs another admin, a home visit, the cashier's cash-up and a receipt
# PDF; then the clock moves to the next notice day, where credit pays the new bill first and one
# Pay settles two bills. Each is checked against the tables.

CASHIER = "demo-cashier-li"
COLLECTOR = "demo-collector-zhou"
ADMINS = ("demo-admin-wang", "demo-admin-chen")  # the second approves what the first asked for
OVERPAY_MINOR = 5000  # the overpayment: 50.00 more than the bill
POS_REFERENCE = "POS 0001"
SETTLED = frozenset({"sent", "undeliverable"})  # undeliverable: the owner has no usable contact


class StepFailed(RuntimeError):
    """An answer the second act did not expect: its scenario stops, and a check says why."""


def expect(response: requests.Response, status: int) -> dict[str, Any]:
    """The JSON answer, if the status is the expected one."""
    if response.status_code != status:
        where = urlsplit(response.url).path
        raise StepFailed(
            f"{response.request.method} {where} answered {response.status_code}: {response.text[:200]}"
        )
    return response.json()


class StaffClient:
    """A signed-in staff member: a bearer token from the runtime's token endpoint on every call."""

    def __init__(self, base_url: str, *, role: str, sub: str) -> None:
        self.base_url = base_url
        self.sub = sub
        self.session = requests.Session()
        minted = self.session.post(f"{base_url}/_local/token", json={"role": role, "sub": sub}, timeout=10)
        self.session.headers["Authorization"] = f"Bearer {expect(minted, 200)['token']}"

    def get(self, path: str, **params: str) -> requests.Response:
        return self.session.get(self.base_url + path, params=params, timeout=60)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=60)


@dataclass(frozen=True)
class DeskTeam:
    cashier: StaffClient
    collector: StaffClient
    admin: StaffClient
    other_admin: StaffClient

    @classmethod
    def sign_in(cls, base_url: str) -> DeskTeam:
        return cls(
            cashier=StaffClient(base_url, role="cashier", sub=CASHIER),
            collector=StaffClient(base_url, role="cashier", sub=COLLECTOR),
            admin=StaffClient(base_url, role="admin", sub=ADMINS[0]),
            other_admin=StaffClient(base_url, role="admin", sub=ADMINS[1]),
        )


@dataclass(frozen=True)
class DeskUnits:
    """The first month's non-payers the second act works with, one per scenario."""

    front_desk: str
    partial: str
    overpaid: str
    double: str  # the largest bill, so that its refund needs an admin's approval
    void: str
    visit: str
    all_bills: str

    def all(self) -> tuple[str, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


def choose_desk_units(bill_totals: dict[str, int], with_email: set[str]) -> DeskUnits:
    """Deterministic: the double payment on the largest bill with an e-mail address (its receipt
    is read back), the others in unit order. ``bill_totals``: the unpaid units' bills."""
    candidates = sorted(bill_totals)
    emailed = [u for u in candidates if u in with_email]
    if not emailed or len(candidates) < 7:
        raise StepFailed(
            f"the second act needs 7 unpaid units with pay links, one with e-mail ({len(candidates)})"
        )
    double = max(emailed, key=lambda u: (bill_totals[u], u))
    front_desk, partial, overpaid, void, visit, all_bills = [u for u in candidates if u != double][:6]
    return DeskUnits(front_desk, partial, overpaid, double, void, visit, all_bills)


@dataclass(frozen=True)
class ReceiptPdf:
    receipt_no: str
    status: int
    head: bytes
    size: int


@dataclass
class DeskAct:
    """What the second act did through the API, and what the API answered."""

    base_url: str
    period: str
    day: date  # the property's local date of the desk work
    time_zone: str
    currency: str
    refund_approval_minor: int
    units: DeskUnits
    bills: dict[str, int]  # the first month's bill of each unit, what it owed
    tokens: dict[str, str]  # each unit's pay-link token from its notice
    owners: dict[str, Owner]
    last_online_receipt: str | None
    taken: dict[str, dict[str, Any]] = field(default_factory=dict)  # scenario -> the payment as answered
    answers: dict[str, int] = field(default_factory=dict)  # named call -> HTTP status
    queued: dict[str, str] = field(default_factory=dict)  # payment id -> reason, from the staff queue
    credit_before_double: int | None = None
    refund: dict[str, Any] = field(default_factory=dict)
    visit: dict[str, Any] = field(default_factory=dict)  # as the desk's list of the day showed it
    cash_up: dict[str, Any] = field(default_factory=dict)
    receipt_pdf: ReceiptPdf | None = None
    next_period: str | None = None
    open_bills_before: int | None = None  # the all-bills unit's open bills before it paid
    unit_count: int = 0
    problems: list[str] = field(default_factory=list)
    surplus: str = "credit"  # the property's payment.surplus: money for settled bills kept or refunded
    home_visits: bool = True  # whether the property offers home collection
    # How the double payment and the all-bills payment are made online: the property's first rail.
    online_way: paying.Way = paying.CHECKOUT

    def payment_id(self, scenario: str) -> str:
        return str(self.taken.get(scenario, {}).get("payment_id", ""))


def record_at_desk(
    staff: StaffClient, unit_id: str, amount_minor: int, *, key: str, method: str = "cash", **details: str
) -> dict[str, Any]:
    """POST /staff/units/{unit}/payments; the request id is the cashier screen's, one per payment."""
    body = {"request_id": f"demo-{key}-{unit_id}", "amount_minor": amount_minor, "method": method, **details}
    return expect(staff.post(f"/staff/units/{unit_id}/payments", body), 201)


def take_full_payment(act: DeskAct, team: DeskTeam) -> None:
    unit = act.units.front_desk
    act.taken["front_desk"] = record_at_desk(team.cashier, unit, act.bills[unit], key="full")


def take_partial_payment(act: DeskAct, team: DeskTeam) -> None:
    unit = act.units.partial
    act.taken["partial"] = record_at_desk(
        team.cashier, unit, act.bills[unit] // 2, key="half", method="bank_card", reference=POS_REFERENCE
    )


def take_overpayment(act: DeskAct, team: DeskTeam) -> None:
    unit = act.units.overpaid
    act.taken["overpaid"] = record_at_desk(team.cashier, unit, act.bills[unit] + OVERPAY_MINOR, key="over")


def pay_twice(act: DeskAct, team: DeskTeam, drain: Callable[[], bool], runtime: LocalRuntime) -> None:
    """The owner reaches the provider's page (the QR code, Checkout); meanwhile the cashier takes cash
    for the bill; then the owner pays online too. The online payment lands as credit, in the staff
    queue."""
    unit = act.units.double
    account = expect(team.cashier.get(f"/staff/units/{unit}/account"), 200)
    act.credit_before_double = account["credit_minor"]
    attempt = paying.OnlinePayment(unit, act.online_way)
    with requests.Session() as browser:
        press_pay = paying.start(browser, act.base_url, act.tokens[unit], attempt, runtime)
        act.taken["double_desk"] = record_at_desk(team.cashier, unit, act.bills[unit], key="desk")
        press_pay(True)
    drain()
    if act.surplus == "refund":
        # This property gives money for settled bills back at once: the payment is refunded, not queued.
        account = expect(team.cashier.get(f"/staff/units/{unit}/account"), 200)
        online = next((p for p in account["payments"] if p["provider"] == act.online_way.rail), None)
        if online is None:
            raise StepFailed(f"{unit}'s online payment is not on its account")
        act.taken["double_online"] = online
        return
    queue = expect(team.cashier.get("/staff/payments/review"), 200)["payments"]
    act.queued = {p["payment_id"]: p["review_reason"] for p in queue if p["unit_id"] == unit}
    online = next((p for p in queue if p["unit_id"] == unit and p["provider"] == act.online_way.rail), None)
    if online is None:
        raise StepFailed(f"{unit}'s online payment is not in the staff queue")
    act.taken["double_online"] = online


def refund_double_payment(act: DeskAct, team: DeskTeam, drain: Callable[[], bool]) -> None:
    """The cashier refunds the online payment through the refunds route (an admin approves a large
    one); the provider's answer (Alipay's) or its notification (Stripe's charge.refunded, WeChat
    Pay's REFUND.SUCCESS) posts it."""
    payment_id = act.payment_id("double_online")
    if not payment_id:
        raise StepFailed("no double payment to refund")
    if act.surplus == "refund":
        # Refunded by the system already (payment.surplus: refund): wait for the provider to confirm it.
        posted = wait_until(
            lambda: expect(team.cashier.get(f"/staff/payments/{payment_id}"), 200)["refunded_minor"] > 0
        )
        drain()
        if not posted:
            raise StepFailed(f"the automatic refund of {payment_id} was not posted within the wait")
        return
    amount = act.taken["double_online"]["credit_minor"]
    body = {"request_id": f"demo-refund-{act.units.double}", "amount_minor": amount, "reason": "Paid twice"}
    refund = expect(team.cashier.post(f"/staff/payments/{payment_id}/refunds", body), 201)
    if refund["status"] == "pending_approval":
        refund = expect(team.admin.post(f"/staff/refunds/{refund['refund_id']}/approval"), 200)
    act.refund = refund
    # Notifications come from a thread of the stand-in's own, after it answered the refund.
    posted = wait_until(
        lambda: expect(team.cashier.get(f"/staff/payments/{payment_id}"), 200)["refunded_minor"] >= amount
    )
    drain()
    if not posted:
        raise StepFailed(f"the refund of {payment_id} was not posted within the wait")


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def void_mistaken_payment(act: DeskAct, team: DeskTeam) -> None:
    """Cash taken for the wrong unit: an admin asks for the void and may not approve it themself;
    another admin does."""
    unit = act.units.void
    act.taken["void"] = record_at_desk(team.cashier, unit, act.bills[unit], key="mistake")
    path = f"/staff/payments/{act.payment_id('void')}/void"
    expect(team.admin.post(path, {"reason": "Taken for the wrong unit"}), 202)
    act.answers["void_own_approval"] = team.admin.post(f"{path}/approval").status_code
    act.answers["void_other_approval"] = team.other_admin.post(f"{path}/approval").status_code


def collect_at_home(act: DeskAct, team: DeskTeam, slots: tuple[str, ...]) -> None:
    """The owner books tomorrow's first slot from the account page; the desk reads the day's visits;
    the collector takes the payment at the door."""
    if not slots:
        return  # the property offers no home visits (its check says so)
    unit, day = act.units.visit, act.day + timedelta(days=1)
    with requests.Session() as browser:
        booked = browser.post(
            f"{act.base_url}/pay/{act.tokens[unit]}/visits",
            data={"day": day.isoformat(), "slot": slots[0]},
            allow_redirects=False,
            timeout=30,
        )
    act.answers["visit_booking"] = booked.status_code
    if "notice=visit_booked" not in booked.headers.get("Location", ""):
        raise StepFailed(f"booking a visit answered {booked.status_code} {booked.headers.get('Location')}")
    listed = expect(team.cashier.get("/staff/visits", day=day.isoformat()), 200)["visits"]
    act.visit = next((v for v in listed if v["unit_id"] == unit), {})
    if not act.visit:
        raise StepFailed(f"{unit}'s visit is not on the desk's list of {day}")
    act.taken["visit"] = record_at_desk(
        team.collector,
        unit,
        act.visit["owed_minor"],
        key="door",
        channel="home_visit",
        visit_id=act.visit["visit_id"],
    )


def close_the_day(act: DeskAct, team: DeskTeam) -> None:
    act.cash_up = expect(team.cashier.get("/staff/cashup"), 200)


def fetch_receipt_pdf(act: DeskAct, team: DeskTeam) -> None:
    link = expect(team.cashier.get(f"/staff/payments/{act.payment_id('front_desk')}/receipt"), 200)
    pdf = requests.get(link["url"], timeout=60)
    act.receipt_pdf = ReceiptPdf(link["receipt_no"], pdf.status_code, pdf.content[:5], len(pdf.content))


def pay_all_bills(
    act: DeskAct, team: DeskTeam, tokens: set[str], drain: Callable[[], bool], runtime: LocalRuntime
) -> None:
    """A unit that paid nothing owes two bills now: the owner opens the new notice's link and pays
    once for both."""
    unit = act.units.all_bills
    account = expect(team.cashier.get(f"/staff/units/{unit}/account"), 200)
    act.open_bills_before = len(account["open_bills"])
    fresh = sorted(tokens - {act.tokens[unit]})
    if not fresh:
        raise StepFailed(f"no new pay link for {unit} after the second notice")
    attempt = paying.pay(act.base_url, fresh[0], paying.OnlinePayment(unit, act.online_way), runtime)
    if not attempt.ok:
        raise StepFailed(f"{unit} could not pay: {' -> '.join(attempt.steps)}: {attempt.error}")
    drain()
    payments = expect(team.cashier.get(f"/staff/units/{unit}/account"), 200)["payments"]
    act.taken["all_bills"] = next((p for p in payments if p["provider"] == act.online_way.rail), {})


def run_step(act: DeskAct, name: str, step: Callable[[], None]) -> None:
    """Run one scenario; an unexpected answer stops it (and fails a check), not the demo."""
    try:
        step()
    except (RuntimeError, requests.RequestException, KeyError) as exc:
        act.problems.append(f"{name}: {type(exc).__name__}: {exc}")


# --- what the tables hold about the second act --------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    message_id: str
    template: str
    status: str


@dataclass(frozen=True)
class DeskRecords:
    """The second act's units as the tables hold them at one moment: the checks' oracle."""

    bills: dict[str, Bill]
    accounts: dict[str, Account]
    payments: dict[str, PaymentRecord]  # every payment of the property
    refunds: dict[str, RefundRecord]
    visits: dict[str, Visit]
    messages: list[Sent]
    email: list[dict[str, Any]]  # the outbox's e-mail (the messages table keeps no text)
    credited: dict[str, int] = field(default_factory=dict)  # the double unit's ledger: payment -> credit
    next_period_bills: int = 0


def read_desk_records(act: DeskAct, box: dict[str, Any]) -> DeskRecords:
    from propdesk.services.visits import get_visit
    from propdesk.store import ledger
    from propdesk.store.accounts import AccountStore
    from propdesk.store.bills import BillRepository
    from propdesk.store.models import MessageItem, PaymentItem
    from propdesk.store.payments import from_item
    from propdesk.store.refunds import RefundRepository

    periods = [p for p in (act.period, act.next_period) if p]
    bills = BillRepository()
    found = [bills.get(f"{unit}#{period}") for unit in act.units.all() for period in periods]
    refund = RefundRepository().get(act.refund["refund_id"]) if act.refund else None
    if act.surplus == "refund" and act.payment_id("double_online"):
        from propdesk.services.refunds import surplus_refund_id

        refund = RefundRepository().get(surplus_refund_id(act.payment_id("double_online")))
    visit = get_visit(act.visit["visit_id"]) if act.visit else None
    return DeskRecords(
        bills={b.bill_id: b for b in found if b is not None},
        accounts=AccountStore().get_many(act.units.all()),
        payments={p.payment_id: p for p in map(from_item, PaymentItem.scan())},
        refunds={refund.refund_id: refund} if refund else {},
        visits={visit.visit_id: visit} if visit else {},
        messages=[Sent(m.message_id, m.template, m.status) for m in MessageItem.scan()],
        email=box["email"],
        credited={
            str(e.data.get("payment_id")): int(e.data.get("amount_minor") or 0)
            for e in ledger.entries(ledger.account_entity(act.units.double), "credit#")
        },
        next_period_bills=sum(1 for _ in bills.list_period(act.next_period)) if act.next_period else 0,
    )


# --- the second act's checks ----------------------------------------------------------------------


def allocated(payment: PaymentRecord | None) -> dict[str, int]:
    return {a.bill_id: a.amount_minor for a in payment.allocations} if payment else {}


def next_receipt(number: str | None) -> str | None:
    """DEMO-2026-000270 -> DEMO-2026-000271."""
    if not number:
        return None
    prefix, _, sequence = number.rpartition("-")
    return f"{prefix}-{int(sequence) + 1:0{len(sequence)}d}"


def duplicate_note(locale: str) -> str:
    """The words of the receipt that says a double payment is kept as credit (before the amount)."""
    from propdesk.rendering import catalog

    return str(catalog(locale)["payment_receipt"]["duplicate_note"]).split("{", 1)[0].strip()


class DeskView:
    """The records of one scenario: its unit's bill and account, its payment."""

    def __init__(self, act: DeskAct, records: DeskRecords, scenario: str, unit: str) -> None:
        self.unit = unit
        self.bill = records.bills.get(f"{unit}#{act.period}")
        self.account = records.accounts.get(unit)
        self.payment = records.payments.get(act.payment_id(scenario))
        self.owed = act.bills.get(unit, 0)

    @property
    def paid(self) -> bool:
        return self.bill is not None and self.bill.status == "paid" and self.bill.paid_minor == self.owed


def check_front_desk(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    view = DeskView(act, records, "front_desk", act.units.front_desk)
    p = view.payment
    checks.check(
        view.paid
        and p is not None
        and (p.channel, p.method, p.recorded_by) == ("front_desk", "cash", CASHIER)
        and allocated(p) == {f"{view.unit}#{act.period}": view.owed},
        f"front desk: {view.unit}'s bill paid in cash, channel front_desk, recorded by {CASHIER}",
    )
    expected = next_receipt(act.last_online_receipt)
    checks.check(
        expected is not None and p is not None and p.receipt_no == expected,
        f"its receipt number follows the online ones without a gap ({expected})",
    )


def check_partial(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    view = DeskView(act, records, "partial", act.units.partial)
    half, p, bill = view.owed // 2, view.payment, view.bill
    checks.check(
        bill is not None
        and p is not None
        and (bill.status, bill.paid_minor) == ("open", half)
        and (p.method, p.reference) == ("bank_card", POS_REFERENCE)
        and allocated(p) == {bill.bill_id: half},
        f"partial: {view.unit} paid {money(half, act.currency)} by bank card ({POS_REFERENCE});"
        f" the bill stays open with that much paid",
    )


def check_overpayment(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    view = DeskView(act, records, "overpaid", act.units.overpaid)
    checks.check(
        view.paid
        and view.payment is not None
        and view.payment.credit_minor == OVERPAY_MINOR
        and view.account is not None
        and view.account.credit_minor == OVERPAY_MINOR,
        f"overpayment: {view.unit}'s bill paid and {money(OVERPAY_MINOR, act.currency)} kept as credit",
    )


def check_double_payment(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    view = DeskView(act, records, "double_desk", act.units.double)
    online = records.payments.get(act.payment_id("double_online"))
    checks.check(
        view.paid and allocated(view.payment) == {f"{view.unit}#{act.period}": view.owed},
        f"double payment: the cash taken at the desk paid {view.unit}'s bill",
    )
    if act.surplus == "refund":
        checks.check(
            online is not None
            and (online.provider, online.status, online.refunded_minor)
            == (act.online_way.rail, "refunded", view.owed)
            and online.review_state is None,
            "the owner's online payment after it was paid at the desk: refunded at once (payment.surplus: refund)",
        )
        return
    checks.check(
        online is not None
        and (online.provider, online.review_reason, online.allocations)
        == (act.online_way.rail, "duplicate", ())
        and online.amount_minor == records.credited.get(online.payment_id) == view.owed
        and act.queued.get(online.payment_id) == "duplicate",
        f"the owner's online payment ({act.online_way.label}) after it became credit, in the staff queue"
        " as a duplicate",
    )
    owner = act.owners.get(view.unit)
    receipt_no = online.receipt_no if online else None
    sent = any(
        m.message_id == f"payment_receipt#{receipt_no}" and m.status == "sent" for m in records.messages
    )
    said = owner is not None and any(
        owner.email in mail["to"]
        and str(receipt_no) in mail["body"]
        and duplicate_note(owner.locale) in mail["body"]
        for mail in records.email
    )
    checks.check(
        receipt_no is not None and sent and said,
        f"the owner's receipt {receipt_no} says it is kept as credit",
    )


def check_refund(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    unit = act.units.double
    if act.surplus == "refund":
        from propdesk.services.refunds import SURPLUS

        automatic = [r for r in records.refunds.values() if r.payment_id == act.payment_id("double_online")]
        checks.check(
            len(automatic) == 1
            and (automatic[0].status, automatic[0].requested_by) == ("succeeded", SURPLUS),
            f"refund: {unit}'s second payment went back through the {act.online_way.rail} stand-in by itself, once",
        )
        return
    refund = records.refunds.get(act.refund.get("refund_id", ""))
    online = records.payments.get(act.payment_id("double_online"))
    account = records.accounts.get(unit)
    amount = act.bills.get(unit, 0)
    needs_approval = amount > act.refund_approval_minor
    checks.check(
        refund is not None
        and (refund.status, refund.amount_minor, refund.requested_by) == ("succeeded", amount, CASHIER)
        and bool(refund.provider_refund_id)
        and refund.approved_by == (ADMINS[0] if needs_approval else None),
        f"refund: {money(amount, act.currency)} back through the {act.online_way.rail} stand-in, asked by {CASHIER}"
        + (
            f", approved by {ADMINS[0]} (above {money(act.refund_approval_minor, act.currency)})"
            if needs_approval
            else ""
        ),
    )
    checks.check(
        online is not None
        and (online.status, online.refunded_minor, online.credit_minor) == ("refunded", amount, 0)
        and online.review_state is None
        and account is not None
        and account.credit_minor == act.credit_before_double,
        f"the refunded payment left the queue; {unit}'s credit is back to"
        f" {money(act.credit_before_double or 0, act.currency)}",
    )
    told = any(
        m.template == "payment_refunded"
        and m.status == "sent"
        and f"#{act.payment_id('double_online')}#" in m.message_id
        for m in records.messages
    )
    checks.check(
        bool(act.payment_id("double_online")) and told, "the owner was told of the refund (payment_refunded)"
    )


def check_void(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    view = DeskView(act, records, "void", act.units.void)
    p, bill = view.payment, view.bill
    checks.check(
        (act.answers.get("void_own_approval"), act.answers.get("void_other_approval")) == (403, 200),
        "void: the admin who asked may not approve it (403); another admin may (200)",
    )
    checks.check(
        p is not None
        and bill is not None
        and (p.status, p.voided_by, p.void_requested_by) == ("voided", ADMINS[1], ADMINS[0])
        and p.receipt_no == act.taken["void"].get("receipt_no")
        and (bill.status, bill.paid_minor) == ("open", 0),
        f"voided: {view.unit}'s payment voided, its receipt number kept, the bill open again",
    )


def check_visit(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    if not act.home_visits:
        checks.check(not act.visit, "home visits: not offered by this property, none booked")
        return
    view = DeskView(act, records, "visit", act.units.visit)
    visit = records.visits.get(act.visit.get("visit_id", ""))
    p = view.payment
    checks.check(
        act.answers.get("visit_booking") == 303
        and visit is not None
        and p is not None
        and (visit.status, visit.payment_id, visit.booked_by) == ("done", p.payment_id, "owner")
        and (p.channel, p.recorded_by) == ("home_visit", COLLECTOR)
        and view.paid,
        f"home visit: the owner of {view.unit} booked {act.visit.get('day')} {act.visit.get('slot')};"
        f" {COLLECTOR} took the payment at the door; visit done, bill paid",
    )


def local_day(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def check_cash_up(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    taken = [
        p
        for p in records.payments.values()
        if p.recorded_by == CASHIER and local_day(p.received_at, act.time_zone) == act.day
    ]
    expected: Counter[str] = Counter()
    for p in taken:
        if p.status != "voided":
            expected[p.method] += p.amount_minor - p.refunded_minor
    totals = act.cash_up.get("totals_by_method")
    checks.check(
        bool(expected)
        and totals == dict(expected)
        and act.cash_up.get("total_minor") == sum(expected.values()),
        f"cash-up of {CASHIER} on {act.day}: totals by method == the payments table's non-voided desk"
        f" payments ({len([p for p in taken if p.status != 'voided'])})",
    )
    listed = {p["payment_id"]: p["status"] for p in act.cash_up.get("payments", [])}
    checks.check(
        listed.get(act.payment_id("void")) == "voided" and len(listed) == len(taken),
        "the voided payment is listed in the cash-up, not counted",
    )


def check_receipt_pdf(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    pdf = act.receipt_pdf
    checks.check(
        pdf is not None
        and pdf.status == 200
        and pdf.head.startswith(b"%PDF")
        and pdf.receipt_no == act.taken.get("front_desk", {}).get("receipt_no"),
        f"receipt PDF of {act.units.front_desk}: the link serves a PDF"
        + (f" ({pdf.size:,} bytes)" if pdf else ""),
    )


def check_next_cycle(checks: Checks, act: DeskAct, before: DeskRecords, after: DeskRecords) -> None:
    period = act.next_period
    checks.check(
        period is not None and after.next_period_bills == act.unit_count,
        f"second cycle {period}: a bill for every unit ({after.next_period_bills} of {act.unit_count})",
    )
    unit = act.units.overpaid
    had = before.accounts.get(unit)
    has = after.accounts.get(unit)
    new_bill = after.bills.get(f"{unit}#{period}")
    checks.check(
        had is not None
        and had.credit_minor == OVERPAY_MINOR
        and new_bill is not None
        and new_bill.paid_minor == OVERPAY_MINOR
        and has is not None
        and has.credit_minor == 0,
        f"{unit}'s {period} bill took its {money(OVERPAY_MINOR, act.currency)} credit first; no credit left",
    )
    unit = act.units.all_bills
    both = {f"{unit}#{act.period}", f"{unit}#{period}"}
    payment = after.payments.get(act.payment_id("all_bills"))
    checks.check(
        act.open_bills_before == 2
        and set(allocated(payment)) == both
        and all((b := after.bills.get(bill_id)) is not None and b.status == "paid" for bill_id in both),
        f"{unit} owed two bills; one Pay for all of them paid both with one payment",
    )


def receipt_runs(numbers: Iterable[str]) -> dict[str, list[int]]:
    """Receipt sequences by prefix (property and year), sorted: DEMO-2026 -> [1, 2, ...]."""
    runs: dict[str, list[int]] = defaultdict(list)
    for number in numbers:
        prefix, _, sequence = number.rpartition("-")
        runs[prefix].append(int(sequence) if sequence.isdigit() else -1)
    return {prefix: sorted(found) for prefix, found in runs.items()}


def check_books(checks: Checks, act: DeskAct, records: DeskRecords) -> None:
    payments = list(records.payments.values())
    runs = receipt_runs(p.receipt_no for p in payments if p.receipt_no)
    checks.check(
        bool(runs) and all(found == list(range(1, len(found) + 1)) for found in runs.values()),
        "every receipt number, per year, distinct and without gaps ("
        + ", ".join(f"{prefix}: {len(found)}" for prefix, found in sorted(runs.items()))
        + ")",
    )
    checks.check(
        all(p.amount_minor == p.allocated_minor + p.credit_minor + p.refunded_minor for p in payments),
        f"money conserved: every payment == allocated + credit + refunded ({len(payments)} payments)",
    )
    unsent = Counter(m.status for m in records.messages if m.status not in SETTLED)
    checks.check(
        not unsent,
        f"every message of both cycles sent ({len(records.messages)})"
        + (f"; not: {dict(unsent)}" if unsent else ""),
    )


def verify_desk(act: DeskAct, before: DeskRecords, after: DeskRecords) -> Checks:
    """The second act's checks: scenarios 1-7 and the cash-up against the tables as they were before
    the clock moved on, the next cycle and the books after."""
    checks = Checks()
    for problem in act.problems:
        checks.check(False, f"second act stopped: {problem}")
    for check in (
        check_front_desk,
        check_partial,
        check_overpayment,
        check_double_payment,
        check_refund,
        check_void,
        check_visit,
        check_cash_up,
        check_receipt_pdf,
    ):
        check(checks, act, before)
    check_next_cycle(checks, act, before, after)
    check_books(checks, act, after)
    return checks


def desk_summary_lines(act: DeskAct) -> list[str]:
    """The summary's section: one line per scenario with its figures, as the API answered them."""

    def m(minor: Any) -> str:
        return money(minor, act.currency) if isinstance(minor, int) else "?"

    def taken(scenario: str, key: str) -> Any:
        return act.taken.get(scenario, {}).get(key)

    u, refund, cash_up, pdf = act.units, act.refund, act.cash_up, act.receipt_pdf
    counts = cash_up.get("count_by_method", {})
    by_method = ", ".join(
        f"{method} {m(total)} ({counts.get(method)})"
        for method, total in sorted(cash_up.get("totals_by_method", {}).items())
    )
    voided = sum(1 for p in cash_up.get("payments", []) if p["status"] == "voided")
    approved_by = refund.get("approved_by") or "nobody (under the approval amount)"
    rows = [
        (
            "front desk",
            u.front_desk,
            f"cash {m(taken('front_desk', 'amount_minor'))} by {CASHIER},"
            f" receipt {taken('front_desk', 'receipt_no')}",
        ),
        (
            "partial",
            u.partial,
            f"bank card {m(taken('partial', 'amount_minor'))} ({POS_REFERENCE})"
            f" of {m(act.bills[u.partial])}; the rest still owed",
        ),
        (
            "overpayment",
            u.overpaid,
            f"cash {m(taken('overpaid', 'amount_minor'))} for a {m(act.bills[u.overpaid])} bill;"
            f" {m(taken('overpaid', 'credit_minor'))} kept as credit",
        ),
        (
            "double",
            u.double,
            f"cash at the desk, then {m(taken('double_online', 'amount_minor'))} online:"
            f" kept as credit, queued ({taken('double_online', 'review_reason')})",
        ),
        (
            "refund",
            u.double,
            f"{m(refund.get('amount_minor'))} back through {act.online_way.rail}; asked by {refund.get('requested_by')},"
            f" approved by {approved_by}",
        ),
        (
            "void",
            u.void,
            f"cash {m(taken('void', 'amount_minor'))} voided: asker's approval"
            f" {act.answers.get('void_own_approval')}, other admin's {act.answers.get('void_other_approval')};"
            f" receipt {taken('void', 'receipt_no')} kept",
        ),
        (
            "home visit",
            u.visit,
            f"{act.visit.get('day')} {act.visit.get('slot')}, booked by the owner;"
            f" {COLLECTOR} took {m(taken('visit', 'amount_minor'))} at the door",
        ),
        (
            "cash-up",
            CASHIER,
            f"{cash_up.get('date')}: {by_method or '?'}; {voided} voided, not counted",
        ),
        (
            "receipt PDF",
            taken("front_desk", "receipt_no"),
            f"{pdf.size:,} bytes, {pdf.head!r}" if pdf else "?",
        ),
        (
            "next cycle",
            act.next_period,
            f"{u.overpaid}'s bill took {m(OVERPAY_MINOR)} from its credit; {u.all_bills} paid"
            f" {act.open_bills_before} bills with one payment ({taken('all_bills', 'receipt_no')})",
        ),
    ]
    page = f"{act.base_url}/pay/{act.tokens.get(u.front_desk)}"
    return [
        "",
        f"Front desk and accounts ({act.day}, then the {act.next_period} notice day)",
        *(f"  {label:<13} {subject or '?':<16} {text}" for label, subject, text in rows),
        f"  account page  {page}",
        f"                ({u.front_desk}'s, with its receipts; it opens while the runtime runs:"
        " python -m infra.local.demo --keep-running)",
    ]


def drain_queues(http: requests.Session, base_url: str) -> bool:
    return bool(http.post(f"{base_url}/_local/drain", json={"timeout_s": 300}, timeout=310).json()["drained"])


def read_outbox(http: requests.Session, base_url: str) -> dict[str, Any]:
    return http.get(f"{base_url}/_local/outbox", params={"format": "json"}, timeout=60).json()


def move_clock(http: requests.Session, base_url: str, moment: datetime) -> list[dict[str, Any]]:
    """Move the runtime's clock (the functions' too) to ``moment``: the schedule runs it passed."""
    moved = http.post(
        f"{base_url}/_local/clock", json={"to": moment.replace(tzinfo=None).isoformat()}, timeout=900
    )
    moved.raise_for_status()
    return moved.json()["fired"]


@dataclass(frozen=True)
class FirstMonth:
    period: str
    moment: datetime
    payers: set[str]
    attempts: list[paying.OnlinePayment]
    notice_tokens: dict[str, set[str]]
    records: dict[str, Any]
    box: dict[str, Any]
    summary: dict[str, Any]
    summary_status: int
    cycle: dict[str, Any]  # the cycle as the manager approved it


def review_cycle(
    config: PropertyConfig, base: str, http: requests.Session, period: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """The manager reads the draft the notice run prepared (totals per building, the units to look
    at) and approves it, which sends the notices; a property whose config issues by itself has
    approved it already. The cycle as it stands after."""
    admin = StaffClient(base, role="admin", sub="demo-manager")
    draft = expect(admin.get(f"/staff/cycles/{period}"), 200)
    currency = config.currency
    buildings = ", ".join(
        f"{b['building']} {b['bills']} / {money(b['total_minor'], currency)}" for b in draft["by_building"]
    )
    kinds = Counter(e["kind"] for e in draft["exceptions"])
    say(
        f"cycle {period} {draft['state']} under {draft['fee_standard_version']}: {draft['bills']} bills, "
        f"{money(draft['total_minor'], currency)} ({buildings}); to look at: "
        + (", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(kinds.items())) or "nothing")
    )
    if draft["state"] == "draft":
        approved = expect(admin.post(f"/staff/cycles/{period}/approval"), 200)
        again = admin.post(f"/staff/cycles/{period}/approval")
        say(
            f"approved by {approved['approved_by']}; approving again answers {again.status_code} {again.json()['error']}"
        )
        drain_queues(http, base)
        return approved
    say(f"issued without review: the property's config approves its drafts ({draft['approved_by']})")
    return draft


def first_month(
    config: PropertyConfig,
    *,
    runtime: LocalRuntime,
    http: requests.Session,
    owners: list[Owner],
    workers: int,
    say: Callable[[str], None],
) -> FirstMonth:
    """Notice day, the notices, most owners paying online; the records for the checks."""
    base = runtime.base_url
    period, moment = next_notice_moment(config, runtime.clock.now())
    say(f"moving the clock to {moment:%Y-%m-%d %H:%M} {config.time_zone}: notice day of period {period}")
    fired = move_clock(http, base, moment)
    notice_runs = [f for f in fired if f["schedule"] == "notice-run"]
    say(f"{len(fired)} schedule runs fired on the way ({len(notice_runs)} notice runs)")
    drain_queues(http, base)
    cycle = review_cycle(config, base, http, period, say)
    drained = drain_queues(http, base)
    box = read_outbox(http, base)
    notice_tokens = links_by_unit(box, owners)
    say(
        f"notices out (queues drained: {drained}): {box['counts']['email']} email,"
        f" {box['counts']['sms']} SMS; pay links for {len(notice_tokens)} units"
    )

    payers = {u for u in notice_tokens if pays(u)}
    say(f"{len(payers)} owners pay online on the property's rails, {len(owners) - len(payers)} don't")
    jobs = [(u, sorted(notice_tokens[u])[0]) for u in sorted(payers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        attempts = list(
            pool.map(
                lambda job: paying.pay(
                    base, job[1], paying.OnlinePayment(job[0], online_way(config, job[0])), runtime
                ),
                jobs,
            )
        )
    failures = [a for a in attempts if not a.ok]
    for attempt in failures[:5]:
        say(f"  {attempt.unit_id}: {' -> '.join(attempt.steps)}: {attempt.error}")
    drained = drain_queues(http, base)
    say(
        f"payments done ({len(attempts) - len(failures)} ok, {len(failures)} failed); queues drained: {drained}"
    )

    admin = StaffClient(base, role="admin", sub="demo-admin")
    summary_response = admin.get("/staff/summary", period=period)
    return FirstMonth(
        period=period,
        moment=moment,
        payers=payers,
        attempts=attempts,
        notice_tokens=notice_tokens,
        records=stored_records(period),
        box=read_outbox(http, base),
        summary=summary_response.json() if summary_response.ok else {},
        summary_status=summary_response.status_code,
        cycle=cycle,
    )


@dataclass(frozen=True)
class SecondAct:
    act: DeskAct
    before: DeskRecords  # read before the clock moves on to the next notice day
    after: DeskRecords


def start_desk_act(
    config: PropertyConfig, *, runtime: LocalRuntime, owners: list[Owner], month: FirstMonth
) -> DeskAct:
    bills = month.records["bills"].values()
    unpaid = {
        b.unit_id: int(b.total_minor)
        for b in bills
        if b.unit_id not in month.payers and b.unit_id in month.notice_tokens
    }
    by_unit = {o.unit_id: o for o in owners}
    units = choose_desk_units(unpaid, {u for u in unpaid if by_unit[u].email})
    numbers = sorted(p.receipt_no for p in month.records["payments"] if p.receipt_no)
    return DeskAct(
        base_url=runtime.base_url,
        period=month.period,
        # The functions' processes follow the runtime's clock, so "today" is the simulated day.
        day=local_day(runtime.clock.now(), config.time_zone),
        time_zone=config.time_zone,
        currency=config.currency,
        refund_approval_minor=config.payment.refund_approval_minor,
        units=units,
        bills={u: unpaid[u] for u in units.all()},
        tokens={u: sorted(month.notice_tokens[u])[0] for u in units.all()},
        owners={u: by_unit[u] for u in units.all()},
        last_online_receipt=numbers[-1] if numbers else None,
        unit_count=len(owners),
        surplus=config.payment.surplus,
        home_visits=config.payment.home_visits is not None,
        online_way=paying.ways_of(config.payment.rails)[0],
    )


def second_act(
    config: PropertyConfig,
    *,
    runtime: LocalRuntime,
    http: requests.Session,
    owners: list[Owner],
    month: FirstMonth,
    say: Callable[[str], None],
) -> SecondAct:
    """The front desk's day, then the next notice day (see the section above)."""
    base = runtime.base_url
    act = start_desk_act(config, runtime=runtime, owners=owners, month=month)
    team = DeskTeam.sign_in(base)
    slots = tuple(config.payment.home_visits.slots) if config.payment.home_visits else ()

    def drain() -> bool:
        return drain_queues(http, base)

    say(f"second act, {act.day}: the front desk and accounts with {', '.join(act.units.all())}")
    for name, step in (
        ("front desk", lambda: take_full_payment(act, team)),
        ("partial payment", lambda: take_partial_payment(act, team)),
        ("overpayment", lambda: take_overpayment(act, team)),
        ("double payment", lambda: pay_twice(act, team, drain, runtime)),
        ("refund", lambda: refund_double_payment(act, team, drain)),
        ("void", lambda: void_mistaken_payment(act, team)),
        ("home visit", lambda: collect_at_home(act, team, slots)),
        ("cash-up", lambda: close_the_day(act, team)),
        ("receipt PDF", lambda: fetch_receipt_pdf(act, team)),
    ):
        run_step(act, name, step)
    drain()
    before = read_desk_records(act, read_outbox(http, base))
    say(f"desk work done ({len(act.problems)} scenarios stopped)")

    period, moment = next_notice_moment(config, runtime.clock.now())
    act.next_period = period
    say(f"moving the clock to {moment:%Y-%m-%d %H:%M}: notice day of period {period}")
    fired = move_clock(http, base, moment)
    drain()
    review_cycle(config, base, http, period, say)
    drained = drain()
    say(f"{len(fired)} schedule runs fired on the way; queues drained: {drained}")
    team = DeskTeam.sign_in(base)  # a month on: yesterday's tokens (an hour) have expired
    unit = act.units.all_bills
    fresh = links_by_unit(read_outbox(http, base), owners).get(unit, set()) - month.notice_tokens[unit]
    run_step(act, "all bills", lambda: pay_all_bills(act, team, fresh, drain, runtime))
    after = read_desk_records(act, read_outbox(http, base))
    say("second cycle checked")
    return SecondAct(act, before, after)


def check_pre_due(config: PropertyConfig, month: FirstMonth, base_url: str) -> tuple[Checks, str]:
    """The first cycle's pre-due reminders (F3), which the month's daily runs sent on their day:
    to every owner whose bill still owed then (or, for an owner no message can reach, a line on
    the call list that staff read through the API), to none who had paid. Read after the second
    act, before anything later pays."""
    from propdesk.domain.calendar import reminder_date
    from propdesk.store.bills import BillRepository
    from propdesk.store.models import MessageItem

    day = reminder_date(month.period, config.billing)
    reminded = {
        m.message_id.split("#")[1]: m.status
        for m in MessageItem.scan()
        if m.template == "pre_due_reminder" and m.message_id.endswith(f"#{month.period}")
    }
    admin = StaffClient(base_url, role="admin", sub="demo-admin")
    call_list = [
        item for item in expect(admin.get("/staff/call-list"), 200)["items"] if item["period"] == month.period
    ]
    to_call = {item["unit_id"] for item in call_list}
    owing_then = {
        bill.unit_id
        for bill in BillRepository().list_period(month.period)
        if not (bill.status == "paid" and bill.paid_at and bill.paid_at.astimezone(config.tz).date() <= day)
    }
    checks = Checks()
    told = set(reminded) | to_call
    checks.check(
        told == owing_then and not set(reminded) & to_call,
        f"pre-due reminders on {day}: every owner who still owed ({len(owing_then)}), and only they, "
        f"by message or on the call list ({len(to_call)})"
        + (f" (missing {sorted(owing_then - told)[:5]}, extra {sorted(told - owing_then)[:5]})"
           if told != owing_then else ""),
    )  # fmt: skip
    checks.check(not told & month.payers, "no pre-due reminder or call to an owner who had paid")
    checks.check(
        all(status in SETTLED for status in reminded.values()),
        "every pre-due reminder sent (or undeliverable for lack of a contact)",
    )
    counts = Counter(reminded.values())
    line = (
        f"pre-due       {day}       {len(reminded)} reminders to owners who still owed "
        f"({counts.get('sent', 0)} sent), none to the {len(month.payers)} who paid; call list: "
        + (", ".join(f"{i['unit_id']} ({i['why']}, {money(i['owed_minor'], i['currency'])})" for i in call_list) or "empty")
    )  # fmt: skip
    return checks, line


def run_demo(
    config: PropertyConfig, *, out: TextIO, workers: int, log_dir: Path, keep_running: bool = False
) -> int:
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", file=out, flush=True)

    owners = read_owners(config)
    say(f"starting the local runtime for {config.name.en} ({len(owners)} units)")
    options = RuntimeOptions(port=0, stripe_port=0, state_dir=None, access_log=False, log_dir=log_dir)
    runtime = LocalRuntime(config, options)
    runtime.start()
    try:
        missing = runtime.functions.missing
        if missing:
            raise RuntimeError(f"functions did not start: {missing}")
        offered = ("stripe", runtime.standin), ("wechat_pay", runtime.wechatpay), ("alipay", runtime.alipay)
        standins = {rail: standin for rail, standin in offered if rail in config.payment.rails}
        say(
            f"gateway {runtime.base_url}; stand-ins of the property's rails: "
            + ", ".join(f"{rail} {standin.base_url}" for rail, standin in standins.items() if standin)
            + f"; {runtime.units_imported}"
        )
        http = requests.Session()
        from infra.local import demo_standards

        standard = demo_standards.publish_act(config, runtime=runtime, http=http, owners=owners, say=say)
        month = first_month(config, runtime=runtime, http=http, owners=owners, workers=workers, say=say)
        desk = second_act(config, runtime=runtime, http=http, owners=owners, month=month, say=say)
        pre_due_checks, pre_due_line = check_pre_due(config, month, runtime.base_url)
        rails = None
        if {"wechat_pay", "alipay"} <= set(config.payment.rails):
            from infra.local import demo_rails

            rails = demo_rails.third_act(
                config, runtime=runtime, http=http, owners=owners, skip=set(desk.act.units.all()), say=say
            )
        autopay_act = None
        if config.payment.card_autopay is not None:
            from infra.local import demo_autopay

            try:
                autopay_act = demo_autopay.autopay_act(
                    config, runtime=runtime, http=http, owners=owners, skip=set(desk.act.units.all()), say=say
                )
            except (RuntimeError, requests.RequestException, KeyError, ValueError, IndexError) as exc:
                autopay_act = demo_autopay.AutopayAct(problem=f"{type(exc).__name__}: {exc}")
        notice = demo_standards.notice_act(
            config,
            runtime=runtime,
            http=http,
            owners=owners,
            period=month.period,
            version=standard.version,
            say=say,
        )
        # After both acts: the checks of the whole (queues, webhooks, logs) cover the second too.
        checks = verify(
            period=month.period,
            owners=owners,
            payers=month.payers,
            attempts=month.attempts,
            notice_tokens=month.notice_tokens,
            records=month.records,
            box=month.box,
            runtime=runtime,
        )
        if month.summary_status != 200:
            checks.check(False, f"GET /staff/summary answered {month.summary_status}")
        issued = sum(b.total_minor for b in month.records["bills"].values())
        checks.check(
            month.cycle.get("state") == "approved" and month.cycle.get("total_minor") == issued,
            f"the cycle was reviewed as a draft and approved; its bills are the draft's "
            f"({month.cycle.get('bills')} bills, {money(issued, config.currency)})",
        )
        checks.results.extend(verify_desk(desk.act, desk.before, desk.after).results)
        checks.results.extend(pre_due_checks.results)
        checks.results.extend(standard.checks.results + notice.checks.results)
        billed_under = {b.fee_standard_version for b in month.records["bills"].values()}
        if month.period >= standard.effective_from[:7]:
            checks.check(
                billed_under == {standard.version},
                f"the {month.period} cycle is billed under {standard.version}, the version in force",
            )
        rail_lines: list[str] = [f"  {line}" for line in standard.lines + notice.lines]
        rail_lines.append(f"  {pre_due_line}")
        if rails is not None:
            from infra.local import demo_rails

            checks.results.extend(demo_rails.verify_rails(rails).results)
            rail_lines += ["  the property's own rails (third act):"] + [
                f"    {line}" for line in demo_rails.rails_summary_lines(rails)
            ]
        if autopay_act is not None:
            from infra.local import demo_autopay

            checks.results.extend(demo_autopay.verify_autopay(autopay_act).results)
            rail_lines += ["  card autopay (third act):"] + [
                f"    {line}" for line in demo_autopay.autopay_summary_lines(autopay_act)
            ]
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
            period=month.period,
            moment=month.moment,
            summary=month.summary,
            box=month.box,
            records=month.records,
            desk_lines=desk_summary_lines(desk.act) + rail_lines,
            checks=checks,
            wall_s=time.monotonic() - started,
            log_dir=log_dir,
        )
        if keep_running:
            wait_for_interrupt(runtime.base_url, out)
        return 0 if checks.ok else 1
    finally:
        runtime.stop()


def wait_for_interrupt(base_url: str, out: TextIO) -> None:
    print(
        f"\nThe runtime keeps running at {base_url} (its pages, the outbox); Ctrl-C stops it.",
        file=out,
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def print_summary(
    out: TextIO,
    *,
    config: PropertyConfig,
    period: str,
    moment: datetime,
    summary: dict[str, Any],
    box: dict[str, Any],
    records: dict[str, Any],
    desk_lines: list[str],
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
    lines.extend(desk_lines)
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
    parser.add_argument(
        "--keep-running", action="store_true", help="after the summary, keep the runtime up (Ctrl-C stops it)"
    )
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
            return run_demo(
                config, out=out, workers=args.workers, log_dir=log_dir, keep_running=args.keep_running
            )
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
