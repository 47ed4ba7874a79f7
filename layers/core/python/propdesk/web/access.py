"""The one authorization step of every HTTP function: who is calling, and may they?

It runs before a request reaches the resolver (so a caller without the right learns nothing
from validation errors), reads the route API Gateway matched (the event's ``routeKey``) in the
route table (``propdesk.routes``) and applies the route's audience:

- staff: the JWT claims API Gateway's authorizer verified (401 without them), then the route's
  roles (403 without one);
- owner link: the pay-link token in the path, signature and expiry (404, the same for every
  refusal, so nothing about other units leaks);
- provider signature: the provider's verifier over the raw body (400);
- public: nobody is refused.

Then the body's size against the route's limit (413). The caller it finds is handed to the
route through the resolver's context (``caller_of``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from propdesk import routes
from propdesk.auth import NotAuthenticated, claims_of, roles_of
from propdesk.payments.links import InvalidPayLink, PayLink

RefusalKind = Literal["no_route", "unauthenticated", "forbidden", "bad_link", "bad_signature", "too_large"]
STATUS = {
    "no_route": 404,
    "unauthenticated": 401,
    "forbidden": 403,
    "bad_link": 404,
    "bad_signature": 400,
    "too_large": 413,
}


@dataclass(frozen=True)
class Anyone:
    pass


@dataclass(frozen=True)
class StaffUser:
    sub: str
    roles: frozenset[str]


@dataclass(frozen=True)
class LinkHolder:
    token: str
    link: PayLink


@dataclass(frozen=True)
class Provider:
    provider: str
    payload: Any  # what the provider's verifier returned (e.g. the verified event)


Caller = Anyone | StaffUser | LinkHolder | Provider


class Refused(Exception):
    """The request is refused before it reaches the route; ``status`` is the HTTP answer."""

    def __init__(self, kind: RefusalKind, route: routes.Route | None, *, limit: int | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.route = route
        self.limit = limit

    @property
    def status(self) -> int:
        return STATUS[self.kind]


class InvalidSignature(Exception):
    """Raised by a provider's verifier. Carries no detail on purpose."""


LinkVerifier = Callable[[str, datetime], PayLink]  # (token, now) -> link, or InvalidPayLink
ProviderVerifier = Callable[[bytes, Mapping[str, str]], Any]  # (raw body, headers) -> payload


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body as the caller sent it (API Gateway base64-encodes what is not text)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return body.encode("utf-8")
    return body.encode("utf-8")


def headers_of(event: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


class Access:
    """The authorization step of one function: the verifiers its routes' audiences need."""

    def __init__(
        self,
        *,
        function: str,
        links: LinkVerifier | None = None,
        providers: Mapping[str, ProviderVerifier] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.function = function
        self._links = links
        self._providers = dict(providers or {})
        self._now = now

    def check(self, event: Mapping[str, Any]) -> tuple[routes.Route, Caller]:
        route = routes.find(str(event.get("routeKey") or ""))
        if route is None or route.function != self.function:
            raise Refused("no_route", route)
        caller = self._caller(route, event)
        if len(raw_body(event)) > route.max_body_bytes:
            raise Refused("too_large", route, limit=route.max_body_bytes)
        return route, caller

    def _caller(self, route: routes.Route, event: Mapping[str, Any]) -> Caller:
        audience = route.audience
        if isinstance(audience, routes.Public):
            return Anyone()
        if isinstance(audience, routes.Staff):
            try:
                claims = claims_of(event)
            except NotAuthenticated:
                raise Refused("unauthenticated", route) from None
            roles = roles_of(claims)
            if not roles & set(audience.roles):
                raise Refused("forbidden", route)
            return StaffUser(sub=str(claims.get("sub") or ""), roles=roles)
        if isinstance(audience, routes.OwnerLink):
            token = str((event.get("pathParameters") or {}).get("token") or "")
            if self._links is None:
                raise RuntimeError(f"{self.function}: owner-link routes need a link verifier")
            try:
                return LinkHolder(token=token, link=self._links(token, self._now()))
            except InvalidPayLink:
                raise Refused("bad_link", route) from None
        verify = self._providers.get(audience.provider)
        if verify is None:
            raise RuntimeError(f"{self.function}: no verifier for provider {audience.provider!r}")
        try:
            return Provider(audience.provider, verify(raw_body(event), headers_of(event)))
        except InvalidSignature:
            raise Refused("bad_signature", route) from None


CALLER = "caller"


def caller_of(context: Mapping[str, Any]) -> Caller:
    """The caller the authorization step found (from the resolver's ``context``)."""
    return context[CALLER]
