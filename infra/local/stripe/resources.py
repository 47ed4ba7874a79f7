"""Checkout Sessions, PaymentIntents, Charges, Refunds and Disputes: the objects the REST API
returns, the rules Stripe applies to a new session's and a new refund's parameters, and the
stand-in's in-memory store of them."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from infra.local.stripe.errors import StripeError

# Stripe allows a Checkout Session to expire between 30 minutes and 24 hours after creation.
MIN_EXPIRY_S = 30 * 60
MAX_EXPIRY_S = 24 * 60 * 60
# The reasons a refund may give (Stripe's Refunds API).
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass
class Session:
    data: dict[str, Any]
    line_items: list[dict[str, Any]]
    payment_intent_metadata: dict[str, str]

    @property
    def id(self) -> str:
        return self.data["id"]


class Resources:
    """The sessions, payment intents, charges, refunds and disputes, shared by the REST API and
    the checkout page."""

    def __init__(self, *, checkout_url: Callable[[str], str]) -> None:
        self._checkout_url = checkout_url  # session id -> the URL of its checkout page
        self.sessions: dict[str, Session] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session = _new_session(params, now=int(time.time()), checkout_url=self._checkout_url)
        with self._lock:
            self.sessions[session.id] = session
        return dict(session.data)

    def session(self, session_id: str) -> Session:
        with self._lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise StripeError(
                f"No such checkout.session: '{session_id}'", status=404, code="resource_missing", param="id"
            )
        self._expire_if_due(session)
        return session

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

    def complete(self, session_id: str) -> dict[str, Any]:
        """Pay an open session by card: a succeeded PaymentIntent; returns the completed session."""
        session = self.session(session_id)
        with self._lock:
            if session.data["status"] != "open":
                raise StripeError(f"This Checkout Session is {session.data['status']}.", status=409)
            now = int(time.time())
            intent_id = "pi_" + secrets.token_hex(12)
            charge_id = "ch_" + secrets.token_hex(12)
            amount = session.data["amount_total"]
            # Stripe copies the payment intent's metadata to the charge it makes.
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "captured": True,
                "created": now,
                "currency": session.data["currency"],
                "disputed": False,
                "livemode": False,
                "metadata": dict(session.payment_intent_metadata),
                "paid": True,
                "payment_intent": intent_id,
                "refunded": False,
                "status": "succeeded",
            }
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
                "latest_charge": charge_id,
            }
            session.data.update(payment_intent=intent_id, status="complete", payment_status="paid")
            return dict(session.data)

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        with self._lock:
            intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise StripeError(
                f"No such payment_intent: '{intent_id}'", status=404, code="resource_missing", param="intent"
            )
        return dict(intent)

    def charge(self, charge_id: str) -> dict[str, Any]:
        with self._lock:
            charge = self.charges.get(charge_id)
        if charge is None:
            raise StripeError(
                f"No such charge: '{charge_id}'", status=404, code="resource_missing", param="id"
            )
        return dict(charge)

    def list_charges(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/charges``: newest first, ``created[gte|gt|lte|lt]``, ``limit`` (1-100, default
        10) and ``starting_after`` (a charge id), as Stripe pages lists."""
        created = params.get("created") or {}
        if not isinstance(created, dict):
            created = {"eq": created}
        bounds = {op: _int(value, f"created[{op}]") for op, value in created.items()}
        limit = _int(params.get("limit", 10), "limit", minimum=1)
        if limit > 100:
            raise StripeError("limit must be at most 100.", param="limit")
        with self._lock:
            charges = sorted(self.charges.values(), key=lambda c: (c["created"], c["id"]), reverse=True)
        tests = {
            "gte": lambda c, v: c >= v, "gt": lambda c, v: c > v, "lte": lambda c, v: c <= v,
            "lt": lambda c, v: c < v, "eq": lambda c, v: c == v,
        }  # fmt: skip
        found = [
            c for c in charges if all(tests[op](c["created"], v) for op, v in bounds.items() if op in tests)
        ]
        after = params.get("starting_after")
        if after:
            ids = [c["id"] for c in found]
            if after not in ids:
                raise StripeError(f"No such charge: '{after}'", status=404, code="resource_missing")
            found = found[ids.index(after) + 1 :]
        page = [dict(c) for c in found[:limit]]
        return {"object": "list", "data": page, "has_more": len(found) > limit, "url": "/v1/charges"}

    def refund(self, refund_id: str) -> dict[str, Any]:
        with self._lock:
            refund = self.refunds.get(refund_id)
        if refund is None:
            raise StripeError(
                f"No such refund: '{refund_id}'", status=404, code="resource_missing", param="id"
            )
        return dict(refund)

    def create_refund(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``POST /v1/refunds``, checked as Stripe checks it: the refund (succeeded at once, as a card
        refund in test mode is) and the charge after it (``amount_refunded`` is its running total)."""
        with self._lock:
            charge = self._refundable_charge(params)
            left = charge["amount_captured"] - charge["amount_refunded"]
            if left <= 0:
                raise StripeError(
                    f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
                )
            amount = (
                left if params.get("amount") in (None, "") else _int(params["amount"], "amount", minimum=1)
            )
            if amount > left:
                raise StripeError(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
                    code="amount_too_large",
                    param="amount",
                )
            reason = params.get("reason") or None
            if reason is not None and reason not in REFUND_REASONS:
                raise StripeError(
                    "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                    param="reason",
                )
            refund = {
                "id": "re_" + secrets.token_hex(12),
                "object": "refund",
                "amount": amount,
                "balance_transaction": "txn_" + secrets.token_hex(12),
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "metadata": _metadata(params.get("metadata"), "metadata"),
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            }
            self.refunds[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
            return dict(refund), dict(charge)

    def _refundable_charge(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id, charge_id = params.get("payment_intent"), params.get("charge")
        if not intent_id and not charge_id:
            raise StripeError(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
            )
        if intent_id:
            intent = self.payment_intents.get(intent_id)
            if intent is None:
                raise StripeError(
                    f"No such payment_intent: '{intent_id}'", code="resource_missing", param="payment_intent"
                )
            charge = self.charges.get(intent.get("latest_charge") or "")
            if intent.get("status") != "succeeded" or charge is None:
                raise StripeError(
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
        else:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise StripeError(f"No such charge: '{charge_id}'", code="resource_missing", param="charge")
        if charge["disputed"]:
            raise StripeError(
                f"Charge {charge['id']} has been charged back; cannot issue a refund.", code="charge_disputed"
            )
        return charge

    def dispute(
        self, intent_id: str, *, amount: int | None = None, reason: str = "fraudulent"
    ) -> dict[str, Any]:
        """The owner's bank disputes the payment (in Stripe's test mode, a test card does this):
        the new Dispute. Stripe takes the disputed amount back at once."""
        with self._lock:
            intent = self.payment_intents.get(intent_id)
            charge = self.charges.get((intent or {}).get("latest_charge") or "")
            if intent is None or charge is None:
                raise StripeError(
                    f"No such payment_intent: '{intent_id}'", status=404, code="resource_missing"
                )
            if charge["disputed"]:
                raise StripeError(f"Charge {charge['id']} is disputed already.")
            charge["disputed"] = True
            dispute = {
                "id": "dp_" + secrets.token_hex(12),
                "object": "dispute",
                "amount": charge["amount_captured"] - charge["amount_refunded"] if amount is None else amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": intent_id,
                "reason": reason,
                "status": "needs_response",
            }
            self.disputes[dispute["id"]] = dispute
            return dict(dispute)

    def _expire_if_due(self, session: Session) -> None:
        with self._lock:
            if session.data["status"] == "open" and int(time.time()) >= session.data["expires_at"]:
                session.data["status"] = "expired"


def _new_session(params: dict[str, Any], *, now: int, checkout_url: Callable[[str], str]) -> Session:
    """A new open session from ``POST /v1/checkout/sessions``'s parameters, checked as Stripe does."""
    mode = params.get("mode")
    if not mode:
        raise StripeError("Missing required param: mode.", code="parameter_missing", param="mode")
    if mode == "setup":
        return _new_setup_session(params, now=now, checkout_url=checkout_url)
    if mode != "payment":
        raise StripeError(f"The stand-in supports mode=payment and setup, not {mode!r}.", param="mode")
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
        raise StripeError("Missing required param: line_items.", code="parameter_missing", param="line_items")
    if not isinstance(raw_items, list):
        raise StripeError("Invalid array", param="line_items")
    items, currency = _line_items(raw_items)
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
        "url": checkout_url(session_id),
    }
    return Session(
        data=data,
        line_items=items,
        payment_intent_metadata=_metadata(intent_data.get("metadata"), "payment_intent_data[metadata]"),
    )


