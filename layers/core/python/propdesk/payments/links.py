"""Owners' pay links: signed, expiring tokens scoped to one bill of one unit.

A token is ``<payload>.<signature>``, both base64url without padding; the payload is compact
JSON ``{"b": bill_id, "u": unit_id, "e": expiry epoch seconds}`` and the signature is
HMAC-SHA256 over the payload text with the link-signing key. Any change to either part, an
expired token or a token for another unit is refused with the same ``InvalidPayLink``, so a
caller learns nothing about other units.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_TOKEN_LENGTH = 512


class InvalidPayLink(Exception):
    """The token is unknown, altered or expired. Deliberately carries no detail."""


@dataclass(frozen=True)
class PayLink:
    bill_id: str
    unit_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def sign_pay_link(*, bill_id: str, unit_id: str, expires_at: datetime, key: bytes) -> str:
    body = json.dumps(
        {"b": bill_id, "u": unit_id, "e": int(expires_at.timestamp())},
        separators=(",", ":"),
        ensure_ascii=True,
    )
    payload = _b64(body.encode("utf-8"))
    return f"{payload}.{_signature(payload, key)}"


def verify_pay_link(token: str, *, key: bytes, now: datetime) -> PayLink:
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidPayLink
    payload, signature = token.split(".")
    try:
        expected = _signature(payload, key)
    except UnicodeEncodeError as exc:
        raise InvalidPayLink from exc
    if not hmac.compare_digest(expected, signature):
        raise InvalidPayLink
    try:
        data = json.loads(_unb64(payload))
        link = PayLink(
            bill_id=str(data["b"]),
            unit_id=str(data["u"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidPayLink from exc
    if now >= link.expires_at:
        raise InvalidPayLink
    return link


MIN_KEY_LENGTH = 32


def link_key_from_secret(secret: dict) -> bytes:
    """The signing key from the ``link_key`` secret ``{"key": "<random text, 32+ characters>"}``."""
    key = str(secret.get("key") or "").encode("utf-8")
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError("link signing key is missing or shorter than 32 characters")
    return key
