"""Test helpers for the pay pages, the staff API and the Stripe webhook: Stripe-signed webhook
requests, Stripe events, stored bills and pay tokens. (Events and contexts: ``tests/route_events.py``.)"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from infra.local.stripe import sign_payload
from propdesk.domain.billing import Bill, BillLine, bill_id_for
from propdesk.payments.links import sign_pay_link
from propdesk.store.bills import BillRepository
from tests.route_events import route_event
from tests.testkeys import TEST_LINK_KEY, TEST_WEBHOOK_SECRET


def stripe_signature(
    payload: str | bytes, *, secret: str = TEST_WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """A ``Stripe-Signature`` header for ``payload``, signed as Stripe signs (the stand-in's signer,
    itself checked against the Stripe SDK), with the tests' webhook secret by default."""
    return sign_payload(payload, secret, timestamp)


def checkout_event(
    bill: Bill,
    *,
    event_id: str | None = None,
    event_type: str = "checkout.session.completed",
    payment_intent: str | None = None,
    session_id: str | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
    property_id: str = "demo",
    payment_status: str = "paid",
    created: int | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    """A ``checkout.session.*`` event as Stripe sends it for a session PropDesk created."""
    session_id = session_id or f"cs_test_{uuid.uuid4().hex[:24]}"
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": created if created is not None else int(time.time()),
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": bill.total_minor if amount_minor is None else amount_minor,
                "amount_total": bill.total_minor if amount_minor is None else amount_minor,
                "client_reference_id": bill.bill_id,
                "currency": (currency or bill.currency).lower(),
                "livemode": livemode,
                "metadata": {"property_id": property_id, "unit_id": bill.unit_id, "bill_ids": bill.bill_id},
                "mode": "payment",
                "payment_intent": payment_intent or f"pi_{uuid.uuid4().hex[:24]}",
                "payment_status": payment_status,
                "status": "complete",
            }
        },
    }


def webhook_request(
    payload: str | bytes,
    *,
    signature: str | None = "sign",
    base64_body: bool = False,
    timestamp: int | None = None,
    secret: str = TEST_WEBHOOK_SECRET,
) -> dict[str, Any]:
    """POST /webhooks/stripe carrying ``payload``; ``signature="sign"`` signs it correctly.
    ``base64_body`` sends it base64-encoded, as API Gateway may."""
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0"}
    if signature == "sign":
        headers["stripe-signature"] = stripe_signature(payload, secret=secret, timestamp=timestamp)
    elif signature is not None:
        headers["stripe-signature"] = signature
    event = route_event("stripe_webhook", body=payload, headers=headers)
    if base64_body and not event["isBase64Encoded"]:
        event["body"] = base64.b64encode(event["body"].encode("utf-8")).decode("ascii")
        event["isBase64Encoded"] = True
    return event


def event_body(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def make_bill(
    unit_id: str = "A-101",
    period: str = "2026-03",
    *,
    owner_id: str = "O0001",
    lines: tuple[BillLine, ...] | None = None,
    currency: str = "CNY",
    status: str = "open",
) -> Bill:
    lines = lines or (
        BillLine("service", "per_m2", 280, 8937, 25024),
        BillLine("common_energy", "per_m2", 30, 8937, 2681),
        BillLine("elevator", "per_m2", 45, 8937, 4022),
        BillLine("waste", "per_unit", 1000, 1, 1000),
    )
    return Bill(
        bill_id=bill_id_for(unit_id, period),
        unit_id=unit_id,
        owner_id=owner_id,
        period=period,
        fee_standard_version="SH-2026-01",
        lines=lines,
        total_minor=sum(line.amount_minor for line in lines),
        currency=currency,
        due_date=date(int(period[:4]), int(period[5:]), 15),
        status=status,
        issued_at=datetime(2026, 2, 13, 1, 0, tzinfo=UTC),
    )


def store_bill(bill: Bill | None = None, **kwargs: Any) -> Bill:
    """Issue ``bill`` on its unit's account as the notice worker does (credit applied first)."""
    from propdesk.services.notices import issuance
    from propdesk.store.accounts import AccountStore, PostResult

    bill = bill or make_bill(**kwargs)
    accounts = AccountStore()
    posting = issuance(bill, accounts.get(bill.unit_id), owner_id=bill.owner_id, now=bill.issued_at)
    result = accounts.post(posting, now=bill.issued_at)
    assert result is PostResult.POSTED, (result, bill.bill_id)
    stored = BillRepository().get(bill.bill_id)
    assert stored is not None
    return stored


def pay_token(
    bill: Bill,
    *,
    unit_id: str | None = None,
    expires_in: timedelta = timedelta(days=30),
    now: datetime | None = None,
    owner_id: str | None = None,
) -> str:
    now = now or datetime.now(UTC)
    return sign_pay_link(
        bill_id=bill.bill_id,
        unit_id=unit_id or bill.unit_id,
        expires_at=now + expires_in,
        key=TEST_LINK_KEY.encode("utf-8"),
        owner_id=owner_id,
    )


class FakeStripe:
    """A tiny local stand-in for Stripe's ``/v1/checkout/sessions`` endpoint (tests only).

    Records each request's form fields and path; answers with a session (or an expired one for
    ``/v1/checkout/sessions/<id>/expire``), or with ``fail_status``.
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qsl

        fake = self
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.auth_headers: list[str] = []
        self.fail_status: int | None = None

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
                fake.requests.append(form)
                fake.paths.append(self.path)
                fake.auth_headers.append(self.headers.get("Authorization") or "")
                expiring = re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", self.path)
                if expiring:
                    self._send(
                        200, {"id": expiring.group(1), "object": "checkout.session", "status": "expired"}
                    )
                elif self.path != "/v1/checkout/sessions":
                    self._send(404, {"error": {"type": "invalid_request_error", "message": "no route"}})
                elif fake.fail_status:
                    self._send(fake.fail_status, {"error": {"type": "api_error", "message": "down"}})
                else:
                    session_id = f"cs_test_{len(fake.requests):04d}"
                    self._send(
                        200,
                        {
                            "id": session_id,
                            "object": "checkout.session",
                            "url": f"{fake.url}/c/pay/{session_id}",
                            "status": "open",
                            "payment_status": "unpaid",
                        },
                    )

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
