"""``make demo``'s opening and its notices up close (issue 8): the manager publishes a corrected fee
standard the way the rules require, the owners are told, and the first cycle bills under it; then
one owner's notice is followed through its SMS short link and its printable PDF, and a bounced
address and a failed number end up on staff's list of owners the messages no longer reach.

Everything goes over HTTP as people would: the staff API with bearer tokens, the public page with
no login, the owner's links from the outbox; the runtime's ``/_local`` endpoints only play the
providers' part (SES reporting a bounce, SNS logging a failed SMS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import requests

from infra.local.demo import Checks, Owner, StaffClient, drain_queues, expect
from infra.local.runtime import LocalRuntime
from propdesk.config import PropertyConfig
from propdesk.domain.calendar import first_day, next_period, next_to_notice

CHANNELS = ["notice_board", "building_doors", "website", "owner_message"]
SHORT_LINK_RE = re.compile(r"https?://[^\s]+/p/([A-Za-z0-9]+)")
SERVICE_RAISE_MINOR = 15  # the correction: 0.15 more per m² for the service item


@dataclass
class StandardAct:
    version: str = ""
    effective_from: str = ""
    page: str = ""
    checks: Checks = field(default_factory=Checks)
    lines: list[str] = field(default_factory=list)


def effective_date(config: PropertyConfig, today: date) -> date:
    """The first period the correction can govern: its first day at least the publication's
    minimum length after today (the notice given to owners, 公示)."""
    period = next_to_notice(today, config.billing)
    while (first_day(period) - today).days < config.billing.standard_publication_days:
        period = next_period(period)
    return first_day(period)


def draft_body(config: PropertyConfig, version: str, effective: date) -> dict[str, Any]:
    """The launch standard with the service item's rate raised: items, legal basis and the cost
    breakdown in the form the staff API takes."""
    launch = config.fee_standard
    items = [
        {
            "code": item.code,
            "name": {"zh-CN": item.name.zh_CN, "en": item.name.en},
            "basis": item.basis,
            "rate_minor": item.rate_minor + (SERVICE_RAISE_MINOR if item.code == "service" else 0),
            "requires_elevator": item.requires_elevator,
            **({"buildings": list(item.buildings)} if item.buildings else {}),
        }
        for item in launch.items
    ]
    shares = [(item, item.cost_share_bp) for item in launch.items if item.cost_share_bp]
    if sum(share for _, share in shares) == 10_000:
        breakdown = [
            {"name": {"zh-CN": item.name.zh_CN, "en": item.name.en}, "share_bp": share, "item": item.code}
            for item, share in shares
        ]
    else:
        breakdown = [{"name": {"zh-CN": "物业服务成本", "en": "Cost of the services"}, "share_bp": 10_000}]
    return {
        "version": version,
        "effective_from": effective.isoformat(),
        "legal_basis": {
            "document": {
                "kind": "filing",
                "reference": launch.legal_basis[0][:120],
                "issued_by": {"zh-CN": "区房屋管理局", "en": "District housing administration"},
            },
            "contract_clauses": [
                {
                    "contract": {"zh-CN": "前期物业服务合同", "en": "Property-service contract"},
                    "clause": {"zh-CN": "第五章 收费条款", "en": "chapter 5, fee clauses"},
                }
            ],
        },
        "items": items,
        "cost_breakdown": breakdown,
    }


def publish_act(
    config: PropertyConfig,
    *,
    runtime: LocalRuntime,
    http: requests.Session,
    owners: list[Owner],
    say: Callable[[str], None],
) -> StandardAct:
    """Draft the correction, have the API refuse what it must, publish it, read what owners see."""
    act = StandardAct()
    base = runtime.base_url
    admin = StaffClient(base, role="admin", sub="demo-manager")
    today = runtime.clock.now().astimezone(config.tz).date()
    effective = effective_date(config, today)
    prefix = config.fee_standard.version.split("-")[0]
    act.version, act.effective_from = f"{prefix}-{effective:%Y-%m}", effective.isoformat()
    body = draft_body(config, act.version, effective)

    # Bad drafts first: each refused with a clear error, none stored.
    wrong_shares = {**body, "cost_breakdown": [{**body["cost_breakdown"][0], "share_bp": 9_000}]}
    negative = {**body, "items": [{**body["items"][0], "rate_minor": -1}, *body["items"][1:]]}
    unknown_locale = {
        **body,
        "items": [{**body["items"][0], "name": {"zh-CN": "物业服务费", "ja": "管理費"}}],
    }
    refused = {
        "shares not summing to 100 %": admin.post("/staff/fee-standards", wrong_shares).status_code,
        "a negative rate": admin.post("/staff/fee-standards", negative).status_code,
        "an unknown locale": admin.post("/staff/fee-standards", unknown_locale).status_code,
    }
    listed = expect(admin.get("/staff/fee-standards"), 200)
    act.checks.check(
        set(refused.values()) == {422} and all(v["version"] != act.version for v in listed["versions"]),
        "a draft with "
        + ", ".join(f"{what} ({status})" for what, status in refused.items())
        + " is refused; none stored",
    )

    expect(admin.post("/staff/fee-standards", body), 201)
    ends = effective - timedelta(days=1)
    publication = {"starts_on": today.isoformat(), "ends_on": ends.isoformat(), "channels": CHANNELS}
    published = expect(admin.post(f"/staff/fee-standards/{act.version}/publication", publication), 200)
    unchanged = {key: value for key, value in body.items() if key != "version"}
    edit = admin.session.put(f"{base}/staff/fee-standards/{act.version}", json=unchanged, timeout=60)
    again = admin.post(f"/staff/fee-standards/{act.version}/publication", publication)
    act.checks.check(
        published.get("status") == "published"
        and edit.status_code == 409
        and edit.json().get("error") == "standard_published"
        and again.status_code == 409,
        f"{act.version} published ({today} to {ends}, {', '.join(CHANNELS)}); an edit and a second "
        f"publication are refused ({edit.status_code}, {again.status_code})",
    )
    drain_queues(http, base)

    act.page = f"{base}/standards/{act.version}"
    pages = {lang: http.get(act.page, params={"lang": lang}, timeout=60) for lang in ("zh-CN", "en")}
    notice = http.get(f"{act.page}/notice", params={"lang": "zh-CN"}, timeout=60)
    act.checks.check(
        all(p.status_code == 200 and act.version in p.text for p in pages.values())
        and notice.status_code == 200
        and notice.content.startswith(b"%PDF"),
        f"the public page (zh-CN and en, no login) and the printable A4 notice ({len(notice.content):,} bytes)",
    )
    box = expect(http.get(f"{base}/_local/outbox", params={"format": "json"}, timeout=60), 200)
    # An SMS due in quiet hours (the demo may start in a Shanghai evening) is held until 08:00:
    # its owner is told then, when the clock moves on.
    reached = {o.unit_id for o in owners if told(box, o, act.version) or held(o, act.version)}
    reachable = {o.unit_id for o in owners if o.email or (o.phone and o.sms_consent)}
    act.checks.check(
        reached == reachable,
        f"every owner a message can reach is told of {act.version} ({len(reached)} of {len(owners)})",
    )
    act.lines = [
        f"fee standard  {act.version}   published {today}, in force from {act.effective_from}; page {act.page}",
        f"              printable notice {act.page}/notice; {len(reached)} owners told",
    ]
    say(
        f"fee standard {act.version} published (in force from {act.effective_from}); {len(reached)} owners told"
    )
    return act


def held(owner: Owner, version: str) -> bool:
    """Whether the announcement to ``owner`` waits for the end of quiet hours."""
    from propdesk.store.models import MessageItem

    try:
        return MessageItem.get(f"standard_published#{version}#{owner.owner_id}").status == "held"
    except MessageItem.DoesNotExist:
        return False


def told(box: dict[str, Any], owner: Owner, version: str) -> bool:
    """Whether the outbox holds the announcement of ``version`` for ``owner``."""
    mails = (m for m in box["email"] if owner.email and owner.email.lower() in (a.lower() for a in m["to"]))
    texts = (s for s in box["sms"] if s["to"] == owner.phone)
    return any(version in m["body"] for m in mails) or any(version in s["text"] for s in texts)


@dataclass
class NoticeAct:
    checks: Checks = field(default_factory=Checks)
    lines: list[str] = field(default_factory=list)


def notice_sms(owner: Owner, period: str, by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The SMS of ``owner``'s notice for ``period``, found by the provider id its message record
    keeps (the outbox knows texts, not templates)."""
    from propdesk.store.models import MessageItem

    try:
        record = MessageItem.get(f"bill_notice#{owner.unit_id}#{period}")
    except MessageItem.DoesNotExist:
        return []
    sent = by_id.get(record.sms_id or "")
    return [sent] if sent and SHORT_LINK_RE.search(sent["text"]) else []