def _new_setup_session(params: dict[str, Any], *, now: int, checkout_url: Callable[[str], str]) -> Session:
    """A Checkout Session that saves a card for a customer (``mode=setup``): no line items."""
    if not params.get("customer"):
        raise StripeError("Missing required param: customer.", code="parameter_missing", param="customer")
    if params.get("line_items"):
        raise StripeError("line_items cannot be used in setup mode.", param="line_items")
    success_url = params.get("success_url")
    if not success_url:
        raise StripeError(
            "Missing required param: success_url.", code="parameter_missing", param="success_url"
        )
    for name in ("success_url", "cancel_url"):
        value = params.get(name)
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise StripeError("Not a valid URL", code="url_invalid", param=name)
    setup_data = params.get("setup_intent_data") or {}
    if not isinstance(setup_data, dict):
        raise StripeError("Invalid object", param="setup_intent_data")
    session_id = "cs_test_" + secrets.token_urlsafe(40).replace("-", "").replace("_", "")[:58]
    data = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": None,
        "amount_total": None,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "created": now,
        "currency": (params.get("currency") or None),
        "customer": params["customer"],
        "expires_at": now + MAX_EXPIRY_S,
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": _metadata(params.get("metadata"), "metadata"),
        "mode": "setup",
        "payment_intent": None,
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "no_payment_required",
        "setup_intent": None,
        "status": "open",
        "success_url": success_url,
        "url": checkout_url(session_id),
    }
    return Session(
        data=data,
        line_items=[],
        payment_intent_metadata=_metadata(setup_data.get("metadata"), "setup_intent_data[metadata]"),
    )


def _line_items(raw_items: list[Any]) -> tuple[list[dict[str, Any]], str]:
    """The session's line items (``price_data`` only: the stand-in has no Price objects) and currency."""
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
        raise StripeError("Missing required param: line_items.", code="parameter_missing", param="line_items")
    return items, currency


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
