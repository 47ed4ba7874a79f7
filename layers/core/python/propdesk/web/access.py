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

RefusalKind = Literal[
    "no_route",
    "unauthenticated",
    "forbidden",
    "bad_link",
    "bad_signature",
    "bad_payload",
    "too_large",
    "too_deep",
    "unsupported_media_type",
]
STATUS = {
    "no_route": 404,
    "unauthenticated": 401,
    "forbidden": 403,
    "bad_link": 404,
    "bad_signature": 400,
    "bad_payload": 400,
    "too_large": 413,
    "too_deep": 400,
    "unsupported_media_type": 415,
}
# JSON nested deeper than this is refused before anything parses it (a parser recursing on a
# crafted body would fail with RecursionError, a 5xx). Real bodies, Stripe's events included,
# nest fewer than ten levels.
MAX_JSON_DEPTH = 32


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
    """Raised by a provider's verifier: the signature is missing, wrong or too old. No detail."""


class InvalidPayload(Exception):
    """Raised by a provider's verifier: correctly signed, but not a notification it can read."""


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


def content_type(event: Mapping[str, Any]) -> str:
    """The body's media type, lower case, without parameters ("" when not sent)."""
    return headers_of(event).get("content-type", "").split(";")[0].strip().lower()


def read_as_json(route: routes.Route, media_type: str) -> bool:
    """Whether something parses this body as JSON: the provider's verifier for a JSON body it
    declares, or the resolver, which reads a body without a media type, or one that merely starts
    with ``application/json``, as JSON."""
    if route.body is not None:
        return route.body.media_type == "application/json"
    return not media_type or media_type.startswith("application/json") or media_type.endswith("+json")


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects, counted without parsing it (brackets
    inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


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
        body = raw_body(event)
        if len(body) > route.max_body_bytes:
            raise Refused("too_large", route, limit=route.max_body_bytes)
        if body:
            self._check_body(route, body, content_type(event))
        return route, caller

    @staticmethod
    def _check_body(route: routes.Route, body: bytes, media_type: str) -> None:
        if route.body is not None and media_type not in route.body.accepts:
            raise Refused("unsupported_media_type", route)
        if read_as_json(route, media_type) and json_depth(body) > MAX_JSON_DEPTH:
            raise Refused("too_deep", route, limit=MAX_JSON_DEPTH)

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
        except InvalidPayload:
            raise Refused("bad_payload", route) from None


CALLER = "caller"


def caller_of(context: Mapping[str, Any]) -> Caller:
    """The caller the authorization step found (from the resolver's ``context``)."""
    return context[CALLER]
