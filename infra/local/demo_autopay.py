"""The demo's card autopay act, for a property that offers it (the Singapore example property).

Two owners save a card from their account page through the Stripe stand-in's setup page: one a
card that pays (4242 4242 4242 4242), one a card that is declined (4000 0000 0000 9995). The
clock moves to three days before the next bills are due (the autopay notices), to the due date
(the charges: one paid, one declined), and through the retry days (declined twice more, then the
owner is told and the reminders take over).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests

from infra.local.demo import Checks, drain_queues, links_by_unit, move_clock, read_outbox

CARDS = ("4242 4242 4242 4242", "4000 0000 0000 9995")


@dataclass
class AutopayAct:
    units: tuple[str, str] = ("", "")
    due_date: str = ""
    enrolled: list[bool] = field(default_factory=list)
    notices: dict[str, int] = field(default_factory=dict)  # unit -> autopay notices sent
    charges: int = 0  # charges at Stripe
    outcome: dict[str, dict[str, Any]] = field(default_factory=dict)  # unit -> what happened
    told: dict[str, int] = field(default_factory=dict)  # unit -> payment_failed messages sent
    problem: str | None = None


def _save_card(base: str, token: str, card: str) -> bool:
    browser = requests.Session()
    started = browser.post(
        f"{base}/pay/{token}/autopay", data={"lang": "en"}, allow_redirects=False, timeout=60
    )
    if started.status_code != 303:
        return False
    page = browser.get(started.headers["Location"], timeout=60)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    if action is None:
        return False
    saved = browser.post(
        requests.compat.urljoin(page.url, action.group(1)),
        data={"card": card},
        allow_redirects=False,
        timeout=60,
    )
    return saved.status_code == 303 and "autopay_saved" in saved.headers.get("Location", "")


def autopay_act(
    config: Any,
    *,
    runtime: Any,
    http: requests.Session,
    owners: list[Any],
    skip: set[str],
    say: Callable[[str], None],
) -> AutopayAct:
    from propdesk.services.accounts import account_view
    from propdesk.store import ledger
    from propdesk.store.models import MessageItem
    from propdesk.store.payments import PaymentRepository

    act = AutopayAct()
    base = runtime.base_url
    tokens = links_by_unit(read_outbox(http, base), owners)
    chosen: list[tuple[str, str]] = []
    for unit_id in sorted(tokens):
        view = account_view(unit_id)
        if unit_id in skip or view is None or not view.open_bills or not view.owner or not view.owner.email:
            continue
        chosen.append((unit_id, sorted(tokens[unit_id])[-1]))
        if len(chosen) == len(CARDS):
            break
    act.units = (chosen[0][0], chosen[1][0])
    act.enrolled = [_save_card(base, token, card) for (_, token), card in zip(chosen, CARDS, strict=True)]
    drain_queues(http, base)
    latest = max(account_view(act.units[0]).open_bills, key=lambda b: b.due_date)
    due = latest.due_date
    act.due_date = due.isoformat()
    say(f"card autopay: {act.units[0]} saved a card that pays, {act.units[1]} one that is declined; "
        f"their bills are due {due}")  # fmt: skip
    tz = config.tz
    settings = config.payment.card_autopay
    days = [due - timedelta(days=settings.notice_days_before), due] + [
        due + timedelta(days=d) for d in settings.retry_days
    ]
    for day in days:
        move_clock(http, base, datetime(day.year, day.month, day.day, 12, 0, tzinfo=tz))
        drain_queues(http, base)
    sent = list(MessageItem.scan())
    for unit_id in act.units:
        view = account_view(unit_id)
        owner_id = view.owner_id if view else None
        act.notices[unit_id] = sum(
            1
            for m in sent
            if m.template == "autopay_notice" and m.owner_id == owner_id and m.status == "sent"
        )
        act.told[unit_id] = sum(
            1
            for m in sent
            if m.template == "payment_failed" and "autopay" in m.message_id and m.owner_id == owner_id
        )
        attempts = [
            k for k in ledger.keys(ledger.account_entity(unit_id), "autopay#") if not k.endswith("given_up")
        ]
        paid = [p for p in PaymentRepository().of_unit(unit_id) if "(autopay)" in (p.reference or "")]
        act.outcome[unit_id] = {
            "attempts": len(attempts),
            "paid": [p.payment_id for p in paid],
            "latest_open": any(
                b.bill_id == f"{unit_id}#{latest.period}" for b in (view.open_bills if view else ())
            ),
        }
    act.charges = len(runtime.standin.resources.charges) if runtime.standin else 0
    say(f"card autopay: {act.outcome}")
    return act


def verify_autopay(act: AutopayAct) -> Checks:
    checks = Checks()
    good, bad = act.units
    checks.check(
        act.problem is None, "the card autopay act ran" + (f" ({act.problem})" if act.problem else "")
    )
    checks.check(act.enrolled == [True, True], f"{good} and {bad} saved a card through Stripe's setup page")
    checks.check(
        act.notices.get(good) == 1 and act.notices.get(bad) == 1,
        f"each got one notice {act.due_date and 'before ' + act.due_date} that the card will be charged",
    )
    g, b = act.outcome.get(good, {}), act.outcome.get(bad, {})
    checks.check(
        len(g.get("paid", [])) == 1 and not g.get("latest_open") and g.get("attempts") == 1,
        f"{good}: charged once on the due date, the bill paid",
    )
    checks.check(
        not b.get("paid") and b.get("latest_open") and b.get("attempts") == 3 and act.told.get(bad) == 1,
        f"{bad}: declined on the due date and on both retry days, then told once; the bill left to the reminders",
    )
    return checks


def autopay_summary_lines(act: AutopayAct) -> list[str]:
    return [f"{unit}: {outcome}" for unit, outcome in act.outcome.items()] + [
        f"charges at Stripe in all: {act.charges}"
    ]
