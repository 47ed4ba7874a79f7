"""``/v3``, WeChat Pay's merchant API over the orders: the request signature check (the
``Authorization: WECHATPAY2-SHA256-RSA2048 ...`` header), the routes the product calls, and
answers signed with the platform key, errors included.

Who signs an answer follows the request, as on the real platform: a request whose
``Wechatpay-Serial`` header is the platform public key id gets an answer signed with the public
key; any other request (the SDK in certificate mode sends none) gets one signed with the platform
certificate. ``/v3/certificates`` is always signed with the certificate, and a bill file download
is not signed at all."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infra.local.wechatpay.bills import BILL_TYPES, tradebill
from infra.local.wechatpay.errors import Response, WeChatPayError, required
from infra.local.wechatpay.keys import (
    CERTIFICATE,
    PUBLIC_KEY,
    SIGNATURE_TYPE,
    PlatformKeys,
    aead_encrypt,
    load_public_key,
    nonce_str,
    rsa_verify,
)
from infra.local.wechatpay.orders import CST, H5, NATIVE, Orders, Refund, rfc3339

__all__ = ["Api", "json_body"]

JSON = "application/json; charset=utf-8"
MAX_SKEW_S = 300  # a request signed more than 5 minutes away from now is refused
BILL_URL_TTL_S = 300
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def json_body(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class Api:
    def __init__(
        self,
        orders: Orders,
        *,
        platform: PlatformKeys,
        apiv3_key: str,
        merchant_serial: str,
        merchant_public_key: str,
        base_url: Callable[[], str],
        refund_created: Callable[[Refund], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.orders = orders
        self.platform = platform
        self.apiv3_key = apiv3_key
        self.merchant_serial = merchant_serial
        self.merchant_key = load_public_key(merchant_public_key)
        self._base_url = base_url
        self._refund_created = refund_created
        self._clock = clock
        self._bills: dict[str, tuple[bytes, float, bool]] = {}  # token -> file, expiry, gzip
        self._corrupt = 0
        self._lock = threading.Lock()

    def corrupt_next_answer(self) -> None:
        with self._lock:
            self._corrupt += 1

    def signed_headers(self, body: str, *, by: str) -> dict[str, str]:
        """The platform's signature headers over ``TIMESTAMP\\nNONCE\\nBODY\\n``."""
        timestamp = str(int(self._clock()))
        nonce = nonce_str(32)
        return {
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.platform.serial(by),
            "Wechatpay-Signature": self.platform.sign(f"{timestamp}\n{nonce}\n{body}\n", by=by),
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            "Wechatpay-Timestamp": timestamp,
        }

    def handle(self, method: str, target: str, headers: dict[str, str], body: str) -> Response:
        """Answer a request for ``/v3/...``; ``target`` is the path with its query, as signed;
        ``headers`` have lower-case names."""
        url = urlsplit(target)
        parts = [unquote(p) for p in url.path.split("/") if p][1:]
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        by = PUBLIC_KEY if headers.get("wechatpay-serial") == self.platform.public_key_id else CERTIFICATE
        if parts == ["certificates"]:
            by = CERTIFICATE
        try:
            mchid = self.authenticate(method, target, headers, body)
            if method == "GET" and parts == ["billdownload", "file"]:
                return self._download(query)
            status, payload = self._route(method, parts, query, body, mchid)
        except WeChatPayError as exc:
            status, payload = exc.status, exc.body()
        text = "" if payload is None else json_body(payload)
        out = {"Request-ID": secrets.token_hex(16), **self.signed_headers(text, by=by)}
        if payload is not None:
            out["Content-Type"] = JSON
        with self._lock:
            corrupt, self._corrupt = self._corrupt > 0, max(0, self._corrupt - 1)
        if corrupt:
            text = _corrupted(payload, text)
        return status, out, text.encode("utf-8")

    def authenticate(self, method: str, target: str, headers: dict[str, str], body: str) -> str:
        """Check the request's signature; returns the merchant id it was signed for."""
        value = headers.get("authorization", "").strip()
        if not value:
            raise WeChatPayError(401, "SIGN_ERROR", "Http头缺少Authorization或值为空")
        scheme, _, params = value.partition(" ")
        if scheme != SIGNATURE_TYPE:
            raise WeChatPayError(
                401, "SIGN_ERROR", f"Http头Authorization中的认证类型不正确，应为{SIGNATURE_TYPE}"
            )
        fields = dict(_AUTH_FIELD.findall(params))
        missing = [
            n for n in ("mchid", "nonce_str", "signature", "timestamp", "serial_no") if not fields.get(n)
        ]
        if missing:
            raise WeChatPayError(401, "SIGN_ERROR", f"Http头Authorization值格式错误，缺少{','.join(missing)}")
        if fields["mchid"] != self.orders.mchid:
            raise WeChatPayError(400, "MCH_NOT_EXISTS", "商户号不存在")
        if fields["serial_no"].upper() != self.merchant_serial.upper():
            raise WeChatPayError(401, "SIGN_ERROR", "商户证书序列号有误。请使用签名私钥匹配的证书序列号")
        timestamp = fields["timestamp"]
        if not timestamp.isdigit() or abs(self._clock() - int(timestamp)) > MAX_SKEW_S:
            raise WeChatPayError(401, "SIGN_ERROR", "签名中的时间戳与当前时间相差超过5分钟，请检查系统时间")
        message = f"{method}\n{target}\n{timestamp}\n{fields['nonce_str']}\n{body}\n"
        if not rsa_verify(self.merchant_key, message, fields["signature"]):
            raise WeChatPayError(401, "SIGN_ERROR", "错误的签名，验签失败")
        return fields["mchid"]

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], body: str, mchid: str
    ) -> tuple[int, dict[str, Any] | None]:
        match method, parts:
            case "GET", ["certificates"]:
                return 200, self._certificates()
            case "POST", ["pay", "transactions", ("native" | "h5") as kind]:
                order = self.orders.create(NATIVE if kind == "native" else H5, _json(body), mchid)
                if order.code_url:
                    return 200, {"code_url": order.code_url}
                return 200, {"h5_url": self._base_url() + (order.h5_path or "")}
            case "POST", ["pay", "transactions", ("jsapi" | "app" | "codepay")]:
                raise WeChatPayError(
                    403, "NO_AUTH", "商户号该产品权限未开通，请前往商户平台>产品中心检查后重试"
                )
            case "GET", ["pay", "transactions", "out-trade-no", out_trade_no]:
                self._check_query_mchid(query, mchid)
                return 200, self.orders.order(out_trade_no).transaction()
            case "GET", ["pay", "transactions", "id", transaction]:
                self._check_query_mchid(query, mchid)
                return 200, self.orders.by_transaction(transaction).transaction()
            case "POST", ["pay", "transactions", "out-trade-no", out_trade_no, "close"]:
                self.orders.close(out_trade_no, _json(body), mchid)
                return 204, None
            case "POST", ["refund", "domestic", "refunds"]:
                refund, created = self.orders.create_refund(_json(body))
                if created:
                    self._refund_created(refund)
                return 200, refund.view()
            case "GET", ["refund", "domestic", "refunds", out_refund_no]:
                return 200, self.orders.refund(out_refund_no).view()
            case "GET", ["bill", "tradebill"]:
                return 200, self._tradebill(query)
        raise WeChatPayError(404, "NOT_FOUND", f"请求的资源不存在: {method} /v3/{'/'.join(parts)}")

    def _check_query_mchid(self, query: dict[str, str], mchid: str) -> None:
        if not query.get("mchid"):
            raise required("/query/mchid", "直连商户号")
        if query["mchid"] != mchid:
            raise WeChatPayError(400, "INVALID_REQUEST", "请求中的商户号与签名认证的商户号不一致")

    def _certificates(self) -> dict[str, Any]:
        certificate = self.platform.certificate
        return {
            "data": [
                {
                    "serial_no": self.platform.certificate_serial,
                    "effective_time": rfc3339(certificate.not_valid_before_utc.timestamp()),
                    "expire_time": rfc3339(certificate.not_valid_after_utc.timestamp()),
                    "encrypt_certificate": aead_encrypt(
                        self.apiv3_key, self.platform.certificate_pem, "certificate"
                    ),
                }
            ]
        }

    def _tradebill(self, query: dict[str, str]) -> dict[str, Any]:
        text = query.get("bill_date")
        if not text:
            raise required("/query/bill_date", "账单日期")
        try:
            day = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
        except ValueError:
            day = None
        if day is None:
            raise WeChatPayError(
                400, "PARAM_ERROR", "账单日期格式不正确，应为yyyy-MM-DD", detail={"location": "query"}
            )
        bill_type = query.get("bill_type") or "ALL"
        if bill_type not in BILL_TYPES:
            raise WeChatPayError(400, "PARAM_ERROR", f"账单类型bill_type不正确: {bill_type}")
        tar_type = query.get("tar_type")
        if tar_type not in (None, "", "GZIP"):
            raise WeChatPayError(400, "PARAM_ERROR", f"压缩类型tar_type不正确: {tar_type}")
        now = self._clock()
        today = datetime.fromtimestamp(now, CST).date()
        if day > today:
            raise WeChatPayError(400, "PARAM_ERROR", "账单日期不能晚于当前日期")
        if day == today:
            raise WeChatPayError(400, "STATEMENT_CREATING", "账单生成中，当日账单请于次日10点后下载")
        if day < today - timedelta(days=92):
            raise WeChatPayError(400, "PARAM_ERROR", "仅支持三个月内的账单下载申请")
        orders, refunds = self.orders.snapshot()
        bill = tradebill(orders, refunds, day, bill_type)
        if bill is None:
            raise WeChatPayError(400, "NO_STATEMENT_EXIST", "当前商户号没有已成交的订单，不生成对账单")
        raw = bill.encode("utf-8")
        token = secrets.token_urlsafe(36)
        zipped = tar_type == "GZIP"
        with self._lock:
            self._bills = {k: v for k, v in self._bills.items() if v[1] > now}
            self._bills[token] = (
                gzip.compress(raw, mtime=0) if zipped else raw,
                now + BILL_URL_TTL_S,
                zipped,
            )
        return {
            "hash_type": "SHA1",
            # WeChat Pay's integrity hash of the bill itself (unzipped), not a security measure.
            "hash_value": hashlib.sha1(raw, usedforsecurity=False).hexdigest(),
            "download_url": f"{self._base_url()}/v3/billdownload/file?token={token}",
        }

    def _download(self, query: dict[str, str]) -> Response:
        with self._lock:
            found = self._bills.get(query.get("token") or "")
        if found is None or found[1] < self._clock():
            raise WeChatPayError(400, "INVALID_REQUEST", "账单下载地址已过期或无效，请重新申请")
        data, _, zipped = found
        content_type = "application/octet-stream" if zipped else "text/plain; charset=utf-8"
        # Not signed: WeChat Pay's answers to a bill download carry no signature.
        return 200, {"Content-Type": content_type, "Request-ID": secrets.token_hex(16)}, data


def _json(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise WeChatPayError(400, "PARAM_ERROR", "请求体不是合法的JSON对象", detail={"location": "body"})
    return data


def _corrupted(payload: dict[str, Any] | None, text: str) -> str:
    """The answer as someone between the platform and the merchant changed it (after signing)."""
    if isinstance(payload, dict):
        for name, value in payload.items():
            if isinstance(value, str):
                return json_body({**payload, name: value + "0"})
            if isinstance(value, int) and not isinstance(value, bool):
                return json_body({**payload, name: value + 1})
    return text + " "
