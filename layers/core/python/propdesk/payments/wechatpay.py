"""WeChat Pay (API v3) behind the payment-provider port, through the real ``wechatpayv3`` SDK.

- Native payment on a desktop (``code_url``, drawn as a QR code on our page) and H5 payment on a
  phone browser (``h5_url``). Amounts are integer fen (``amount.total``).
- Notifications are verified with the platform's signature (the platform public key, or its
  certificate) and their resource decrypted (AEAD_AES_256_GCM under the APIv3 key), both by the
  SDK's ``callback``; a notification it refuses raises ``NotificationRejected``.
- The answer WeChat Pay expects: 204 with no body for success; a JSON ``{"code": "FAIL",
  "message": ...}`` with a 4xx/5xx makes it deliver again.
- Query, close and refund by our ``out_trade_no`` / ``out_refund_no``; the day's trade statement
  (``tradebill``, gzip CSV) for reconciliation.

Keys live in the ``wechatpay`` secret (``WeChatPayKeys``). The SDK holds its gateway in one
attribute, ``WeChatPay._core._gate_way``: ``wechatpay_api_base`` (set only by the local runtime,
to its stand-in) is written there, in ``_client`` below, and nowhere else.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from propdesk import aws
from propdesk.payments.port import (
    ORDER_CLOSED,
    ORDER_OPEN,
    ORDER_PAID,
    ORDER_REFUNDED,
    Answer,
    NotificationRejected,
    PaymentRequest,
    PaymentStart,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    Statement,
    StatementLine,
    yuan_to_minor,
)
from propdesk.settings import ConfigurationMissing, Settings

WECHATPAY_SECRET = "wechatpay"  # noqa: S105 - the secret's key in the manifest, not a password
RAIL = "wechat_pay"
TIMEOUT = (5, 10)  # connect, read: seconds
NOTIFICATION_TOLERANCE_S = 300  # a notification's signature timestamp, either way
BEIJING = ZoneInfo("Asia/Shanghai")  # the statements' times are Beijing time

# trade_state -> our order state
_STATES = {
    "SUCCESS": ORDER_PAID,
    "REFUND": ORDER_REFUNDED,
    "NOTPAY": ORDER_OPEN,
    "USERPAYING": ORDER_OPEN,
    "CLOSED": ORDER_CLOSED,
    "REVOKED": ORDER_CLOSED,
    "PAYERROR": ORDER_CLOSED,
}


@dataclass(frozen=True)
class WeChatPayKeys:
    mchid: str
    appid: str
    private_key: str  # the merchant's API private key (PEM)
    cert_serial_no: str  # the merchant API certificate's serial number
    apiv3_key: str  # 32 characters
    public_key: str | None = None  # the platform public key (PEM), when the merchant uses one
    public_key_id: str | None = None

    @classmethod
    def from_secret(cls, value: Mapping[str, Any]) -> WeChatPayKeys:
        wanted = ("mchid", "appid", "private_key", "cert_serial_no", "apiv3_key")
        missing = [name for name in wanted if not value.get(name)]
        if missing:
            raise ConfigurationMissing(f"wechatpay secret needs {', '.join(missing)}")
        if len(str(value["apiv3_key"])) != 32:
            raise ConfigurationMissing("wechatpay secret: apiv3_key is 32 characters")
        if bool(value.get("public_key")) != bool(value.get("public_key_id")):
            raise ConfigurationMissing("wechatpay secret: public_key and public_key_id go together")
        return cls(
            mchid=str(value["mchid"]),
            appid=str(value["appid"]),
            private_key=str(value["private_key"]),
            cert_serial_no=str(value["cert_serial_no"]),
            apiv3_key=str(value["apiv3_key"]),
            public_key=str(value["public_key"]) if value.get("public_key") else None,
            public_key_id=str(value["public_key_id"]) if value.get("public_key_id") else None,
        )


def wechatpay_keys() -> WeChatPayKeys:
    return WeChatPayKeys.from_secret(aws.secret(WECHATPAY_SECRET))


@cache
def _client(keys: WeChatPayKeys, api_base: str | None) -> Any:
    from wechatpayv3 import WeChatPay, WeChatPayType

    if api_base and not keys.public_key:
        # Certificate mode downloads the platform certificates from the real gateway as the
        # client starts, before its gateway could be pointed elsewhere.
        raise ConfigurationMissing(
            "wechatpay: a local gateway needs public-key mode (public_key, public_key_id)"
        )
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=keys.mchid,
        private_key=keys.private_key,
        cert_serial_no=keys.cert_serial_no,
        appid=keys.appid,
        apiv3_key=keys.apiv3_key,
        timeout=TIMEOUT,
        public_key=keys.public_key,
        public_key_id=keys.public_key_id,
    )
    if api_base:
        client._core._gate_way = api_base.rstrip("/")  # the one place: see the module's docstring
    return client


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


class WeChatPayRail:
    """``PaymentProvider`` for WeChat Pay."""

    rail = RAIL

    def __init__(
        self, keys: WeChatPayKeys, *, api_base: str | None = None, notify_url: Callable[[], str] | None = None
    ) -> None:
        self.keys = keys
        self._wxpay = _client(keys, api_base)
        self._notify_url = notify_url  # where REFUND.* notifications go (our webhook)

    @classmethod
    def from_settings(cls, settings: Settings) -> WeChatPayRail:
        def notify_url() -> str:
            from propdesk import routes

            return aws.public_base_url() + routes.route("wechatpay_notify").path

        return cls(wechatpay_keys(), api_base=settings.wechatpay_api_base, notify_url=notify_url)

    # --- calls -----------------------------------------------------------------------------------

    def _call(self, method: Any, **kwargs: Any) -> tuple[int, Any]:
        try:
            code, message = method(**kwargs)
        except Exception as exc:  # the SDK raises bare Exceptions (network, a bad answer signature)
            raise ProviderUnavailable(type(exc).__name__) from exc
        if code >= 500:
            raise ProviderUnavailable(f"WeChat Pay answered {code}")
        return code, message

    @staticmethod
    def _refused(code: int, message: Any) -> ProviderRefused:
        try:
            body = json.loads(message)
        except (TypeError, ValueError):
            body = {}
        return ProviderRefused(str(body.get("code") or code), str(body.get("message") or "refused"))

    def start(self, request: PaymentRequest) -> PaymentStart:
        from wechatpayv3 import WeChatPayType

        if request.currency != "CNY":
            raise ProviderRefused("PARAM_ERROR", "WeChat Pay takes CNY only")
        phone = request.device == "phone"
        scene = {"payer_client_ip": request.client_ip or "127.0.0.1"}
        if phone:
            scene["h5_info"] = {"type": "Wap"}  # type: ignore[assignment]
        code, message = self._call(
            self._wxpay.pay,
            description=request.description[:127],
            out_trade_no=request.our_order_id,
            amount={"total": request.amount_minor, "currency": "CNY"},
            time_expire=request.expires_at.astimezone(UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            attach=request.unit_id[:128],
            notify_url=request.notify_url,
            scene_info=scene,
            pay_type=WeChatPayType.H5 if phone else WeChatPayType.NATIVE,
        )
        if code != 200:
            raise self._refused(code, message)
        answer = json.loads(message)
        if phone:
            # WeChat Pay sends the owner back to ``redirect_url`` when done (its domain must be the
            # one registered for H5 payment).
            h5_url = str(answer["h5_url"])
            joiner = "&" if "?" in h5_url else "?"
            back = f"{h5_url}{joiner}redirect_url={quote(request.return_url, safe='')}"
            return PaymentStart(order_id=request.our_order_id, kind="redirect", redirect_url=back)
        return PaymentStart(order_id=request.our_order_id, kind="qr", qr_text=str(answer["code_url"]))

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ProviderPayment | ProviderRefund:
        lowered = {key.lower(): value for key, value in headers.items()}
        if not lowered.get("wechatpay-signature"):
            raise NotificationRejected("signature")
        try:
            signed_at = int(lowered.get("wechatpay-timestamp", ""))
        except ValueError:
            raise NotificationRejected("timestamp") from None
        if abs(time.time() - signed_at) > NOTIFICATION_TOLERANCE_S:
            # A body signed long ago (or ahead) is a replay, not a delivery: WeChat Pay signs each
            # delivery afresh, retries included.
            raise NotificationRejected("timestamp")
        try:
            text = body.decode("utf-8")
            result = self._wxpay.callback(lowered, text)
        except UnicodeDecodeError:
            raise NotificationRejected("encoding") from None
        except Exception as exc:  # the SDK raises for an unknown algorithm or a key that doesn't decrypt
            raise NotificationRejected(type(exc).__name__) from None
        if not result:
            raise NotificationRejected("signature")
        resource = result.get("resource")
        if not isinstance(resource, dict):
            raise NotificationRejected("resource")
        event = str(result.get("event_type") or "")
        if event.startswith("REFUND."):
            # REFUND.SUCCESS: done. REFUND.CLOSED: it failed, nothing left the merchant.
            # REFUND.ABNORMAL: the money left the merchant and bounced at the payer's bank: the
            # merchant finishes it by hand, so it is neither done nor failed here.
            state = {"REFUND.SUCCESS": "succeeded", "REFUND.CLOSED": "failed"}.get(event, "abnormal")
            return self._refund(resource, state=state)
        if event != "TRANSACTION.SUCCESS":
            # Anything else: acknowledged, nothing to credit; reported as the order's state.
            return self._payment(resource, notification_id=str(result.get("id") or ""), ignore=True)
        if resource.get("mchid") not in (None, self.keys.mchid) or resource.get("appid") not in (
            None,
            self.keys.appid,
        ):
            raise NotificationRejected("merchant")
        return self._payment(resource, notification_id=str(result.get("id") or ""))

    def _refund(self, resource: Mapping[str, Any], *, state: str) -> ProviderRefund:
        if resource.get("mchid") not in (None, self.keys.mchid):
            raise NotificationRejected("merchant")
        amount = (resource.get("amount") or {}).get("refund")
        if isinstance(amount, bool) or not isinstance(amount, int) or not resource.get("out_refund_no"):
            raise NotificationRejected("refund")
        return ProviderRefund(
            rail=RAIL,
            order_id=str(resource.get("out_trade_no") or ""),
            refund_id=str(resource["out_refund_no"]),
            amount_minor=amount,
            state=state,  # type: ignore[arg-type]
            provider_refund_id=resource.get("refund_id"),
        )

    def _payment(
        self, resource: Mapping[str, Any], *, notification_id: str | None = None, ignore: bool = False
    ) -> ProviderPayment:
        amount = resource.get("amount") or {}
        total = amount.get("total")
        if isinstance(total, bool) or not isinstance(total, int):
            raise NotificationRejected("amount")
        state = "open" if ignore else _STATES.get(str(resource.get("trade_state")), ORDER_OPEN)
        return ProviderPayment(
            rail=RAIL,
            order_id=str(resource.get("out_trade_no") or ""),
            state=state,  # type: ignore[arg-type]
            amount_minor=total,
            currency=str(amount.get("currency") or "CNY"),
            provider_payment_id=resource.get("transaction_id"),
            paid_at=_time(resource.get("success_time")),
            method="wechat_pay",
            notification_id=notification_id,
        )

    def answer(self, *, ok: bool, message: str = "") -> Answer:
        if ok:
            return Answer(status=204, body="", content_type="application/json")
        body = json.dumps({"code": "FAIL", "message": message or "failed"}, ensure_ascii=False)
        return Answer(status=500, body=body, content_type="application/json")

    def query(self, order_id: str) -> ProviderPayment | None:
        code, message = self._call(self._wxpay.query, out_trade_no=order_id)
        if code == 404:
            return None
        if code != 200:
            raise self._refused(code, message)
        try:
            return self._payment(json.loads(message))
        except NotificationRejected as exc:
            raise ProviderUnavailable(f"query answer without {exc.reason}") from None

    def close(self, order_id: str) -> None:
        code, message = self._call(self._wxpay.close, out_trade_no=order_id)
        if code not in (200, 204):
            raise self._refused(code, message)

    def refund(
        self, order_id: str, *, refund_id: str, amount_minor: int, total_minor: int, reason: str
    ) -> RefundResult:
        code, message = self._call(
            self._wxpay.refund,
            out_refund_no=refund_id,
            amount={"refund": amount_minor, "total": total_minor, "currency": "CNY"},
            out_trade_no=order_id,
            reason=reason[:80],
            notify_url=self._notify_url() if self._notify_url else None,
        )
        if code != 200:
            raise self._refused(code, message)
        answer = json.loads(message)
        state = "succeeded" if answer.get("status") == "SUCCESS" else "processing"
        return RefundResult(refund_id=refund_id, provider_refund_id=answer.get("refund_id"), state=state)  # type: ignore[arg-type]

    def statement(self, day: date) -> Statement:
        code, message = self._call(self._wxpay.trade_bill, bill_date=day.isoformat(), bill_type="ALL")
        if code == 400 and "NO_STATEMENT_EXIST" in str(message):
            return Statement(rail=RAIL, day=day)
        if code != 200:
            raise self._refused(code, message)
        url = json.loads(message)["download_url"]
        code, content = self._call(self._wxpay.download_bill, url=url)
        if code != 200:
            raise self._refused(code, content)
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return Statement(rail=RAIL, day=day, lines=tuple(parse_tradebill(raw.decode("utf-8-sig"))))


def parse_tradebill(text: str) -> list[StatementLine]:
    """WeChat Pay's trade statement (交易账单) CSV: a header row, one row per trade with every
    field prefixed by a backtick, then the totals (总交易单数...) which are skipped."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [name.strip().lstrip("`") for name in rows[0]]
    at = {name: index for index, name in enumerate(header)}
    needed = ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额")
    if any(name not in at for name in needed):
        raise ValueError("not a WeChat Pay trade statement: " + ",".join(header[:6]))
    lines: list[StatementLine] = []
    for row in rows[1:]:
        fields = [cell.strip().lstrip("`") for cell in row]
        if not fields or fields[0].startswith("总") or len(fields) < len(header):
            break  # the totals
        when = datetime.strptime(fields[at["交易时间"]], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - Beijing time
        moment = when.replace(tzinfo=BEIJING).astimezone(UTC)
        refunded = fields[at["交易状态"]] == "REFUND"
        if refunded:
            amount_text = fields[at["退款金额"]] if "退款金额" in at else fields[at["应结订单金额"]]
        else:
            amount_text = fields[at["应结订单金额"]]
        lines.append(
            StatementLine(
                order_id=fields[at["商户订单号"]],
                provider_payment_id=fields[at["微信订单号"]],
                kind="refund" if refunded else "payment",
                amount_minor=yuan_to_minor(amount_text),
                currency="CNY",
                at=moment,
            )
        )
    return lines
