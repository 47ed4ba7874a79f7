"""End to end on the local runtime: notice schedule -> bills -> notices with pay links -> the
owner's account page -> the property's rails (the Shanghai demo's: WeChat Pay's QR code or H5
page, Alipay's cashier, on the stand-ins) -> signed notification -> bill paid once -> receipt.

Plus the bad-input answers the issue asks for: bad webhook signature (400, nothing written),
altered pay token (404, nothing revealed), staff route without token (401) or with a role
without the right (403).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest

from infra.local import paying
from infra.local.stripe import sign_payload
from tests.e2e.localruntime import admin_headers, links_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_thin_path")]

CJK = re.compile(r"[\u4e00-\u9fff]")
PAYERS = 6  # owners who pay in this test (the demo pays for most of them)


def _bill(runtime, http, bill_id):
    unit_id, period = bill_id.rsplit("#", 1)
    response = http.get(
        f"{runtime.base_url}/staff/units/{unit_id}/bills/{period}",  # nothing to escape
        headers=admin_headers(runtime),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _period_bills(runtime, http, period):
    response = http.get(
        f"{runtime.base_url}/staff/bills",
        params={"period": period},
        headers=admin_headers(runtime),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()["bills"]


def _pay(runtime, token, unit_id, way):
    """The owner's clicks: account page, the rail's button, the provider's page (or the QR code,
    scanned), back to our page."""
    payment = paying.pay(runtime.base_url, token, paying.OnlinePayment(unit_id, way), runtime)
    assert payment.ok, (payment.steps, payment.error)
    return payment


def test_notice_run_issues_one_bill_per_unit(runtime, http, notice_day, owners):
    # THEN the notice schedule fired and every unit got exactly one bill for the period
    assert any(f["schedule"] == "notice-run" for f in notice_day.fired)
    bills = _period_bills(runtime, http, notice_day.period)
    assert sorted(b["unit_id"] for b in bills) == sorted(o["unit_id"] for o in owners)
    assert {b["bill_id"] for b in bills} == {f"{o['unit_id']}#{notice_day.period}" for o in owners}
    assert all(b["status"] == "open" for b in bills)


def test_notices_reach_owners_once_with_a_pay_link(runtime, notice_day, owners):
    box = notice_day.outbox
    reached = [o for o in owners if links_in(box, email=o["email"] or None, phone=o["phone"] or None)]
    with_email = [o for o in owners if o["email"]]
    # every owner with an email address got the notice with a pay link
    assert {o["unit_id"] for o in with_email} <= {o["unit_id"] for o in reached}
    # no message went out twice
    sent = Counter((m["to"][0], m["subject"]) for m in box["email"]) + Counter(
        (s["to"], s["text"]) for s in box["sms"]
    )
    assert max(sent.values()) == 1


def test_the_notice_is_in_the_owner_s_locale(runtime, notice_day, owners):
    box = notice_day.outbox
    for locale, expect_cjk in (("en", False), ("zh-CN", True)):
        owner = next(o for o in owners if o["locale"] == locale and o["email"])
        mails = [m for m in box["email"] if owner["email"] in m["to"]]
        assert len(mails) == 1
        assert bool(CJK.search(mails[0]["subject"])) is expect_cjk, (locale, mails[0]["subject"])


def test_owners_pay_through_checkout_and_get_one_numbered_receipt(runtime, http, notice_day, owners):
    # GIVEN owners with an email address, a few of whom pay
    candidates = [o for o in owners if o["email"]]
    payers, others = candidates[:PAYERS], candidates[PAYERS : PAYERS * 2]
    before = json.loads(json.dumps(notice_day.outbox))
    # WHEN each payer opens the link from the notice and pays, each way the property offers in turn
    ways = paying.ways_of(runtime.config.payment.rails)
    assert {w.rail for w in ways} == {"wechat_pay", "alipay"}  # Shanghai: its own market's rails
    for index, owner in enumerate(payers):
        (token,) = set(links_in(before, email=owner["email"]))
        _pay(runtime, token, owner["unit_id"], ways[index % len(ways)])
    assert runtime.wait_until_drained(120)
    # THEN every payer's bill is paid once, with a distinct receipt number
    receipts = []
    for owner in payers:
        bill = _bill(runtime, http, f"{owner['unit_id']}#{notice_day.period}")
        assert bill["status"] == "paid", bill
        assert bill["paid_minor"] == bill["total_minor"]
        receipts.append(bill["receipt_no"])
    assert len(set(receipts)) == PAYERS and all(receipts)
    sequence = sorted(int(r.rsplit("-", 1)[1]) for r in receipts)
    assert sequence == list(range(sequence[0], sequence[0] + PAYERS))
    # AND every notification was delivered and acknowledged in the provider's format
    deliveries = [*runtime.wechatpay.deliveries, *runtime.alipay.deliveries]
    assert len(deliveries) >= PAYERS
    assert all(d.delivered for d in deliveries)
    # AND each payer got a receipt message; the others got nothing new
    after = runtime_outbox(runtime, http)
    for owner in payers:
        new = [m for m in after["email"] if owner["email"] in m["to"]]
        assert len(new) == 2, owner["unit_id"]  # the notice and the receipt
        receipt_mail = next(m for m in new if m["id"] not in {x["id"] for x in before["email"]})
        bill_receipt = next(r for r in receipts if r in receipt_mail["body"] or r in receipt_mail["subject"])
        assert bill_receipt
    for owner in others:
        assert len([m for m in after["email"] if owner["email"] in m["to"]]) == 1
        assert _bill(runtime, http, f"{owner['unit_id']}#{notice_day.period}")["status"] == "open"


def runtime_outbox(runtime, http):
    return http.get(f"{runtime.base_url}/_local/outbox", params={"format": "json"}, timeout=60).json()


def _completed_event(bill_id, amount, currency):
    return {
        "id": f"evt_e2e_{int(time.time() * 1000)}",
        "object": "event",
        "type": "checkout.session.completed",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": "cs_test_forged",
                "object": "checkout.session",
                "amount_total": amount,
                "currency": currency,
                "client_reference_id": bill_id,
                "metadata": {"bill_id": bill_id},
                "mode": "payment",
                "payment_intent": "pi_forged",
                "payment_status": "paid",
                "status": "complete",
                "livemode": False,
            }
        },
    }


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(runtime, http, notice_day, owners):
    owner = owners[-1]
    bill_id = f"{owner['unit_id']}#{notice_day.period}"
    bill = _bill(runtime, http, bill_id)
    assert bill["status"] == "open"
    payload = json.dumps(_completed_event(bill_id, bill["total_minor"], bill["currency"].lower()))
    url = f"{runtime.base_url}/webhooks/stripe"
    for signature in (
        sign_payload(payload, "whsec_not_the_local_secret"),
        "t=1,v1=deadbeef",
        "",
        sign_payload(payload + " ", runtime.secrets.stripe_webhook_secret),  # signed another body
    ):
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["Stripe-Signature"] = signature
        response = http.post(url, data=payload.encode(), headers=headers, timeout=30)
        assert response.status_code == 400, response.text
    assert _bill(runtime, http, bill_id)["status"] == "open"
    # AND the same event correctly signed would be accepted (the refusals were about the signature)
    good = http.post(
        url,
        data=payload.encode(),
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign_payload(payload, runtime.secrets.stripe_webhook_secret),
        },
        timeout=30,
    )
    assert good.status_code == 200, good.text


def test_an_altered_pay_token_is_404_and_reveals_nothing(runtime, http, notice_day, owners):
    owner = next(o for o in owners if o["email"])
    (token,) = set(links_in(notice_day.outbox, email=owner["email"]))
    payload, signature = token.split(".")
    altered = [
        f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{payload[:-2]}{payload[-1]}{payload[-2]}.{signature}",
        "not-a-token",
    ]
    for bad in altered:
        for method, path in (("GET", f"/pay/{bad}"), ("POST", f"/pay/{bad}/checkout")):
            response = http.request(method, f"{runtime.base_url}{path}", allow_redirects=False, timeout=30)
            assert response.status_code == 404, (bad, response.status_code)
            assert owner["unit_id"] not in response.text
            assert owner["owner_name"] not in response.text


def test_staff_routes_need_a_token_and_the_right_role(runtime, http):
    base = runtime.base_url
    assert http.get(f"{base}/staff/summary", params={"period": "2027-01"}, timeout=30).status_code == 401
    expired = runtime.mint_token(["admin"], ttl_s=60)
    runtime.advance(by=__import__("datetime").timedelta(minutes=2))
    stale = http.get(
        f"{base}/staff/summary",
        params={"period": "2027-01"},
        headers={"Authorization": f"Bearer {expired}"},
        timeout=30,
    )
    assert stale.status_code == 401
    cleaner = admin_headers(runtime, role="dept-cleaning")
    assert (
        http.get(
            f"{base}/staff/summary", params={"period": "2027-01"}, headers=cleaner, timeout=30
        ).status_code
        == 403
    )
    cashier = admin_headers(runtime, role="cashier")
    assert (
        http.get(
            f"{base}/staff/summary", params={"period": "2027-01"}, headers=cashier, timeout=30
        ).status_code
        == 200
    )
    refused = http.post(
        f"{base}/staff/units/import",
        data=b"unit_id\n",
        headers={**cashier, "Content-Type": "text/csv"},
        timeout=30,
    )
    assert refused.status_code == 403


def test_local_pages_docs_clock_and_tokens(runtime, http):
    base = runtime.base_url
    docs = http.get(f"{base}/_local/docs", timeout=30)
    assert docs.status_code == 200
    for asset in (
        "/_local/docs/swagger-ui-bundle.js",
        "/_local/docs/swagger-ui.css",
        "/_local/docs/start.js",
    ):
        assert asset in docs.text
        assert http.get(f"{base}{asset}", timeout=30).status_code == 200
    from propdesk.routes import ROUTES

    openapi = http.get(f"{base}/_local/openapi.json", timeout=30).json()
    for route in ROUTES:
        operation = openapi["paths"][route.path][route.method.lower()]
        assert operation["summary"] == route.summary
        assert operation["x-propdesk-audience"]["kind"] == route.audience.kind
        assert route.who in operation["description"]
    clock = http.get(f"{base}/_local/clock", timeout=30).json()
    assert {s["schedule"] for s in clock["schedules"]} >= {"notice-run"}
    assert http.post(f"{base}/_local/clock", json={"advance": "soon"}, timeout=30).status_code == 400
    assert http.post(f"{base}/_local/token", json={"role": "superuser"}, timeout=30).status_code == 400
    assert http.get(f"{base}/_local/outbox", timeout=30).headers["Content-Type"].startswith("text/html")
    assert http.get(f"{base}/no/such/route", timeout=30).status_code == 404
