"""Staff tokens, locally: a stand-in for the Cognito user pool and API Gateway's JWT authorizer.

A fresh RSA key pair per run signs ID-token-shaped JWTs (``cognito:groups`` as a list, like
Cognito). ``verify`` checks them as the HTTP API's JWT authorizer does (RS256 signature,
issuer, audience, expiry) and returns the claims as API Gateway passes them to the function:
every value a string, lists rendered as ``"[admin cashier]"``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class Unauthorized(Exception):
    """Missing or invalid bearer token (the authorizer answers 401)."""


def _claim_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway HTTP API hands them to the function: flattened to strings."""
    return {key: _claim_text(value) for key, value in claims.items()}


@dataclass(frozen=True)
class TokenIssuer:
    issuer: str
    audience: str
    private_key: rsa.RSAPrivateKey
    key_id: str

    @classmethod
    def generate(cls, *, issuer: str, audience: str) -> TokenIssuer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(issuer=issuer, audience=audience, private_key=key, key_id=uuid.uuid4().hex[:16])

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def mint(self, *, roles: list[str], sub: str | None = None, ttl_s: int = 3600, **extra: Any) -> str:
        now = int(time.time())
        subject = sub or f"local-{'-'.join(roles) or 'staff'}"
        claims = {
            "sub": subject,
            "iss": self.issuer,
            "aud": self.audience,
            "token_use": "id",
            "cognito:username": subject,
            "cognito:groups": list(roles),
            "auth_time": now,
            "iat": now,
            "exp": now + ttl_s,
            **extra,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})

    def verify(self, authorization: str | None) -> dict[str, str]:
        """Claims of a valid ``Bearer <jwt>`` header, as the gateway passes them; else ``Unauthorized``."""
        if not authorization:
            raise Unauthorized
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized
        try:
            claims = jwt.decode(
                token.strip(),
                self.private_key.public_key(),
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized from exc
        return gateway_claims(claims)
