"""Stripe, through the real ``stripe`` SDK: Checkout Sessions and refunds out, signed webhook
events in.

``StripeRail`` is Stripe behind the payment-provider port (``payments.port``), as WeChat Pay and
Alipay are: it starts a Checkout Session, verifies an event, queries, closes, refunds and reads a
day's statement, through the pieces below. ``StripeCheckout`` creates and expires hosted Checkout
Sessions; ``StripeRefunds`` refunds payments; ``StripeStatements`` gives a day's charges to the
daily reconciliation; ``StripeCards`` runs card autopay. In the
local runtime ``api_base`` points the SDK at the Stripe stand-in; deployed, it is Stripe itself.
``verify_webhook`` checks an event's ``Stripe-Signature`` header against the raw body with the SDK
(tolerance 300 s; a timestamp that far ahead is refused too) and returns the event as a plain
dict, or raises ``InvalidWebhook``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal

import stripe

from propdesk import aws
from propdesk.payments.events import StripeEventEnvelope
from propdesk.payments.port import (
    ORDER_CLOSED,
    ORDER_OPEN,
    ORDER_PAID,
    Answer,
    NotificationRejected,
    PaymentLine,
    PaymentRequest,
    PaymentStart,
    ProviderEvent,
    ProviderPayment,
    ProviderRefused,
    RailName,
    RefundResult,
    Statement,
    StatementLine,
)
from propdesk.payments.port import ProviderUnavailable as PortUnavailable
from propdesk.settings import ConfigurationMissing, Settings


class InvalidWebhook(Exception):
    """The webhook is not acceptable: its ``reason`` is ``"signature"`` (missing, wrong, or outside
    the tolerance) or ``"body"`` (signed, but not a Stripe event). No other detail, on purpose."""

    def __init__(self, reason: str = "signature") -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(PortUnavailable):
    """Stripe could not be reached or refused the request; the caller may try again (the port's
    ``ProviderUnavailable``, as every rail's)."""


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    url: str


@dataclass(frozen=True)
class StripeKeys:
    api_key: str
    webhook_secret: str

    @classmethod
    def from_secret(cls, value: dict[str, Any]) -> StripeKeys:
        api_key = str(value.get("api_key") or "")
        webhook_secret = str(value.get("webhook_secret") or "")
        if not api_key or not webhook_secret:
            raise ConfigurationMissing("stripe secret needs api_key and webhook_secret")
        return cls(api_key=api_key, webhook_secret=webhook_secret)

    @property
    def livemode(self) -> bool:
        """Live keys take live events only; test keys take test events only."""
        return self.api_key.startswith(("sk_live_", "rk_live_"))


STRIPE_SECRET = "stripe"  # noqa: S105 - the secret's key in the manifest, not a password


def stripe_keys() -> StripeKeys:
    """The keys in the function's ``stripe`` secret (cached with the other secrets)."""
    return StripeKeys.from_secret(aws.secret(STRIPE_SECRET))


@cache
def _client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    base_addresses = {"api": api_base.rstrip("/")} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=base_addresses, max_network_retries=2)


class StripeCheckout:
    """Creates Checkout Sessions with the SDK's ``StripeClient``."""

    def __init__(self, *, api_key: str, api_base: str | None = None) -> None:
        self._client = _client(api_key, api_base)

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeCheckout:
        return cls(api_key=stripe_keys().api_key, api_base=settings.stripe_api_base)

    def create_session(self, params: dict[str, Any]) -> CheckoutSession:
        try:
            session = self._client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        if not session.id or not session.url:
            raise ProviderUnavailable("checkout session without id or url")
        return CheckoutSession(session_id=session.id, url=session.url)

    def expire_session(self, session_id: str) -> None:
        """Expire an open session so nobody can pay through it any more. Stripe refuses a session
        that is complete or expired already: that is the state wanted, so it is not an error."""
        try:
            self._client.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError:
            return
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc


