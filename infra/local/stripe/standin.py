"""``StripeStandIn``: the resources, the REST API, the checkout page and the webhooks put
together behind one request router, and served on an HTTP port."""

from __future__ import annotations

from urllib.parse import urlsplit

from infra.local.httpserver import StandInServer
from infra.local.stripe.api import Api, Response, json_response
from infra.local.stripe.cards import Cards
from infra.local.stripe.checkout import Checkout
from infra.local.stripe.resources import Resources
from infra.local.stripe.webhooks import Delivery, Post, Webhooks, event, http_post

# What a failure of the stand-in itself answers, in the provider's error format.
FAILURE = json_response(500, {"error": {"type": "api_error", "message": "stand-in error"}})


class StripeStandIn:
    """The stand-in's state and behaviour; ``serve()`` puts it on an HTTP port."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        webhook_url: str | None = None,
        retry_delays_s: tuple[float, ...] = (1, 2, 4, 8),
        post: Post | None = None,
    ) -> None:
        self.base_url = ""  # set by serve(); the sessions' checkout page URLs start with it
        self.resources = Resources(checkout_url=lambda session_id: f"{self.base_url}/checkout/{session_id}")
        self.webhooks = Webhooks(
            secret=webhook_secret, url=webhook_url, retry_delays_s=retry_delays_s, post=post or http_post
        )
        self.cards = Cards(self.resources)
        self.api = Api(self.resources, api_key=api_key, events=self.webhooks.send_later, cards=self.cards)
        self.checkout = Checkout(self.resources, self.webhooks, self.cards)
        self._server: StandInServer | None = None

    @property
    def webhook_url(self) -> str | None:
        return self.webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        # The runtime learns the gateway's URL after the stand-in is up.
        self.webhooks.url = url

    @property
    def deliveries(self) -> list[Delivery]:
        return self.webhooks.deliveries

    def dispute(self, intent_id: str, *, amount: int | None = None, reason: str = "fraudulent") -> Delivery:
        """The owner's bank disputes a payment: Stripe's ``charge.dispute.created``, sent now."""
        return self.webhooks.send(
            event("charge.dispute.created", self.resources.dispute(intent_id, amount=amount, reason=reason))
        )

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> Response:
        """Route one request; ``headers`` have lower-case names; returns status, headers and body."""
        parts = [p for p in urlsplit(path).path.split("/") if p]
        if parts[:1] == ["v1"]:
            # A GET's parameters are its query string (the SDK encodes them like a POST's form).
            given = urlsplit(path).query if method == "GET" else body
            return self.api.handle(method, parts[1:], headers, given)
        if parts[:1] == ["checkout"] and (answer := self.checkout.handle(method, parts[1:], body)):
            return answer
        if method == "GET" and parts == ["_standin", "deliveries"]:
            return json_response(200, {"deliveries": self.webhooks.summaries()})
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not found"

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = StandInServer(
            self.handle, host=host, port=port, name="stripe-standin", failure=FAILURE
        )
        self.base_url = self._server.base_url
        self._server.start()
        return self.base_url

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
