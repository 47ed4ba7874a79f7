"""A local stand-in for Stripe Checkout: the part of Stripe's REST API the product calls, a
hosted checkout page, and signed webhooks.

The real ``stripe`` SDK talks to it (the functions get ``STRIPE_API_BASE``). It serves
``POST /v1/checkout/sessions`` (form-encoded, nested keys as the SDK sends them),
``GET /v1/checkout/sessions/{id}``, ``GET /v1/checkout/sessions/{id}/line_items``,
``POST /v1/checkout/sessions/{id}/expire`` and ``GET /v1/payment_intents/{id}``, with
Stripe-shaped JSON errors. ``GET /checkout/{id}`` is the checkout page; its Pay button
(``POST /checkout/{id}/pay``) completes the session, sends a ``checkout.session.completed``
event signed like Stripe (``Stripe-Signature: t=...,v1=...``) to the webhook URL, retries a
failed delivery a few times, and redirects the owner to the session's ``success_url``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("propdesk.local.stripe")

API_VERSION = "2026-10-28.endive"  # the version the pinned SDK (stripe 16.1.0) speaks
# Stripe allows a Checkout Session to expire between 30 minutes and 24 hours after creation.
MIN_EXPIRY_S = 30 * 60
MAX_EXPIRY_S = 24 * 60 * 60
# Currencies whose amounts have no minor unit (Stripe's list, those we might meet).
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "pyg", "xaf", "xof"}


class StripeError(Exception):
    def __init__(
        self, message: str, *, status: int = 400, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.type = "invalid_request_error"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": str(self)}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding to nested values: ``a[b][0][c]=x`` -> ``{"a": {"b": [{"c": "x"}]}}``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + ([part.rstrip("]") for part in ("[" + rest).split("[")[1:]] if rest else [])
        if not head or any(part == "" for part in path):
            raise StripeError(f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError(f"Invalid array or hash: {key}", param=key)
        if isinstance(node.get(path[-1]), dict):
            raise StripeError(f"Invalid array or hash: {key}", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def http_post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST and return the status and the start of the body; status 0 if nothing answered."""
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local URL
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}"


