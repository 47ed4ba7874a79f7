"""Owners' pay links: signed, expiring tokens scoped to one bill of one unit.

A token is ``<payload>.<signature>``, both base64url without padding; the payload is compact
JSON ``{"b": bill_id, "u": unit_id, "e": expiry epoch seconds}`` and the signature is
HMAC-SHA256 over the payload text with the link-signing key. Any change to either part, an
expired token or a token for another unit is refused with the same ``InvalidPayLink``, so a
caller learns nothing about other units.

``PayLinks`` is the one place links are made: it loads the signing key and the public base URL
once per warm function, signs, and URL-quotes the token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote, unquote

MAX_TOKEN_LENGTH = 512


class InvalidPayLink(Exception):
    """The token is unknown, altered or expired. Deliberately carries no detail."""


@dataclass(frozen=True)
class PayLink:
    bill_id: str  # "" for a link to the account rather than one bill's notice
    unit_id: str
    expires_at: datetime
    owner_id: str | None = None  # whose link it is: refused once the unit has another owner


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def sign_pay_link(
    *, bill_id: str, unit_id: str, expires_at: datetime, key: bytes, owner_id: str | None = None
) -> str:
    claims: dict[str, object] = {"b": bill_id, "u": unit_id, "e": int(expires_at.timestamp())}
    if owner_id:
        claims["o"] = owner_id
    body = json.dumps(
        claims,
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
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged link may carry them).
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise InvalidPayLink
    try:
        data = json.loads(_unb64(payload))
        link = PayLink(
            bill_id=str(data["b"]),
            unit_id=str(data["u"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), tz=UTC),
            owner_id=str(data["o"]) if data.get("o") is not None else None,
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidPayLink from exc
    if now >= link.expires_at:
        raise InvalidPayLink
    return link


MIN_KEY_LENGTH = 32
LINK_KEY_SECRET = "link_key"  # noqa: S105 - the secret's key in the manifest, not a password
# A link sent again (a reminder) stays valid at least this long after it is sent.
MIN_DAYS_LEFT = timedelta(days=7)


def link_key_from_secret(secret: dict) -> bytes:
    """The signing key from the ``link_key`` secret ``{"key": "<random text, 32+ characters>"}``."""
    key = str(secret.get("key") or "").encode("utf-8")
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError("link signing key is missing or shorter than 32 characters")
    return key


def pay_path(token: str, suffix: str = "") -> str:
    """``/pay/<token><suffix>``, the token quoted: the one way an owner's page is addressed."""
    return f"/pay/{quote(token, safe='')}{suffix}"


def site_root(page_url: str) -> str:
    """The public base URL an owner's page URL (``<base>/pay/<token>...``) sits under."""
    root, found, _rest = page_url.rpartition("/pay/")
    if not found:
        raise ValueError("not an owner's page URL")
    return root


def bill_notice_url(page_url: str, bill_id: str) -> str:
    """The bill's printable notice (PDF) under the owner's page: ``<page>/bills/<bill id>/notice``."""
    return f"{page_url.rstrip('/')}/bills/{quote(bill_id, safe='')}/notice"


def standard_page_url(page_url: str, version: str, locale: str) -> str:
    """The public page of a fee standard's version, in ``locale``, on the same site as the page."""
    return f"{site_root(page_url)}/standards/{quote(version, safe='')}?lang={quote(locale, safe='')}"


def token_of(page_url: str) -> str:
    """The token of an owner's page URL (unquoted), as made by ``PayLinks.page_url``."""
    rest = page_url.rpartition("/pay/")[2]
    return unquote(rest.split("/", 1)[0].split("?", 1)[0])


def expiry_of(token: str) -> datetime:
    """When a token we signed expires, read from its payload without checking the signature: for
    keeping something that leads to it (a short link) no longer than it; the token itself is
    verified whenever it is used."""
    try:
        payload = token.split(".", 1)[0]
        return datetime.fromtimestamp(int(json.loads(_unb64(payload))["e"]), tz=UTC)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidPayLink from exc


