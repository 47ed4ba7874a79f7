"""The hosted checkout page (``GET /checkout/{id}``) and its Pay button
(``POST /checkout/{id}/pay``): paying completes the session, sends the signed
``checkout.session.completed`` event and sends the owner back to the session's ``success_url``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from infra.local.pages import environment
from infra.local.stripe.api import Response
from infra.local.stripe.cards import DEFAULT_CARD, Cards
from infra.local.stripe.errors import StripeError
from infra.local.stripe.resources import Resources
from infra.local.stripe.webhooks import Delivery, Webhooks, event

HTML = {"Content-Type": "text/html; charset=utf-8"}
# Currencies whose amounts have no minor unit (Stripe's list, those we might meet).
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "pyg", "xaf", "xof"}


def format_amount(minor: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL:
        return f"{minor:,} {currency.upper()}"
    return f"{minor // 100:,}.{minor % 100:02d} {currency.upper()}"


def success_url(session: dict[str, Any]) -> str:
    """Where the owner goes after paying, with ``{CHECKOUT_SESSION_ID}`` filled in as Stripe does."""
    return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])


_templates = environment(Path(__file__).resolve().parent / "templates")
_templates.filters["amount"] = format_amount


class Checkout:
    def __init__(self, resources: Resources, webhooks: Webhooks, cards: Cards | None = None) -> None:
        self.resources = resources
        self.webhooks = webhooks
        self.cards = cards or Cards(resources)

    def handle(self, method: str, parts: list[str], body: str = "") -> Response | None:
        """Answer ``/checkout/<parts>``, or None if no such page."""
        try:
            match method, parts:
                case "GET", [session_id]:
                    return 200, dict(HTML), self.page(session_id).encode()
                case "POST", [session_id, "pay"]:
                    if self.resources.session(session_id).data["mode"] == "setup":
                        card = dict(parse_qsl(body)).get("card") or DEFAULT_CARD
                        session, _ = self.save_card(session_id, card)
                    else:
                        session, _ = self.pay(session_id)
                    return 303, {"Location": success_url(session)}, b""
        except StripeError as exc:
            # A session already paid or expired is gone for the owner: 410.
            status = 410 if exc.status == 409 else exc.status
            page = _templates.get_template("error.html").render(message=str(exc))
            return status, dict(HTML), page.encode()
        return None

    def page(self, session_id: str) -> str:
        session = self.resources.session(session_id)
        data = session.data
        if data["mode"] == "setup":
            return _templates.get_template("setup.html").render(session=data, return_url=success_url(data))
        return _templates.get_template("checkout.html").render(
            session=data,
            line_items=session.line_items,
            total=format_amount(data["amount_total"], data["currency"]),
            return_url=success_url(data),
        )

    def save_card(self, session_id: str, card: str = DEFAULT_CARD) -> tuple[dict[str, Any], Delivery]:
        """Save a card through a setup-mode session and send the webhook."""
        session = self.cards.save_card(session_id, card)
        delivery = self.webhooks.send(event("checkout.session.completed", session))
        return session, delivery

    def pay(self, session_id: str) -> tuple[dict[str, Any], Delivery]:
        """Complete the session as a successful card payment and send the webhook."""
        session = self.resources.complete(session_id)
        delivery = self.webhooks.send(event("checkout.session.completed", session))
        return session, delivery
