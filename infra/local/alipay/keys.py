"""RSA2 as the Open Platform uses it: SHA256withRSA (PKCS#1 v1.5), the signature in base64, over
``k=v`` pairs sorted by key and joined with ``&`` (the values as they are, not URL-encoded).

Which parameters a signature covers depends on the direction, as Alipay documents it:

- a request (the app signs, Alipay verifies): every parameter except ``sign`` and the ones whose
  value is empty; ``sign_type`` IS covered (``python-alipay-sdk`` signs it too);
- what Alipay sends (async notifications, the sync return to ``return_url``): every parameter
  except ``sign`` and ``sign_type``;
- a JSON answer from the gateway: the exact text of the ``<method>_response`` object.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "AppKeys",
    "KeyPair",
    "generate_app_keys",
    "load_public_key",
    "notification_string",
    "request_string",
    "sign_rsa2",
    "verify_rsa2",
]


@dataclass(frozen=True)
class KeyPair:
    """An RSA-2048 key pair as PEM text (private: PKCS#8; public: SubjectPublicKeyInfo)."""

    private_pem: str
    public_pem: str

    @property
    def public_base64(self) -> str:
        """The public key as Alipay's console shows and takes it: the PEM body on one line."""
        return "".join(line for line in self.public_pem.strip().splitlines() if not line.startswith("-----"))

    @classmethod
    def generate(cls) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return cls(private_pem=private_pem, public_pem=public_pem)


# An app's key pair: the app (the product) signs with the private key and uploads the public key
# to the Open Platform (here: gives it to the stand-in).
AppKeys = KeyPair


def generate_app_keys() -> AppKeys:
    """A fresh app key pair: ``private_pem`` is the SDK's ``app_private_key_string``,
    ``public_pem`` is what the stand-in is given to verify the app's requests."""
    return KeyPair.generate()


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """A public key from PEM, or from the bare base64 the Open Platform console shows."""
    text = text.strip()
    if not text.startswith("-----"):
        body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
        text = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def sign_rsa2(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_rsa2(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature.encode(), validate=False)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _joined(items: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(items))


def request_string(params: Mapping[str, str]) -> str:
    """What an app signs for a request: all parameters but ``sign`` and the empty ones."""
    return _joined((k, v) for k, v in params.items() if k != "sign" and v != "")


def notification_string(params: Mapping[str, str]) -> str:
    """What Alipay signs in a notification or a sync return: all but ``sign`` and ``sign_type``."""
    return _joined((k, v) for k, v in params.items() if k not in ("sign", "sign_type"))