def verify_webhook(payload: bytes, sig_header: str | None, secret: str) -> dict[str, Any]:
    """The event, if ``sig_header`` signs exactly ``payload`` with ``secret`` within the tolerance."""
    try:
        # The check ``stripe.Webhook.construct_event`` makes, without building an SDK Event
        # (which fails on a signed body that is JSON but not an object).
        stripe.WebhookSignature.verify_header(payload, sig_header, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook("signature") from exc
    except ValueError as exc:  # a body that is not UTF-8 text cannot have been signed by Stripe
        raise InvalidWebhook("signature") from exc
    # The SDK refuses old timestamps only; one from further ahead than the tolerance is not a
    # delivery from Stripe either (a signature made to be replayed later), as Standard Webhooks say.
    signed_at = _signed_at(str(sig_header))
    if signed_at is None or signed_at > time.time() + stripe.Webhook.DEFAULT_TOLERANCE:
        raise InvalidWebhook("signature")
    try:
        event = json.loads(payload)
        StripeEventEnvelope.model_validate(event)
    except (ValueError, RecursionError) as exc:  # not JSON, too deep, or not a Stripe event
        raise InvalidWebhook("body") from exc
    return event


def _signed_at(sig_header: str) -> int | None:
    """The timestamp the SDK checked the signature with: the header's first ``t=``."""
    for item in sig_header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RefundRefused(ProviderRefused):
    """Stripe refused the refund (more than is left, refunded already, no such payment): its error
    ``code`` and message. Nothing was refunded (the port's ``ProviderRefused``)."""


StripeRefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class StripeRefunds:
    """Refunds through Stripe's Refunds API with the SDK's ``StripeClient`` (``POST /v1/refunds``)."""

    def __init__(self, *, api_key: str, api_base: str | None = None) -> None:
        self._client = _client(api_key, api_base)

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeRefunds:
        return cls(api_key=stripe_keys().api_key, api_base=settings.stripe_api_base)

    def refund(
        self,
        *,
        payment_ref: str,
        amount_minor: int,
        idempotency_key: str,
        reason: StripeRefundReason,
        metadata: dict[str, str],
    ) -> str:
        """Refund ``amount_minor`` of the payment intent ``payment_ref``; Stripe's refund id. The
        idempotency key makes a retry (after a timeout, a crash) the same refund."""
        try:
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": payment_ref,
                    "amount": amount_minor,
                    "reason": reason,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            raise RefundRefused(exc.code or "invalid_request", exc.user_message or str(exc)) from exc
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        if not refund.id:
            raise ProviderUnavailable("refund without id")
        return refund.id


class StripeStatements:
    """Stripe's side of the daily reconciliation: the charges made on a UTC day (``GET
    /v1/charges`` by ``created``, every page), as statement lines keyed by payment intent - the
    id our Stripe payments carry (``stripe:pi_...``). Checkout and webhooks keep their own path
    (``services.checkout``, ``services.payments``); only the statement goes through the port."""

    rail = "stripe"

    def __init__(self, *, api_key: str, api_base: str | None = None) -> None:
        self._client = _client(api_key, api_base)

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeStatements:
        return cls(api_key=stripe_keys().api_key, api_base=settings.stripe_api_base)

    def statement(self, day: date) -> Statement:
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        params = {"created": {"gte": start, "lt": start + 86_400}, "limit": 100}
        lines: list[StatementLine] = []
        try:
            page = self._client.v1.charges.list(params=params)  # type: ignore[arg-type]
            for charge in page.auto_paging_iter():
                if charge.status != "succeeded" or not charge.paid or not charge.payment_intent:
                    continue
                intent = (
                    charge.payment_intent
                    if isinstance(charge.payment_intent, str)
                    else charge.payment_intent.id
                )
                lines.append(
                    StatementLine(
                        order_id=intent,
                        provider_payment_id=charge.id,
                        kind="payment",
                        amount_minor=int(charge.amount),
                        currency=str(charge.currency).upper(),
                        at=datetime.fromtimestamp(charge.created, UTC),
                    )
                )
        except stripe.StripeError as exc:
            raise PortUnavailable(type(exc).__name__) from exc
        return Statement(rail="stripe", day=day, lines=tuple(lines))


@dataclass(frozen=True)
class SavedCard:
    customer_id: str
    payment_method_id: str
    brand: str
    last4: str


@dataclass(frozen=True)
class OffSessionCharge:
    """What an off-session charge did: ``succeeded``, ``declined`` (the bank said no: try again
    later) or ``needs_owner`` (the card wants its holder: no retry can pass)."""

    state: Literal["succeeded", "pending", "declined", "needs_owner"]  # pending: ask again, same key
    intent_id: str | None
    amount_minor: int
    code: str = ""


class StripeCards:
    """Card autopay through Stripe: a customer per enrolment, Checkout in setup mode to save the
    card, the saved card read back, off-session PaymentIntents, and detaching on cancel."""

    def __init__(self, *, api_key: str, api_base: str | None = None) -> None:
        self._client = _client(api_key, api_base)

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeCards:
        return cls(api_key=stripe_keys().api_key, api_base=settings.stripe_api_base)

    def setup_session(
        self, *, metadata: dict[str, str], success_url: str, cancel_url: str, locale: str | None = None
    ) -> CheckoutSession:
        try:
            customer = self._client.v1.customers.create(params={"metadata": metadata})
            session = self._client.v1.checkout.sessions.create(
                params={  # type: ignore[typeddict-item]
                    "mode": "setup",
                    "customer": customer.id,
                    "payment_method_types": ["card"],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": metadata,
                    "setup_intent_data": {"metadata": metadata},
                    **({"locale": locale} if locale else {}),
                }
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        if not session.id or not session.url:
            raise ProviderUnavailable("setup session without id or url")
        return CheckoutSession(session_id=session.id, url=session.url)

    def saved_card(self, setup_intent_id: str) -> SavedCard:
        try:
            intent = self._client.v1.setup_intents.retrieve(setup_intent_id)
            method_id = (
                intent.payment_method if isinstance(intent.payment_method, str) else intent.payment_method.id
            )  # type: ignore[union-attr]
            method = self._client.v1.payment_methods.retrieve(method_id)
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        customer = intent.customer if isinstance(intent.customer, str) else intent.customer.id  # type: ignore[union-attr]
        card = method.card
        return SavedCard(
            customer, method.id, str(card.brand if card else "card"), str(card.last4 if card else "????")
        )

    def charge(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> OffSessionCharge:
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "off_session": True,
                    "confirm": True,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as declined:
            failed = declined.error.payment_intent if declined.error else None
            intent_id = getattr(failed, "id", None)
            state = "needs_owner" if declined.code == "authentication_required" else "declined"
            code = (
                (declined.error.decline_code if declined.error else None) or declined.code or "card_declined"
            )
            return OffSessionCharge(state, intent_id, amount_minor, str(code))  # type: ignore[arg-type]
        except stripe.InvalidRequestError as exc:
            # The card is gone (detached at Stripe): like a card that wants its owner.
            return OffSessionCharge("needs_owner", None, amount_minor, exc.code or "invalid_request")
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        if intent.status == "processing":
            return OffSessionCharge("pending", intent.id, amount_minor, "processing")
        if intent.status != "succeeded":
            return OffSessionCharge("declined", intent.id, amount_minor, str(intent.status))
        return OffSessionCharge("succeeded", intent.id, int(intent.amount_received or amount_minor))

    def detach(self, payment_method_id: str) -> None:
        try:
            self._client.v1.payment_methods.detach(payment_method_id)
        except stripe.InvalidRequestError:
            return  # detached already
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc


STRIPE_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
# Stripe Checkout's own page locales for ours.
CHECKOUT_LOCALES = {"zh-CN": "zh", "en": "en"}


def session_params(request: PaymentRequest, *, property_id: str, methods: tuple[str, ...]) -> dict[str, Any]:
    """The Checkout Session (payment mode) that collects ``request``: its lines (or one line for
    the amount), the bills in the metadata, back to ``return_url`` with the session's id."""
    currency = request.currency.lower()
    lines = request.lines or (PaymentLine(request.description, request.amount_minor),)
    metadata = {
        "property_id": property_id,
        "unit_id": request.unit_id,
        "bill_ids": ",".join(request.bill_ids),
    }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": line.amount_minor,
                    "product_data": {"name": line.name},
                },
                "quantity": 1,
            }
            for line in lines
        ],
        "payment_method_types": list(methods),
        "client_reference_id": request.bill_ids[0],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": request.description},
        "expires_at": int(request.expires_at.timestamp()),
        "success_url": request.return_url,
        "cancel_url": request.cancel_url or request.return_url,
        "locale": CHECKOUT_LOCALES.get(request.locale, "auto"),
    }
    if "wechat_pay" in methods:
        # Stripe requires the WeChat Pay client type for Checkout.
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
    return params


