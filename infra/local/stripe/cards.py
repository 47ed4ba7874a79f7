"""Saved cards and off-session charges, as Stripe runs card autopay:

- ``POST /v1/customers``: a Customer (``cus_``);
- Checkout in ``mode=setup`` for a customer: its page asks for a card and saves it (a
  ``PaymentMethod`` attached to the customer, through a succeeded ``SetupIntent``), then sends
  ``checkout.session.completed`` (``mode: setup``, ``setup_intent``) and redirects to
  ``success_url``;
- ``GET /v1/setup_intents/{id}``, ``GET /v1/payment_methods/{id}``,
  ``POST /v1/payment_methods/{id}/detach``;
- ``POST /v1/payment_intents`` with ``customer``, ``payment_method``, ``off_session=true`` and
  ``confirm=true``: charged at once (``payment_intent.succeeded``), or refused with Stripe's 402
  ``card_error`` (``payment_intent.payment_failed``) as its test cards behave:

  - ``4242 4242 4242 4242``: succeeds;
  - ``4000 0000 0000 9995``: saved, then declined (``card_declined`` / ``insufficient_funds``);
  - ``4000 0027 6000 3184``: saved, then off-session needs the cardholder
    (``authentication_required``).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from infra.local.stripe.errors import StripeError
from infra.local.stripe.resources import Resources

DEFAULT_CARD = "4242424242424242"
# number -> (brand, what an off-session charge does: None succeeds, else the decline)
TEST_CARDS: dict[str, tuple[str, str | None]] = {
    "4242424242424242": ("visa", None),
    "5555555555554444": ("mastercard", None),
    "4000000000009995": ("visa", "insufficient_funds"),
    "4000002760003184": ("visa", "authentication_required"),
}


class CardError(StripeError):
    """Stripe's 402 for a card that could not be charged; carries the failed payment intent."""

    def __init__(self, message: str, *, code: str, decline_code: str | None, intent: dict[str, Any]) -> None:
        super().__init__(message, status=402, code=code)
        self.decline_code = decline_code
        self.intent = intent

    def body(self) -> dict[str, Any]:
        answer = super().body()
        answer["error"]["type"] = "card_error"
        if self.decline_code:
            answer["error"]["decline_code"] = self.decline_code
        answer["error"]["payment_intent"] = self.intent
        return answer


class Cards:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.customers: dict[str, dict[str, Any]] = {}
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    # --- customers and saved cards ------------------------------------------------------------

    def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": "cus_" + secrets.token_hex(7),
            "object": "customer",
            "created": int(time.time()),
            "email": params.get("email"),
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
        }
        with self._lock:
            self.customers[customer["id"]] = customer
        return dict(customer)

    def customer(self, customer_id: str) -> dict[str, Any]:
        with self._lock:
            found = self.customers.get(customer_id)
        if found is None:
            raise StripeError(f"No such customer: '{customer_id}'", status=404, code="resource_missing")
        return dict(found)

    def save_card(self, session_id: str, number: str = DEFAULT_CARD) -> dict[str, Any]:
        """The setup page's Save button: the card saved for the session's customer, the session
        complete; returns it."""
        digits = "".join(ch for ch in number if ch.isdigit())
        if digits not in TEST_CARDS:
            raise StripeError("Your card number is incorrect.", status=402, code="incorrect_number")
        session = self.resources.session(session_id)
        with self._lock:
            if session.data["status"] != "open":
                raise StripeError(f"This Checkout Session is {session.data['status']}.", status=409)
            brand, _ = TEST_CARDS[digits]
            now = int(time.time())
            method = {
                "id": "pm_" + secrets.token_hex(12),
                "object": "payment_method",
                "type": "card",
                "created": now,
                "customer": session.data["customer"],
                "card": {"brand": brand, "last4": digits[-4:], "exp_month": 12, "exp_year": 2030},
                "livemode": False,
                "metadata": {},
                "_number": digits,
            }
            intent = {
                "id": "seti_" + secrets.token_hex(12),
                "object": "setup_intent",
                "created": now,
                "customer": session.data["customer"],
                "payment_method": method["id"],
                "status": "succeeded",
                "usage": "off_session",
                "livemode": False,
                "metadata": dict(session.payment_intent_metadata),
            }
            self.payment_methods[method["id"]] = method
            self.setup_intents[intent["id"]] = intent
            session.data.update(setup_intent=intent["id"], status="complete")
            return dict(session.data)

    def setup_intent(self, intent_id: str) -> dict[str, Any]:
        with self._lock:
            found = self.setup_intents.get(intent_id)
        if found is None:
            raise StripeError(f"No such setupintent: '{intent_id}'", status=404, code="resource_missing")
        return dict(found)

    def payment_method(self, method_id: str) -> dict[str, Any]:
        with self._lock:
            found = self.payment_methods.get(method_id)
        if found is None:
            raise StripeError(f"No such PaymentMethod: '{method_id}'", status=404, code="resource_missing")
        return {k: v for k, v in found.items() if not k.startswith("_")}

    def detach(self, method_id: str) -> dict[str, Any]:
        self.payment_method(method_id)
        with self._lock:
            self.payment_methods[method_id]["customer"] = None
        return self.payment_method(method_id)

    # --- off-session charges ------------------------------------------------------------------

    def create_payment_intent(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A confirmed off-session PaymentIntent: (the intent, its charge); CardError if declined."""
        amount = int(str(params.get("amount") or "0"))
        if amount <= 0:
            raise StripeError("Missing required param: amount.", code="parameter_missing", param="amount")
        currency = str(params.get("currency") or "").lower()
        if not currency:
            raise StripeError("Missing required param: currency.", code="parameter_missing", param="currency")
        with self._lock:
            method = self.payment_methods.get(str(params.get("payment_method") or ""))
        if method is None:
            raise StripeError(
                "No such PaymentMethod.", status=404, code="resource_missing", param="payment_method"
            )
        if method["customer"] is None or method["customer"] != params.get("customer"):
            raise StripeError(
                "The provided PaymentMethod is not attached to this customer.", param="payment_method"
            )
        if str(params.get("confirm")) != "true" or str(params.get("off_session")) != "true":
            raise StripeError("The stand-in confirms off-session intents only.", param="confirm")
        now = int(time.time())
        intent: dict[str, Any] = {
            "id": "pi_" + secrets.token_hex(12),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "created": now,
            "customer": params["customer"],
            "payment_method": method["id"],
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "status": "requires_payment_method",
            "latest_charge": None,
        }
        _, decline = TEST_CARDS[method["_number"]]
        if decline is not None:
            intent["last_payment_error"] = {"code": decline if decline == "authentication_required" else "card_declined",
                                            "decline_code": decline}  # fmt: skip
            with self.resources._lock:
                self.resources.payment_intents[intent["id"]] = intent
            message = (
                "This payment requires the cardholder's authentication."
                if decline == "authentication_required"
                else "Your card has insufficient funds."
            )
            code = "authentication_required" if decline == "authentication_required" else "card_declined"
            raise CardError(message, code=code, decline_code=decline, intent=dict(intent))
        charge = {
            "id": "ch_" + secrets.token_hex(12),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "captured": True,
            "created": now,
            "currency": currency,
            "disputed": False,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "paid": True,
            "payment_intent": intent["id"],
            "refunded": False,
            "status": "succeeded",
        }
        intent.update(status="succeeded", amount_received=amount, latest_charge=charge["id"])
        with self.resources._lock:
            self.resources.charges[charge["id"]] = charge
            self.resources.payment_intents[intent["id"]] = intent
        return dict(intent), dict(charge)
