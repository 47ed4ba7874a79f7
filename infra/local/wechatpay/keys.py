"""The keys of both sides, and WeChat Pay's cryptography: SHA256withRSA signatures over
newline-joined strings, and AEAD_AES_256_GCM under the APIv3 key.

- ``merchant_keys()``: a merchant API key pair and its certificate serial number, for the local
  runtime and the tests (the merchant signs requests with the private key; the stand-in is given
  the public key and the serial, as WeChat Pay holds the merchant's API certificate).
- ``PlatformKeys``: WeChat Pay's platform key pair, known two ways at once: as a "WeChat Pay public
  key" with its id (``PUB_KEY_ID_...``) and as a self-signed platform certificate with its serial
  number (what ``/v3/certificates`` hands out). Either signs answers and notifications.
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

__all__ = [
    "CERTIFICATE",
    "PUBLIC_KEY",
    "SIGNATURE_TYPE",
    "MerchantKeys",
    "PlatformKeys",
    "aead_decrypt",
    "aead_encrypt",
    "load_public_key",
    "merchant_keys",
    "nonce_str",
    "rsa_sign",
    "rsa_verify",
]

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
PUBLIC_KEY = "public_key"  # who signs: the WeChat Pay public key ...
CERTIFICATE = "certificate"  # ... or the platform certificate
_ALNUM = string.ascii_letters + string.digits


def nonce_str(length: int = 32) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5) over the UTF-8 message, base64."""
    signature = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True


def aead_encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """An encrypted ``resource`` (or ``encrypt_certificate``) as WeChat Pay sends it: a 12-character
    nonce, and the ciphertext with its 16-byte tag, base64."""
    nonce = nonce_str(12)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), plaintext.encode("utf-8"), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def aead_decrypt(apiv3_key: str, resource: dict[str, str]) -> str | None:
    try:
        plain = AESGCM(apiv3_key.encode()).decrypt(
            resource["nonce"].encode(),
            base64.b64decode(resource["ciphertext"]),
            resource.get("associated_data", "").encode(),
        )
    except (InvalidTag, KeyError, ValueError):
        return None
    return plain.decode("utf-8")


@dataclass(frozen=True)
class MerchantKeys:
    """A merchant's API key pair (PEM) and the serial number of its API certificate."""

    private_key: str
    public_key: str
    serial_no: str


def merchant_keys() -> MerchantKeys:
    key = _new_rsa_key()
    return MerchantKeys(
        private_key=_private_pem(key),
        public_key=_public_pem(key.public_key()),
        serial_no=f"{x509.random_serial_number():040X}",
    )


class PlatformKeys:
    """WeChat Pay's platform keys: the "WeChat Pay public key" (its private half signs for merchants
    in public-key mode, ``Wechatpay-Serial: PUB_KEY_ID_...``) and, a key pair of its own as on the
    real platform, the platform certificate (self-signed, valid from a day ago for ten years; it
    signs for merchants in certificate mode, ``Wechatpay-Serial: <certificate serial>``)."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        *,
        public_key_id: str,
        certificate_key: rsa.RSAPrivateKey,
        certificate: x509.Certificate,
    ) -> None:
        self.key = key
        self.public_key_id = public_key_id
        self.certificate_key = certificate_key
        self.certificate = certificate

    @classmethod
    def generate(cls, public_key_id: str | None = None) -> PlatformKeys:
        certificate_key = _new_rsa_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com (local stand-in)"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Tenpay.com CA Center"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA"),
            ]
        )
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(certificate_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(certificate_key, hashes.SHA256())
        )
        key_id = public_key_id or "PUB_KEY_ID_0114" + "".join(
            secrets.choice(string.digits) for _ in range(24)
        )
        return cls(
            _new_rsa_key(), public_key_id=key_id, certificate_key=certificate_key, certificate=certificate
        )

    @property
    def public_key_pem(self) -> str:
        return _public_pem(self.key.public_key())

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def certificate_serial(self) -> str:
        """The certificate's serial number as WeChat Pay writes it: upper-case hex."""
        return f"{self.certificate.serial_number:040X}"

    def serial(self, by: str) -> str:
        return self.public_key_id if by == PUBLIC_KEY else self.certificate_serial

    def sign(self, message: str, *, by: str = "public_key") -> str:
        """Sign with the public key's private half (``by="public_key"``) or the certificate's."""
        return rsa_sign(self.key if by == PUBLIC_KEY else self.certificate_key, message)
