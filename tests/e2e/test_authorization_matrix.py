"""The authorization matrix (RELIABILITY 21, 22): every route of the route table x every kind of
caller, on the local runtime, answered as the route's audience says.

Generated from the route table: a route added there is in the matrix at once, and a route whose
audience has no rule here, or that has no sample request, fails it. Kinds of caller: no
credentials, a garbage token, an expired token, a token of another user pool, a token with an
altered signature, each staff role, an owner link for another unit, and the credential the
route is meant for (the owner's own link, the provider's signature).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jwt
import pytest
import requests

from infra import manifest
from infra.config import load_config
from infra.local.alipay import AlipayStandIn
from infra.local.jwt_authorizer import TokenIssuer
from infra.local.stripe import sign_payload
from infra.local.wechatpay.keys import aead_encrypt, nonce_str
from propdesk import routes
from propdesk.payments.links import sign_pay_link
from propdesk.services.desk import DeskPayment, record_desk_payment
from propdesk.store.orders import OrderRecord, OrderRepository
from tests.alipay_tools import app_keys
from tests.paytools import make_bill, store_bill

# One worker runs this module, with the one runtime its fixture starts.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_authorization_matrix")]

OWN_UNIT = "A-101"  # imported into the small runtime
OTHER_UNIT = "A-102"
PERIOD = "2027-01"
ROLES = manifest.staff_roles(load_config("demo"))

STAFF_FAILURES = ("anonymous", "garbage_token", "expired_token", "other_pool_token", "altered_signature")
CALLERS = (
    *STAFF_FAILURES,
    *(f"role:{role}" for role in ROLES),
    "owner_link_other_unit",
    "owner_link_own_unit",
    "provider_signature",
)


@dataclass
class Call:
    """The parts of a request a caller decides."""

    token: str = "not-a.token"  # the {token} path parameter of owner pages
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


DESK_PAYMENT = "desk:matrix-0000001"
TOMORROW = (datetime.now(UTC) + timedelta(hours=8, days=1)).date().isoformat()  # in Shanghai

STANDARD_DRAFT = {
    "effective_from": "2030-01-01",
    "legal_basis": {
        "document": {"kind": "filing", "reference": "沪房物备〔2029〕第1号", "issued_by": {"zh-CN": "房管局", "en": "Housing"}},
        "contract_clauses": [{"contract": {"zh-CN": "合同", "en": "Contract"}, "clause": {"zh-CN": "第五章", "en": "ch. 5"}}],
    },
    "items": [{"code": "service", "name": {"zh-CN": "物业服务费", "en": "Service"}, "basis": "per_m2", "rate_minor": 300}],
    "cost_breakdown": [{"name": {"zh-CN": "保洁", "en": "Cleaning"}, "share_bp": 10000}],
}  # fmt: skip

# One sample request per route: what a legitimate caller would send.
SAMPLES: dict[str, dict] = {
    "bill_page": {},
    "start_checkout": {"body": b"lang=en", "content_type": "application/x-www-form-urlencoded"},
    "checkout_return": {"query": {"session_id": "cs_test_1"}},
    "owner_debit_enrol": {
        "body": "bank=招商银行&holder=张伟&account=6222021234567890&consent=yes".encode(),
        "content_type": "application/x-www-form-urlencoded",
    },
    "owner_debit_cancel": {"body": b"lang=en", "content_type": "application/x-www-form-urlencoded"},
    "owner_autopay_start": {"body": b"lang=en", "content_type": "application/x-www-form-urlencoded"},
    "owner_autopay_cancel": {"body": b"lang=en", "content_type": "application/x-www-form-urlencoded"},
    "debit_batch": {"params": {"period": "2027-01"}},
    "debit_results": {
        "body": b"reference,amount,result\nDD202701-0001,1.00,success\n",
        "content_type": "text/csv",
    },
    "owner_book_visit": {
        "body": f"day={TOMORROW}&slot=09:00-11:00".encode(),
        "content_type": "application/x-www-form-urlencoded",
    },
    "book_visit": {
        "body": json.dumps({"unit_id": OWN_UNIT, "day": TOMORROW, "slot": "14:00-16:00"}).encode(),
        "content_type": "application/json",
    },
    "day_visits": {"query": {"day": TOMORROW}},
    "renew_link": {
        "body": b"unit=A-101&contact=13800000000",
        "content_type": "application/x-www-form-urlencoded",
    },
    "list_bills": {"query": {"period": PERIOD}},
    "get_unit_bill": {"params": {"unit_id": OWN_UNIT, "period": PERIOD}},
    "find_accounts": {"query": {"q": OWN_UNIT}},
    "unit_account": {"params": {"unit_id": OWN_UNIT}},
    "import_bank_statement": {
        "body": b"date,amount,payer,memo\n2026-12-18,1.00,matrix,A-101\n",
        "content_type": "text/csv",
    },
    "get_bank_statement": {"params": {"statement_id": "BS00000000000000000000"}},
    "decide_bank_lines": {
        "params": {"statement_id": "BS00000000000000000000"},
        "body": b'{"decisions":[{"line":2,"action":"set_aside"}]}',
        "content_type": "application/json",
    },
    "list_reconciliation": {},
    "list_calls": {},
    "list_unreachable_contacts": {},
    "record_call": {
        "params": {"call_list_id": "CL202701", "line": "1"},
        "body": b'{"outcome":"no_answer"}',
        "content_type": "application/json",
    },
    "create_standard": {
        "body": json.dumps({**STANDARD_DRAFT, "version": "SH-2030-01"}).encode(),
        "content_type": "application/json",
    },
    "replace_standard": {
        "params": {"version": "SH-2030-01"},
        "body": json.dumps(STANDARD_DRAFT).encode(),
        "content_type": "application/json",
    },
    "list_standards": {},
    "get_standard": {"params": {"version": "SH-2026-01"}},
    "publish_standard": {
        "params": {"version": "SH-2030-01"},
        "body": json.dumps(
            {"starts_on": TOMORROW, "ends_on": "2029-12-31", "channels": ["notice_board", "website"]}
        ).encode(),
        "content_type": "application/json",
    },
    "standard_page": {"params": {"version": "SH-2026-01"}, "query": {"lang": "en"}},
    "standard_notice": {"params": {"version": "SH-2026-01"}},
    "resolve_reconciliation": {
        "params": {"reconciliation_id": "RC20261201AL", "line": "1"},
        "body": b'{"note":"matrix check"}',
        "content_type": "application/json",
    },
    "record_desk_payment": {
        "params": {"unit_id": OWN_UNIT},
        "body": b'{"request_id":"matrix-0000001","amount_minor":100,"method":"cash"}',
        "content_type": "application/json",
    },
    "get_payment": {"params": {"payment_id": DESK_PAYMENT}},
    "payment_receipt": {"params": {"payment_id": DESK_PAYMENT}},
    "owner_receipt": {"params": {"payment_id": DESK_PAYMENT}},
    "owner_bill_notice": {"params": {"bill_id": f"{OWN_UNIT}#{PERIOD}"}},
    "short_link": {"params": {"code": "x7Kp2mQ9aZ4"}},
    "owner_invoice": {
        "params": {"payment_id": DESK_PAYMENT},
        "body": b"title=Anna%20Liu",
        "content_type": "application/x-www-form-urlencoded",
    },
    "invoice_queue": {},
    "record_invoice": {
        "params": {"payment_id": DESK_PAYMENT},
        "body": b'{"invoice_no":"3100 0001","title":"Anna Liu"}',
        "content_type": "application/json",
    },
    "payment_queue": {},
    "resolve_payment": {
        "params": {"payment_id": DESK_PAYMENT},
        "body": b'{"action":"keep_credit"}',
        "content_type": "application/json",
    },
    "request_void": {
        "params": {"payment_id": DESK_PAYMENT},
        "body": b'{"reason":"matrix check"}',
        "content_type": "application/json",
    },
    "approve_void": {"params": {"payment_id": DESK_PAYMENT}},
    "cash_up": {},
    "start_refund": {
        "params": {"payment_id": DESK_PAYMENT},
        "body": b'{"request_id":"matrix-refund-01","amount_minor":1,"reason":"matrix check"}',
        "content_type": "application/json",
    },
    "approve_refund": {"params": {"refund_id": "rf_matrix-refund-01"}},
    "period_summary": {"query": {"period": PERIOD}},
    "import_units": {"body": b"unit_id\n", "content_type": "text/csv"},
    "prepare_cycle": {"params": {"period": "2099-01"}},
    "get_cycle": {"params": {"period": "2099-01"}},
    "approve_cycle": {"params": {"period": "2099-01"}},
    "void_cycle": {
        "params": {"period": "2099-01"},
        "body": b'{"reason":"matrix check of a void"}',
        "content_type": "application/json",
    },
    "create_ticket": {
        "body": json.dumps(
            {"kind": "consultation", "category": "fees", "channel": "hotline", "summary": "matrix"}
        ).encode(),
        "content_type": "application/json",
    },
    "get_ticket": {"params": {"ticket_id": "T-0000000000000000000"}},
    "start_order": {"body": b"rail=wechat_pay&lang=en", "content_type": "application/x-www-form-urlencoded"},
    "order_page": {"params": {"order_id": "PD000000000000MATRIX0001"}},
    # The body is the world's: a notification encrypted under the runtime's APIv3 key.
    "wechatpay_notify": {"body": b"{}", "content_type": "application/json"},
    # Likewise: an Alipay notification for an order that is not ours, signed by the stand-in.
    "alipay_notify": {"body": b"", "content_type": "application/x-www-form-urlencoded"},
    "stripe_webhook": {
        "body": b'{"id":"evt_matrix","object":"event","type":"ping","created":1,"livemode":false,'
        b'"data":{"object":{}}}',
        "content_type": "application/json",
    },
}


@dataclass(frozen=True)
class World:
    base: str
    issuer: TokenIssuer
    link_key: bytes
    webhook_secret: str
    bill_id: str
    wechat_body: bytes
    wechat_sign: object  # (body) -> WeChat Pay's signed headers, as the platform signs them
    alipay_signed: bytes  # an Alipay notification for an order not ours, signed with Alipay's key
    alipay_unsigned: bytes  # the same, its signature made with another key


@pytest.fixture(scope="module")
def world(small_runtime) -> World:
    bill = store_bill(make_bill(OWN_UNIT, PERIOD, owner_id="O0001"))
    # A desk payment of the own unit, for the routes that read one (its receipt, a void).
    payment = DeskPayment(OWN_UNIT, 100, "cash", DESK_PAYMENT.split(":", 1)[1], staff_id="matrix-cashier")
    assert record_desk_payment(payment, config=load_config("demo"), now=datetime.now(UTC)).record is not None
    assert small_runtime.issuer is not None
    # An open WeChat Pay order of the own unit (for its page), and a notification for an order
    # that is not ours (accepted when signed by the platform: 204, nothing written).
    now = datetime.now(UTC)
    OrderRepository().add(
        OrderRecord(
            order_id="PD000000000000MATRIX0001",
            rail="wechat_pay",
            unit_id=OWN_UNIT,
            bill_ids=(bill.bill_id,),
            amount_minor=bill.total_minor,
            currency=bill.currency,
            state="open",
            device="desktop",
            created_at=now,
            expires_at=now + timedelta(minutes=30),
        )
    )
    wechat = small_runtime.wechatpay
    resource = aead_encrypt(
        wechat.apiv3_key,
        json.dumps(
            {
                "out_trade_no": "PDNOTOURS0001",
                "trade_state": "SUCCESS",
                "amount": {"total": 1, "currency": "CNY"},
            }
        ),
        "transaction",
    )
    wechat_body = json.dumps(
        {
            "id": "EV-matrix",
            "create_time": now.isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "x",
            "resource": {"original_type": "transaction", **resource},
        }
    ).encode()

    def wechat_sign(body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), nonce_str()
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": wechat.public_key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Wechatpay-Signature": wechat.platform.sign(f"{timestamp}\n{nonce}\n{body.decode()}\n"),
        }

    return World(
        base=small_runtime.base_url,
        issuer=small_runtime.issuer,
        link_key=small_runtime.secrets.link_key.encode("utf-8"),
        webhook_secret=small_runtime.secrets.stripe_webhook_secret,
        bill_id=bill.bill_id,
        wechat_body=wechat_body,
        wechat_sign=wechat_sign,
        alipay_signed=alipay_body(small_runtime.alipay, sign=True),
        alipay_unsigned=alipay_body(small_runtime.alipay, sign=False),
    )


SHANGHAI = ZoneInfo("Asia/Shanghai")


def alipay_body(standin, *, sign: bool) -> bytes:
    params = {
        "notify_time": datetime.now(UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": "2026120200222matrix",
        "app_id": standin.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026120222001400000000000001",
        "out_trade_no": "PDNOTOURS0002",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "1.00",
        "gmt_payment": datetime.now(UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
    }
    signer = standin if sign else AlipayStandIn(app_id=standin.app_id, app_public_key=app_keys().public_pem)
    params["sign"] = signer.sign_notification(params)
    return urlencode(params).encode()


def _altered(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"


def _altered_link(token: str) -> str:
    """The link with one character of its signature changed: not the last one, whose low bits a
    base64 decoder may drop (an "altered" link that decodes to the same signature)."""
    at = len(token) - 8
    return token[:at] + ("B" if token[at] != "B" else "C") + token[at + 1 :]


def _link(world: World, *, unit: str, expires_in: timedelta) -> str:
    return sign_pay_link(
        bill_id=world.bill_id, unit_id=unit, expires_at=datetime.now(UTC) + expires_in, key=world.link_key
    )


def call_for(caller: str, route: routes.Route, world: World) -> Call:
    sample = SAMPLES[route.key]
    body = world.wechat_body if route.key == "wechatpay_notify" else sample.get("body")
    if route.key == "alipay_notify":
        body = world.alipay_signed if caller == "provider_signature" else world.alipay_unsigned
    call = Call(body=body)
    if "content_type" in sample:
        call.headers["Content-Type"] = sample["content_type"]
    if caller == "garbage_token":
        call.headers["Authorization"] = "Bearer garbage"
        call.headers["Stripe-Signature"] = "garbage"
    elif caller == "expired_token":
        call.headers["Authorization"] = "Bearer " + _expired_jwt(world.issuer)
        call.token = _link(world, unit=OWN_UNIT, expires_in=timedelta(seconds=-60))
        if body is not None:
            call.headers["Stripe-Signature"] = sign_payload(
                body.decode(), world.webhook_secret, timestamp=int(time.time()) - 600
            )
    elif caller == "other_pool_token":
        other = TokenIssuer.generate(
            issuer="https://cognito-idp.example/other-pool", audience=world.issuer.audience
        )
        call.headers["Authorization"] = "Bearer " + other.mint(roles=["admin"])
        if body is not None:
            call.headers["Stripe-Signature"] = sign_payload(body.decode(), "whsec_another_account")
    elif caller == "altered_signature":
        call.headers["Authorization"] = "Bearer " + _altered(world.issuer.mint(roles=list(ROLES)))
        call.token = _altered_link(_link(world, unit=OWN_UNIT, expires_in=timedelta(days=1)))
        if body is not None:
            call.headers["Stripe-Signature"] = sign_payload(body.decode(), world.webhook_secret)
            call.body = body + b" "
    elif caller.startswith("role:"):
        call.headers["Authorization"] = "Bearer " + world.issuer.mint(roles=[caller.removeprefix("role:")])
    elif caller == "owner_link_other_unit":
        call.token = _link(world, unit=OTHER_UNIT, expires_in=timedelta(days=1))
        call.headers["Authorization"] = "Bearer " + call.token
    elif caller == "owner_link_own_unit":
        call.token = _link(world, unit=OWN_UNIT, expires_in=timedelta(days=1))
    elif caller == "provider_signature" and body is not None:
        call.headers["Stripe-Signature"] = sign_payload(body.decode(), world.webhook_secret)
        if route.key == "wechatpay_notify":
            call.headers.update(world.wechat_sign(body))  # type: ignore[operator]
    return call


def _expired_jwt(issuer: TokenIssuer) -> str:
    now = int(time.time())
    claims = {
        "sub": "s",
        "iat": now - 7200,
        "exp": now - 3600,
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "cognito:groups": list(ROLES),
    }
    return jwt.encode(claims, issuer.private_key, algorithm="RS256", headers={"kid": issuer.key_id})


# What each audience answers each caller. ALLOWED: past authorization (any answer but 401, 403 and
# the audience's refusal, and never a 5xx).
ALLOWED = "allowed"


def staff_rule(route: routes.Route, caller: str) -> int | str:
    assert isinstance(route.audience, routes.Staff)
    if caller.startswith("role:"):
        return ALLOWED if caller.removeprefix("role:") in route.audience.roles else 403
    return 401  # API Gateway's JWT authorizer (the local gateway mimics it)


def owner_link_rule(route: routes.Route, caller: str) -> int | str:
    return ALLOWED if caller == "owner_link_own_unit" else 404


def provider_rule(route: routes.Route, caller: str) -> int | str:
    if caller == "provider_signature":
        return ALLOWED
    # Alipay reads only the body of a 200: its refusal is the text "fail" (checked below).
    return 200 if route.key == "alipay_notify" else 400


def public_rule(route: routes.Route, caller: str) -> int | str:
    return ALLOWED


RULES = {
    "staff": staff_rule,
    "owner_link": owner_link_rule,
    "provider_signature": provider_rule,
    "public": public_rule,
}
REFUSALS = {"staff": {401, 403}, "owner_link": {404}, "provider_signature": {400}, "public": set()}


def test_every_route_has_a_rule_for_its_audience_and_a_sample_request():
    # A route added to the table without an audience its rule knows, or without a sample, fails here.
    for route in routes.ROUTES:
        assert route.audience.kind in RULES, (
            f"{route.key}: no matrix rule for audience {route.audience.kind!r}"
        )
        assert route.key in SAMPLES, f"{route.key}: add a sample request to SAMPLES"
    assert set(SAMPLES) == {route.key for route in routes.ROUTES}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", routes.ROUTES, ids=lambda route: route.key)
def test_access_21_22_matrix(world, route, caller):
    # GIVEN the route's sample request, as this caller would send it
    call = call_for(caller, route, world)
    sample = SAMPLES[route.key]
    path = route.path.replace("{token}", quote(call.token, safe=""))
    for name, value in sample.get("params", {}).items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    # WHEN it is sent to the local runtime
    response = requests.request(
        route.method,
        world.base + path,
        params=sample.get("query"),
        data=call.body,
        headers=call.headers,
        allow_redirects=False,
        timeout=60,
    )
    # THEN the answer is the one the route's audience gives this caller
    expected = RULES[route.audience.kind](route, caller)
    if expected == ALLOWED:
        assert response.status_code < 500, response.text[:300]
        if response.status_code == 403 and route.audience.kind == "staff":
            # Let through, and refused by the route's own rule (an admin approving their own void):
            # its code says which, and it is not the authorization step's "forbidden".
            assert response.json()["error"] == "self_approval", response.text[:300]
        else:
            assert response.status_code not in REFUSALS[route.audience.kind] | {401, 403}, response.text[:300]
    else:
        assert response.status_code == expected, response.text[:300]
    if route.key == "alipay_notify":
        assert response.text == ("success" if caller == "provider_signature" else "fail")
    if route.audience.kind == "owner_link" and expected == 404:
        # nothing about the bill or its unit is revealed
        assert OWN_UNIT not in response.text and world.bill_id not in response.text