def format_amount(minor: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL:
        return f"{minor:,} {currency.upper()}"
    return f"{minor // 100:,}.{minor % 100:02d} {currency.upper()}"


def _int(value: Any, param: str, *, minimum: int | None = None) -> int:
    try:
        number = int(str(value))
    except ValueError as exc:
        raise StripeError(f"Invalid integer: {value}", param=param) from exc
    if minimum is not None and number < minimum:
        raise StripeError(f"{param} must be at least {minimum}.", param=param)
    return number


def _metadata(value: Any, param: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise StripeError("Invalid object", param=param)
    if len(value) > 50:
        raise StripeError("Metadata can have at most 50 keys.", param=param)
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > 40 or len(item) > 500:
            raise StripeError(f"Invalid metadata value for {key!r}.", param=f"{param}[{key}]")
    return dict(value)


@dataclass
class Session:
    data: dict[str, Any]
    line_items: list[dict[str, Any]]
    payment_intent_metadata: dict[str, str]

    @property
    def id(self) -> str:
        return self.data["id"]


@dataclass
class Delivery:
    event_id: str
    session_id: str
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(200 <= a.get("status", 0) < 300 for a in self.attempts)


class StripeStandIn:
    """The stand-in's state and behaviour; ``serve()`` puts it on an HTTP port."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        webhook_url: str | None = None,
        retry_delays_s: tuple[float, ...] = (1, 2, 4, 8),
        post: Callable[[str, bytes, dict[str, str]], tuple[int, str]] | None = None,
    ) -> None:
        self._post = post or http_post
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.retry_delays_s = retry_delays_s
        self.base_url = ""
        self.sessions: dict[str, Session] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        self._idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- REST API -------------------------------------------------------------------------

    def check_key(self, authorization: str | None) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeError(
                "You did not provide an API key. Provide it in the Authorization header (Bearer auth).",
                status=401,
            )
        if not hmac.compare_digest(key.strip(), self.api_key):
            masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            raise StripeError(f"Invalid API Key provided: {masked}", status=401, code="api_key_invalid")

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        mode = params.get("mode")
        if not mode:
            raise StripeError("Missing required param: mode.", code="parameter_missing", param="mode")
        if mode != "payment":
            raise StripeError(f"The stand-in supports mode=payment only, not {mode!r}.", param="mode")
        success_url = params.get("success_url")
        if not success_url:
            raise StripeError(
                "Missing required param: success_url.", code="parameter_missing", param="success_url"
            )
        for name in ("success_url", "cancel_url"):
            value = params.get(name)
            if value and urlsplit(value).scheme not in ("http", "https"):
                raise StripeError("Not a valid URL", code="url_invalid", param=name)
        raw_items = params.get("line_items")
        if not raw_items:
            raise StripeError(
                "Missing required param: line_items.", code="parameter_missing", param="line_items"
            )
        if not isinstance(raw_items, list):
            raise StripeError("Invalid array", param="line_items")
        items, currency = self._line_items(raw_items)
        expires_at = now + MAX_EXPIRY_S
        if params.get("expires_at") not in (None, ""):
            expires_at = _int(params["expires_at"], "expires_at")
            # A few seconds of slack for the time between the caller's clock read and ours.
            if not now + MIN_EXPIRY_S - 5 <= expires_at <= now + MAX_EXPIRY_S + 5:
                raise StripeError(
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from"
                    " Checkout Session creation.",
                    param="expires_at",
                )
        client_reference_id = params.get("client_reference_id")
        if client_reference_id is not None and not 1 <= len(client_reference_id) <= 200:
            raise StripeError("client_reference_id must be 1-200 characters.", param="client_reference_id")
        methods = params.get("payment_method_types") or ["card"]
        if not isinstance(methods, list):
            raise StripeError("Invalid array", param="payment_method_types")
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise StripeError("Invalid object", param="payment_intent_data")
        session_id = "cs_test_" + secrets.token_urlsafe(40).replace("-", "").replace("_", "")[:58]
        amount = sum(item["amount_total"] for item in items)
        data = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": client_reference_id,
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": methods,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": success_url,
            "url": f"{self.base_url}/checkout/{session_id}",
        }
        session = Session(
            data=data,
            line_items=items,
            payment_intent_metadata=_metadata(intent_data.get("metadata"), "payment_intent_data[metadata]"),
        )
        with self._lock:
            self.sessions[session_id] = session
        return dict(data)

    def _line_items(self, raw_items: list[Any]) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        currency: str | None = None
        for index, raw in enumerate(raw_items):
            param = f"line_items[{index}]"
            if not isinstance(raw, dict):
                raise StripeError("Invalid object", param=param)
            if raw.get("price"):
                raise StripeError(
                    f"No such price: '{raw['price']}'",
                    status=400,
                    code="resource_missing",
                    param=f"{param}[price]",
                )
            price = raw.get("price_data")
            if not isinstance(price, dict):
                raise StripeError(
                    "You must specify either `price` or `price_data` for each line item.",
                    code="parameter_missing",
                    param=f"{param}[price_data]",
                )
            item_currency = str(price.get("currency") or "").lower()
            if not item_currency:
                raise StripeError(
                    "Missing required param: currency.",
                    code="parameter_missing",
                    param=f"{param}[price_data][currency]",
                )
            if currency is not None and item_currency != currency:
                raise StripeError(
                    "All line items must have the same currency.", param=f"{param}[price_data][currency]"
                )
            currency = item_currency
            if price.get("unit_amount") in (None, ""):
                raise StripeError(
                    "Missing required param: unit_amount.",
                    code="parameter_missing",
                    param=f"{param}[price_data][unit_amount]",
                )
            unit_amount = _int(price["unit_amount"], f"{param}[price_data][unit_amount]", minimum=0)
            product = price.get("product_data")
            if not isinstance(product, dict) or not product.get("name"):
                raise StripeError(
                    "Missing required param: product_data[name].",
                    code="parameter_missing",
                    param=f"{param}[price_data][product_data][name]",
                )
            quantity = _int(raw.get("quantity", 1), f"{param}[quantity]", minimum=1)
            items.append(
                {
                    "id": "li_" + secrets.token_hex(12),
                    "object": "item",
                    "description": product["name"],
                    "currency": item_currency,
                    "quantity": quantity,
                    "amount_subtotal": unit_amount * quantity,
                    "amount_total": unit_amount * quantity,
                    "price": {"object": "price", "currency": item_currency, "unit_amount": unit_amount},
                }
            )
        if currency is None:
            raise StripeError(
                "Missing required param: line_items.", code="parameter_missing", param="line_items"
            )
        return items, currency

    def session(self, session_id: str) -> Session:
        with self._lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise StripeError(
                f"No such checkout.session: '{session_id}'", status=404, code="resource_missing", param="id"
            )
        self._expire_if_due(session)
        return session

    def _expire_if_due(self, session: Session) -> None:
        with self._lock:
            if session.data["status"] == "open" and int(time.time()) >= session.data["expires_at"]:
                session.data["status"] = "expired"

    def expire(self, session_id: str) -> dict[str, Any]:
        session = self.session(session_id)
        with self._lock:
            if session.data["status"] != "open":
                raise StripeError(
                    f"Only Checkout Sessions with a status of `open` can be expired; this one is"
                    f" `{session.data['status']}`.",
                )
            session.data["status"] = "expired"
            return dict(session.data)

    # --- checkout page and payment ----------------------------------------------------------

    def pay(self, session_id: str) -> tuple[Session, Delivery]:
        """Complete the session as a successful card payment and send the webhook."""
        session = self.session(session_id)
        with self._lock:
            if session.data["status"] != "open":
                raise StripeError(f"This Checkout Session is {session.data['status']}.", status=409)
            now = int(time.time())
            intent_id = "pi_" + secrets.token_hex(12)
            self.payment_intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session.data["amount_total"],
                "amount_received": session.data["amount_total"],
                "currency": session.data["currency"],
                "created": now,
                "livemode": False,
                "metadata": dict(session.payment_intent_metadata),
                "status": "succeeded",
                "latest_charge": "ch_" + secrets.token_hex(12),
            }
            session.data.update(payment_intent=intent_id, status="complete", payment_status="paid")
            event = self.event("checkout.session.completed", dict(session.data))
        delivery = self.deliver(event)
        return session, delivery

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

    def deliver(self, event: dict[str, Any]) -> Delivery:
        """POST the signed event to the webhook URL now; retry a failure in the background."""
        delivery = Delivery(event_id=event["id"], session_id=event["data"]["object"].get("id", ""))
        with self._lock:
            self.deliveries.append(delivery)
        payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        if self._attempt(delivery, payload) or not self.retry_delays_s:
            return delivery
        threading.Thread(
            target=self._retry, args=(delivery, payload), name=f"webhook-retry-{event['id']}", daemon=True
        ).start()
        return delivery

    def _retry(self, delivery: Delivery, payload: str) -> None:
        for delay in self.retry_delays_s:
            time.sleep(delay)
            if self._attempt(delivery, payload):
                return

    def _attempt(self, delivery: Delivery, payload: str) -> bool:
        if not self.webhook_url:
            delivery.attempts.append({"status": 0, "error": "no webhook endpoint configured"})
            return False
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, self.webhook_secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) local stand-in",
        }
        status, body = self._post(self.webhook_url, payload.encode("utf-8"), headers)
        delivery.attempts.append({"status": status, "body": body[:500], "at": int(time.time())})
        if not 200 <= status < 300:
            log.warning("webhook delivery of %s answered %s", delivery.event_id, status)
        return 200 <= status < 300

    def checkout_page(self, session_id: str) -> str:
        session = self.session(session_id)
        data = session.data
        rows = "".join(
            f"<tr><td>{html.escape(item['description'])}</td><td class=n>{item['quantity']}</td>"
            f"<td class=n>{format_amount(item['amount_total'], item['currency'])}</td></tr>"
            for item in session.line_items
        )
        total = format_amount(data["amount_total"], data["currency"])
        if data["status"] == "open":
            action = (
                f'<form method="post" action="/checkout/{html.escape(session.id)}/pay">'
                f'<button type="submit" id="pay">Pay {html.escape(total)}</button></form>'
            )
            if data.get("cancel_url"):
                action += (
                    f'<p><a id="cancel" href="{html.escape(data["cancel_url"])}">Cancel and go back</a></p>'
                )
        elif data["status"] == "complete":
            action = f'<p class=ok>Paid.</p><p><a href="{html.escape(_success_url(data))}">Return to the merchant</a></p>'
        else:
            action = "<p class=bad>This checkout session has expired. Go back and start a new payment.</p>"
        return _page(
            "Checkout (local Stripe stand-in)",
            f"<p class=muted>Local Stripe stand-in: no real card is charged.</p>"
            f"<table><tr><th>Item</th><th>Qty</th><th>Amount</th></tr>{rows}"
            f"<tr class=total><td>Total</td><td></td><td class=n>{html.escape(total)}</td></tr></table>"
            f"{action}",
        )

    # --- HTTP ---------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        standin = self

        class Handler(_StandInHandler):
            owner = standin

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-standin", daemon=True)
        self._thread.start()
        return self.base_url

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, str], bytes]:
        """Route one request; returns status, headers and body."""
        parts = [p for p in urlsplit(path).path.split("/") if p]
        try:
            if parts[:1] == ["v1"]:
                return self._api(method, parts[1:], headers, body)
            if parts[:1] == ["checkout"] and len(parts) == 2 and method == "GET":
                return (
                    200,
                    {"Content-Type": "text/html; charset=utf-8"},
                    self.checkout_page(parts[1]).encode(),
                )
            if parts[:1] == ["checkout"] and len(parts) == 3 and parts[2] == "pay" and method == "POST":
                session, _ = self.pay(parts[1])
                return 303, {"Location": _success_url(session.data)}, b""
            if parts == ["_standin", "deliveries"] and method == "GET":
                with self._lock:
                    rows = [
                        {
                            "event_id": d.event_id,
                            "session_id": d.session_id,
                            "delivered": d.delivered,
                            "attempts": d.attempts,
                        }
                        for d in self.deliveries
                    ]
                return _json(200, {"deliveries": rows})
        except StripeError as exc:
            if parts[:1] == ["v1"]:
                return _json(exc.status, exc.body())
            page = _page("Checkout", f"<p class=bad>{html.escape(str(exc))}</p>")
            return (
                exc.status if exc.status != 409 else 410,
                {"Content-Type": "text/html; charset=utf-8"},
                page.encode(),
            )
        if parts[:1] == ["v1"]:
            return _json(404, StripeError(f"Unrecognized request URL ({method}: {path}).", status=404).body())
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not found"

    def _api(
        self, method: str, parts: list[str], headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, str], bytes]:
        self.check_key(headers.get("authorization"))
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            with self._lock:
                cached = self._idempotent.get(key)
            if cached is not None:
                status, payload = cached
                return _json(status, payload, replayed=True)
        if method == "POST" and parts == ["checkout", "sessions"]:
            result = 200, self.create_session(decode_form(body))
        elif method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            result = 200, dict(self.session(parts[2]).data)
        elif (
            method == "GET"
            and parts[:2] == ["checkout", "sessions"]
            and len(parts) == 4
            and parts[3] == "line_items"
        ):
            items = self.session(parts[2]).line_items
            result = (
                200,
                {
                    "object": "list",
                    "data": items,
                    "has_more": False,
                    "url": f"/v1/checkout/sessions/{parts[2]}/line_items",
                },
            )
        elif (
            method == "POST"
            and parts[:2] == ["checkout", "sessions"]
            and len(parts) == 4
            and parts[3] == "expire"
        ):
            result = 200, self.expire(parts[2])
        elif method == "GET" and parts[:1] == ["payment_intents"] and len(parts) == 2:
            with self._lock:
                intent = self.payment_intents.get(parts[1])
            if intent is None:
                raise StripeError(
                    f"No such payment_intent: '{parts[1]}'",
                    status=404,
                    code="resource_missing",
                    param="intent",
                )
            result = 200, dict(intent)
        else:
            raise StripeError(f"Unrecognized request URL ({method}: /v1/{'/'.join(parts)}).", status=404)
        if method == "POST" and key:
            with self._lock:
                self._idempotent[key] = result
        return _json(*result)


def _success_url(data: dict[str, Any]) -> str:
    return str(data["success_url"]).replace("{CHECKOUT_SESSION_ID}", data["id"])


def _json(
    status: int, payload: dict[str, Any], *, replayed: bool = False
) -> tuple[int, dict[str, str], bytes]:
    headers = {
        "Content-Type": "application/json",
        "Stripe-Version": API_VERSION,
        "Request-Id": "req_" + secrets.token_hex(7),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return status, headers, json.dumps(payload).encode("utf-8")


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;color:#222}"
        "table{border-collapse:collapse;width:100%}td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}"
        ".n{text-align:right}.total td{font-weight:bold}.muted{color:#777}.ok{color:#070}.bad{color:#a00}"
        "button{font-size:1.1rem;padding:.6rem 1.4rem;margin-top:1rem;background:#635bff;color:#fff;border:0;"
        "border-radius:4px}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


class _StandInHandler(BaseHTTPRequestHandler):
    owner: StripeStandIn
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        query = urlsplit(self.path).query
        if self.command == "GET" and query and not body:
            body = query
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, out_headers, payload = self.owner.handle(self.command, self.path, headers, body)
        except Exception:
            log.exception("stripe stand-in failed")
            status, out_headers, payload = _json(
                500, {"error": {"type": "api_error", "message": "stand-in error"}}
            )
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stripe stand-in: " + format, *args)
