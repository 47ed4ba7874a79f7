"""Who is calling a staff route: the Cognito claims in the JWT the authorizer checked.

API Gateway's JWT authorizer validates the token and passes its claims in
``requestContext.authorizer.jwt.claims``; list claims such as ``cognito:groups`` arrive as a
string like ``"[admin cashier]"``. The local gateway passes them the same way. The functions'
authorization step (``propdesk.web.access``) reads them with these helpers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class NotAuthenticated(Exception):
    """No verified staff identity on the request."""


def claims_of(event: Mapping[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    jwt = authorizer.get("jwt") or {}
    claims = jwt.get("claims")
    if not claims or not isinstance(claims, Mapping):
        raise NotAuthenticated
    return dict(claims)


def roles_of(claims: Mapping[str, Any]) -> frozenset[str]:
    raw = claims.get("cognito:groups")
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        text = raw.strip().removeprefix("[").removesuffix("]")
        return frozenset(part for part in text.replace(",", " ").split() if part)
    if isinstance(raw, Iterable):
        return frozenset(str(part) for part in raw)
    return frozenset()