class LinkedBill(Protocol):
    bill_id: str
    unit_id: str
    owner_id: str
    issued_at: datetime


class PayLinks:
    """Owners' pay links of one property: signed with its key, under its public URL.

    ``key`` and ``base_url`` are read when used, from the ``link_key`` secret and the public-URL
    parameter through Powertools' cache (``parameters_max_age``): a warm function reads them once
    per period, and a rotated key reaches every function within it. Tests pass them in.
    """

    def __init__(
        self,
        *,
        ttl: timedelta,
        key: bytes | Callable[[], bytes],
        base_url: str | Callable[[], str],
    ) -> None:
        self.ttl = ttl
        self._key = key
        self._base_url = base_url

    @classmethod
    def for_function(cls, *, ttl_days: int) -> PayLinks:
        """The links of the running function, from its declared secret and parameter."""
        from propdesk import aws

        return cls(
            ttl=timedelta(days=ttl_days),
            key=lambda: link_key_from_secret(aws.secret(LINK_KEY_SECRET)),
            base_url=aws.public_base_url,
        )

    @property
    def key(self) -> bytes:
        return self._key if isinstance(self._key, bytes) else self._key()

    @property
    def base_url(self) -> str:
        return (self._base_url if isinstance(self._base_url, str) else self._base_url()).rstrip("/")

    def token(self, bill: LinkedBill, *, now: datetime | None = None) -> str:
        """The bill's token, valid ``ttl`` from the bill's issue time (so a rerun signs the same
        link). With ``now`` (a link sent again), a link about to expire is renewed from ``now``."""
        expires = bill.issued_at + self.ttl
        if now is not None and expires < now + MIN_DAYS_LEFT:
            expires = now + self.ttl
        return sign_pay_link(
            bill_id=bill.bill_id,
            unit_id=bill.unit_id,
            expires_at=expires,
            key=self.key,
            owner_id=bill.owner_id,
        )

    def account_url(self, unit_id: str, *, owner_id: str, now: datetime) -> str:
        """A fresh link to the unit's account page (no bill named), valid ``ttl`` from ``now``:
        what an owner who lost or outlived their link is sent."""
        token = sign_pay_link(
            bill_id="", unit_id=unit_id, expires_at=now + self.ttl, key=self.key, owner_id=owner_id
        )
        return self.page_url(token)

    def receipt_url(self, unit_id: str, payment_id: str, *, owner_id: str, now: datetime) -> str:
        """The owner's link to a payment's receipt PDF (through the account page's route, which
        mints a short-lived file link each time), valid ``ttl`` from ``now``."""
        token = sign_pay_link(
            bill_id="", unit_id=unit_id, expires_at=now + self.ttl, key=self.key, owner_id=owner_id
        )
        return self.page_url(token, f"/payments/{quote(payment_id, safe='')}/receipt")

    def page_url(self, token: str, suffix: str = "") -> str:
        """``<base>/pay/<token><suffix>``: the owner's page, or one of its actions (``/return``)."""
        return self.base_url + pay_path(token, suffix)

    def url(self, bill: LinkedBill, *, now: datetime | None = None) -> str:
        return self.page_url(self.token(bill, now=now))

    def verify(self, token: str, *, now: datetime) -> PayLink:
        return verify_pay_link(token, key=self.key, now=now)


_function_links: list[tuple[object, PayLinks]] = []


def pay_links() -> PayLinks:
    """The running function's pay links: one ``PayLinks`` per warm instance (per settings, so a
    test that changes the settings gets a new one)."""
    from propdesk.settings import get_settings

    settings = get_settings()
    if not _function_links or _function_links[0][0] is not settings:
        links = PayLinks.for_function(ttl_days=settings.property_config.payment.link_ttl_days)
        _function_links[:] = [(settings, links)]
    return _function_links[0][1]