class StripeRail:
    """``PaymentProvider`` for Stripe, made of the pieces above.

    Stripe names what it starts: ``start`` answers the Checkout Session's id as the order, and
    ``close`` expires a session. A payment is known by its payment intent, as our payments' ids
    are (``stripe:pi_...``): ``refund`` and the statement's lines use it, and ``query`` takes
    either. A notification is the verified event as a ``ProviderEvent``: Stripe's events carry
    more than a payment or a refund (the bills in a session's metadata, card setups, disputes,
    delayed failures, off-session charges), and ``payments.events`` reads them.
    """

    rail: RailName = "stripe"

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        property_id: str,
        methods: tuple[str, ...] = ("card",),
        api_base: str | None = None,
    ) -> None:
        self._client = _client(api_key, api_base)
        self._checkout = StripeCheckout(api_key=api_key, api_base=api_base)
        self._refunds = StripeRefunds(api_key=api_key, api_base=api_base)
        self._statements = StripeStatements(api_key=api_key, api_base=api_base)
        self._webhook_secret = webhook_secret
        self.property_id = property_id
        self.methods = tuple(methods)

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeRail:
        keys = stripe_keys()
        config = settings.property_config
        return cls(
            api_key=keys.api_key,
            webhook_secret=keys.webhook_secret,
            property_id=config.property_id,
            methods=tuple(config.payment.payment_method_types),
            api_base=settings.stripe_api_base,
        )

    def start(self, request: PaymentRequest) -> PaymentStart:
        session = self._checkout.create_session(
            session_params(request, property_id=self.property_id, methods=self.methods)
        )
        return PaymentStart(order_id=session.session_id, kind="redirect", redirect_url=session.url)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            event = verify_webhook(body, lowered.get("stripe-signature"), self._webhook_secret)
        except InvalidWebhook as invalid:
            raise NotificationRejected(invalid.reason) from None
        return ProviderEvent(
            rail="stripe", event_id=str(event["id"]), event_type=str(event["type"]), data=event
        )

    def answer(self, *, ok: bool, message: str = "") -> Answer:
        body = {"received": True} if ok else {"error": message or "refused"}
        return Answer(200 if ok else 400, json.dumps(body), "application/json")

    def query(self, order_id: str) -> ProviderPayment | None:
        """A Checkout Session (``cs_...``) or a payment intent (``pi_...``) as Stripe has it."""
        try:
            if order_id.startswith("cs_"):
                session = self._client.v1.checkout.sessions.retrieve(order_id)
                intent = _id(session.payment_intent)
                paid = session.status == "complete" and session.payment_status == "paid"
                state = ORDER_PAID if paid else ORDER_CLOSED if session.status == "expired" else ORDER_OPEN
                return ProviderPayment(
                    rail="stripe",
                    order_id=order_id,
                    state=state,
                    amount_minor=int(session.amount_total or 0),
                    currency=str(session.currency or "").upper(),
                    provider_payment_id=intent,
                    method="card",
                )
            intent_obj = self._client.v1.payment_intents.retrieve(order_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None
            raise ProviderRefused(exc.code or "invalid_request", exc.user_message or str(exc)) from exc
        except stripe.StripeError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        status = intent_obj.status
        state = ORDER_PAID if status == "succeeded" else ORDER_CLOSED if status == "canceled" else ORDER_OPEN
        return ProviderPayment(
            rail="stripe",
            order_id=order_id,
            state=state,
            amount_minor=int((intent_obj.amount_received if state == ORDER_PAID else intent_obj.amount) or 0),
            currency=str(intent_obj.currency or "").upper(),
            provider_payment_id=intent_obj.id,
            method="card",
        )

    def close(self, order_id: str) -> None:
        self._checkout.expire_session(order_id)

    def refund(
        self, order_id: str, *, refund_id: str, amount_minor: int, total_minor: int, reason: str
    ) -> RefundResult:
        """Refund the payment intent ``order_id``; the refund id is Stripe's idempotency key.
        ``reason``: one of Stripe's reason codes (anything else is the customer's request).
        Posted when ``charge.refunded`` comes, so the result is processing."""
        provider_refund_id = self._refunds.refund(
            payment_ref=order_id,
            amount_minor=amount_minor,
            idempotency_key=refund_id,
            reason=reason if reason in STRIPE_REFUND_REASONS else "requested_by_customer",  # type: ignore[arg-type]
            metadata={
                "property_id": self.property_id,
                "refund_id": refund_id,
                "payment_id": f"stripe:{order_id}",
            },
        )
        return RefundResult(refund_id=refund_id, provider_refund_id=provider_refund_id, state="processing")

    def statement(self, day: date) -> Statement:
        return self._statements.statement(day)


def _id(value: Any) -> str | None:
    """An id, whether Stripe sent it as a string or expanded the object."""
    if value is None or isinstance(value, str):
        return value
    return str(getattr(value, "id", "")) or None