def notice_act(
    config: PropertyConfig,
    *,
    runtime: LocalRuntime,
    http: requests.Session,
    owners: list[Owner],
    period: str,
    version: str,
    say: Callable[[str], None],
) -> NoticeAct:
    """One owner's notice up close: the SMS's short link, the printable notice, the e-mail's
    standard version; then a bounced address and a failed number on staff's list."""
    act = NoticeAct()
    base = runtime.base_url
    box = expect(http.get(f"{base}/_local/outbox", params={"format": "json"}, timeout=60), 200)
    by_id = {s["id"]: s for s in box["sms"]}
    found = [
        (owner, sms)
        for owner in owners
        if owner.phone and owner.sms_consent and owner.locale == config.default_locale
        for sms in notice_sms(owner, period, by_id)
    ]
    if not found:
        act.checks.check(False, f"an SMS notice of {period} with a short link")
        return act
    owner, sms = found[0]
    match = SHORT_LINK_RE.search(sms["text"])
    assert match is not None
    opened = http.get(f"{base}/p/{match.group(1)}", allow_redirects=False, timeout=60)
    target = opened.headers.get("Location", "")
    wrong = http.get(f"{base}/p/{'x' * len(match.group(1))}", allow_redirects=False, timeout=60)
    act.checks.check(
        len(sms["text"]) <= 70 or config.default_locale != "zh-CN",
        f"the notice SMS is one segment: {len(sms['text'])} characters",
    )
    act.checks.check(
        opened.status_code == 303 and "/pay/" in target and wrong.status_code == 404,
        f"its short link /p/{match.group(1)} opens the account page ({opened.status_code}); a wrong code "
        f"is answered as an expired link ({wrong.status_code})",
    )
    token = target.rsplit("/pay/", 1)[-1].split("?")[0]
    pdf = http.get(f"{base}/pay/{token}/bills/{owner.unit_id}%23{period}/notice", timeout=60)
    act.checks.check(
        pdf.status_code == 200 and pdf.content.startswith(b"%PDF"),
        f"the printable notice of {owner.unit_id} for {period} ({len(pdf.content):,} bytes, A4)",
    )
    mails = [m for m in box["email"] if period in m["subject"] or version in m["body"]]
    act.checks.check(
        any(f"/standards/{version}" in m["body"] for m in mails),
        f"the notice e-mail names the standard {version} with a link to its public page",
    )

    # Providers report back: SES a permanent bounce, SNS a failed SMS.
    bounced = next(o for o in owners if o.email and o.phone and o.unit_id != owner.unit_id)
    failed = next(
        o for o in owners if o.phone and o.sms_consent and o.unit_id not in (owner.unit_id, bounced.unit_id)
    )
    expect(
        http.post(f"{base}/_local/ses/feedback", json={"to": bounced.email, "kind": "bounce"}, timeout=60),
        200,
    )
    expect(
        http.post(
            f"{base}/_local/sms/failure",
            json={"to": failed.phone, "response": "Invalid phone number"},
            timeout=60,
        ),
        200,
    )
    drain_queues(http, base)
    staff = StaffClient(base, role="agent", sub="demo-agent")
    listed = expect(staff.get("/staff/contacts/unreachable"), 200)
    marked = {
        (unit, channel)
        for item in listed.get("items", [])
        for unit in item["unit_ids"]
        for channel, mark in (("email", item["email_mark"]), ("sms", item["phone_mark"]))
        if mark
    }
    act.checks.check(
        (bounced.unit_id, "email") in marked and (failed.unit_id, "sms") in marked,
        f"a bounced address ({bounced.unit_id}) and a failed number ({failed.unit_id}) are on staff's list "
        f"of unreachable contacts ({len(marked)} listed)",
    )
    act.lines = [
        f"notice        SMS {len(sms['text'])} characters: {sms['text']}",
        f"              {owner.unit_id}'s printable notice: /pay/…/bills/{owner.unit_id}%23{period}/notice",
        f"unreachable   {', '.join(f'{u} ({c})' for u, c in sorted(marked))}",
    ]
    say(f"notice checked up close ({owner.unit_id}); unreachable contacts listed: {len(marked)}")
    return act
