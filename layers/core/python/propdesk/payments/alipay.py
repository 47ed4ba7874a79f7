"""Alipay behind the payment-provider port, through the real ``python-alipay-sdk``.

- Page pay (电脑网站支付, ``alipay.trade.page.pay``) on a desktop and WAP pay (手机网站支付,
  ``alipay.trade.wap.pay``) on a phone browser: both are a signed URL on Alipay's gateway the
  owner's browser is sent to. Alipay takes yuan strings; we convert fen exactly at this edge.
- Async notifications (异步通知) are form posts signed with Alipay's RSA2 key; the SDK's
  ``verify`` checks them against the Alipay public key in the secret. The answer Alipay expects is
  the seven characters ``success``; anything else makes it resend (8 times over about 25 hours,
  the same body each time).
- A resend repeats the body, so a body seen again inside Alipay's resend window is a resend and
  lands idempotently (the payment is keyed on the order). One whose ``notify_time`` is older than
  the window is not Alipay's: it is refused as a replay.
- Query, close and refund by our ``out_trade_no`` / ``out_request_no``; the day's trade statement
  (``alipay.data.dataservice.bill.downloadurl.query``, a ZIP of GBK CSV) for reconciliation.
- Alipay creates a trade only when the owner opens the pay URL: until then a query or a close
  answers ``ACQ.TRADE_NOT_EXIST``, which here means "never paid".

Keys live in the ``alipay`` secret (``AlipayKeys``). The SDK holds its gateway in one attribute,
``AliPay._gateway``: ``alipay_gateway`` (set only by the local runtime, to its stand-in) is
written there, in ``_client`` below, and nowhere else.
"""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
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
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    Statement,
    StatementLine,
    minor_to_yuan,
    yuan_to_minor,
)
from propdesk.settings import ConfigurationMissing, Settings

ALIPAY_SECRET = "alipay"  # noqa: S105 - the secret's key in the manifest, not a password
RAIL = "alipay"
TIMEOUT_S = 10
BEIJING = ZoneInfo("Asia/Shanghai")  # Alipay's times are Beijing time
# Alipay resends an unanswered notification for about 25 hours (4m, 10m, 10m, 1h, 2h, 6h, 15h):
# a body older than this is not a resend.
RESEND_WINDOW = timedelta(hours=26)
SUCCESS_CODE = "10000"
# Business answers whose result is not known: retry the same request, never treat as refused.
UNKNOWN_RESULT = frozenset({"ACQ.SYSTEM_ERROR", "isp.unknow-error", "aop.ACQ.SYSTEM_ERROR"})

# trade_status -> our order state. TRADE_CLOSED is also a trade refunded in full: ``_payment``
# tells them apart by the refund in the report.
_STATES = {
    "WAIT_BUYER_PAY": ORDER_OPEN,
    "TRADE_SUCCESS": ORDER_PAID,
    "TRADE_FINISHED": ORDER_PAID,
    "TRADE_CLOSED": ORDER_CLOSED,
}


@dataclass(frozen=True)
class AlipayKeys:
    app_id: str
    app_private_key: str  # the app's RSA2 private key (PEM)
    alipay_public_key: str  # Alipay's public key (PEM), from the open platform's console
    seller_id: str | None = None  # the merchant's PID (2088...), checked on notifications when set

    @classmethod
    def from_secret(cls, value: Mapping[str, Any]) -> AlipayKeys:
        wanted = ("app_id", "app_private_key", "alipay_public_key")
        missing = [name for name in wanted if not value.get(name)]
        if missing:
            raise ConfigurationMissing(f"alipay secret needs {', '.join(missing)}")
        return cls(
            app_id=str(value["app_id"]),
            app_private_key=str(value["app_private_key"]),
            alipay_public_key=str(value["alipay_public_key"]),
            seller_id=str(value["seller_id"]) if value.get("seller_id") else None,
        )


def alipay_keys() -> AlipayKeys:
    return AlipayKeys.from_secret(aws.secret(ALIPAY_SECRET))


@cache
def _client(keys: AlipayKeys, gateway: str | None) -> Any:
    from alipay import AliPay, AliPayConfig

    client = AliPay(
        appid=keys.app_id,
        app_notify_url=None,
        app_private_key_string=keys.app_private_key,
        alipay_public_key_string=keys.alipay_public_key,
        sign_type="RSA2",
        config=AliPayConfig(timeout=TIMEOUT_S),
    )
    if gateway:
        client._gateway = gateway  # the one place: see the module's docstring
    return client


def _beijing(text: str | None) -> datetime | None:
    """Alipay's ``yyyy-MM-dd HH:mm:ss`` (Beijing time) to an aware UTC time."""
    if not text:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - Beijing time
    except ValueError:
        return None
    return moment.replace(tzinfo=BEIJING).astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _subject(text: str) -> str:
    # Alipay refuses / = & in a subject; 256 characters at most.
    return "".join(" " if ch in "/=&" else ch for ch in text)[:256]


class AlipayRail:
    """``PaymentProvider`` for Alipay."""

    rail = RAIL

    def __init__(self, keys: AlipayKeys, *, gateway: str | None = None) -> None:
        self.keys = keys
        self._alipay = _client(keys, gateway)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlipayRail:
        return cls(alipay_keys(), gateway=settings.alipay_gateway)

    # --- calls -----------------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from alipay.exceptions import AliPayException, AliPayValidationError

        try:
            answer = method(*args, **kwargs)
        except AliPayValidationError:
            # The answer's signature is not Alipay's: nothing we can trust in it.
            raise ProviderUnavailable("answer signature") from None
        except AliPayException as exc:  # gateway errors (40002 ...), unsigned
            # The SDK keeps the code in a private attribute (its args are empty).
            code = str(getattr(exc, "_AliPayException__code", None) or "0")
            if code in ("0", "20000") or code.startswith("2"):  # unknown, or service unavailable
                raise ProviderUnavailable(f"Alipay answered {code}") from None
            raise ProviderRefused(code, "gateway refused the request") from None
        except (OSError, ValueError) as exc:  # network, or an answer that is not JSON
            raise ProviderUnavailable(type(exc).__name__) from exc
        if not isinstance(answer, dict):
            raise ProviderUnavailable("answer")
        return answer

    @staticmethod
    def _refused(answer: Mapping[str, Any]) -> ProviderRefused:
        return ProviderRefused(
            str(answer.get("sub_code") or answer.get("code") or "unknown"),
            str(answer.get("sub_msg") or answer.get("msg") or "refused"),
        )

    def start(self, request: PaymentRequest) -> PaymentStart:
        if request.currency != "CNY":
            raise ProviderRefused("ACQ.INVALID_PARAMETER", "Alipay's page and WAP pay take CNY only")
        common: dict[str, Any] = {
            "subject": _subject(request.description),
            "out_trade_no": request.our_order_id,
            "total_amount": minor_to_yuan(request.amount_minor),
            "return_url": request.return_url,
            "notify_url": request.notify_url,
            "time_expire": _stamp(request.expires_at),
        }
        if request.device == "phone":
            # Alipay's product code for WAP pay is QUICK_WAP_WAY (the SDK's default, QUICK_WAP_PAY,
            # is refused by the gateway).
            signed = self._alipay.api_alipay_trade_wap_pay(
                quit_url=request.return_url, product_code="QUICK_WAP_WAY", **common
            )
        else:
            signed = self._alipay.api_alipay_trade_page_pay(**common)
        return PaymentStart(
            order_id=request.our_order_id, kind="redirect", redirect_url=f"{self._alipay._gateway}?{signed}"
        )

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ProviderPayment:
        from alipay.exceptions import AliPayException

        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationRejected("encoding") from None
        params = dict(parse_qsl(text, keep_blank_values=True))
        signature = params.pop("sign", "")
        if not signature or not params.get("out_trade_no"):
            raise NotificationRejected("signature")
        try:
            good = self._alipay.verify(dict(params), signature)
        except (AliPayException, ValueError, TypeError):
            good = False  # another sign_type, or a signature that is not base64
        if not good:
            raise NotificationRejected("signature")
        if params.get("app_id") != self.keys.app_id:
            raise NotificationRejected("app")
        if self.keys.seller_id and params.get("seller_id") not in (None, self.keys.seller_id):
            raise NotificationRejected("merchant")
        sent = _beijing(params.get("notify_time"))
        if sent is None or datetime.now(UTC) - sent > RESEND_WINDOW:
            raise NotificationRejected("replay")
        try:
            return self._payment(params, notification_id=params.get("notify_id"))
        except ValueError:
            raise NotificationRejected("amount") from None

    def _payment(self, report: Mapping[str, Any], *, notification_id: str | None = None) -> ProviderPayment:
        total = yuan_to_minor(str(report.get("total_amount") or ""))
        status = str(report.get("trade_status") or "")
        state = _STATES.get(status, ORDER_OPEN)
        refunded = report.get("refund_fee")
        if status == "TRADE_CLOSED" and refunded and yuan_to_minor(str(refunded)) > 0:
            state = ORDER_REFUNDED  # closed by a full refund: it was paid
        paid_at = _beijing(report.get("gmt_payment") or report.get("send_pay_date"))
        return ProviderPayment(
            rail=RAIL,
            order_id=str(report.get("out_trade_no") or ""),
            state=state,  # type: ignore[arg-type]
            amount_minor=total,
            currency="CNY",
            provider_payment_id=report.get("trade_no"),
            paid_at=paid_at,
            method="alipay",
            notification_id=notification_id,
        )

    def answer(self, *, ok: bool, message: str = "") -> Answer:
        # Alipay reads the body only: exactly "success", or anything else to be resent.
        return Answer(status=200, body="success" if ok else "fail", content_type="text/plain")

    def query(self, order_id: str) -> ProviderPayment | None:
        answer = self._call(self._alipay.api_alipay_trade_query, out_trade_no=order_id)
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None  # the owner never opened the pay page
            raise self._refused(answer)
        try:
            return self._payment(answer)
        except ValueError:
            raise ProviderUnavailable("query answer without an amount") from None

    def close(self, order_id: str) -> None:
        answer = self._call(self._alipay.api_alipay_trade_close, out_trade_no=order_id)
        if answer.get("code") == SUCCESS_CODE or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return  # closed, or never opened: it can no longer be paid either way
        raise self._refused(answer)

    def refund(
        self, order_id: str, *, refund_id: str, amount_minor: int, total_minor: int, reason: str
    ) -> RefundResult:
        answer = self._call(
            self._alipay.api_alipay_trade_refund,
            minor_to_yuan(amount_minor),
            out_trade_no=order_id,
            out_request_no=refund_id,
            refund_reason=_subject(reason)[:80],
        )
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("code") == "20000" or answer.get("sub_code") in UNKNOWN_RESULT:
                # Alipay says the result is unknown: the same request again (same out_request_no)
                # is the way to learn it; the refund stays approved and is sent again.
                raise ProviderUnavailable(f"Alipay: {answer.get('sub_code') or answer.get('code')}")
            raise self._refused(answer)
        # Alipay's refund is synchronous: fund_change Y (or N on a repeat of the same request).
        return RefundResult(refund_id=refund_id, provider_refund_id=answer.get("trade_no"), state="succeeded")

    def statement(self, day: date) -> Statement:
        answer = self._call(
            self._alipay.server_api,
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
        )
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "isp.bill_not_exist":
                return Statement(rail=RAIL, day=day)
            raise self._refused(answer)
        url = str(answer.get("bill_download_url") or "")
        if not url.startswith(("https://", "http://")):
            raise ProviderUnavailable("statement link")
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - Alipay's link
                data = response.read()
        except urllib.error.HTTPError as exc:
            raise ProviderRefused(str(exc.code), "statement download refused") from None
        except OSError as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        return Statement(rail=RAIL, day=day, lines=tuple(parse_statement_zip(data)))


def parse_statement_zip(data: bytes) -> list[StatementLine]:
    """The detail (业务明细) of Alipay's statement ZIP: GBK file names and content, ``#`` lines
    around one header row, tab-padded fields; a refund is its own row with negative amounts."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    for info in archive.infolist():
        name = info.filename if info.flag_bits & 0x800 else info.filename.encode("cp437").decode("gbk")
        if name.endswith("_业务明细.csv"):
            return parse_statement(archive.read(info).decode("gbk"))
    raise ValueError("not an Alipay statement: no 业务明细 file")


def parse_statement(text: str) -> list[StatementLine]:
    lines = text.splitlines()
    try:
        header_at = next(i for i, line in enumerate(lines) if line.startswith("支付宝交易号,"))
    except StopIteration:
        raise ValueError("not an Alipay statement: no header row") from None
    columns = [name.strip() for name in lines[header_at].split(",")]
    at = {name: index for index, name in enumerate(columns)}
    found: list[StatementLine] = []
    rows = []
    for line in lines[header_at + 1 :]:
        if line.startswith("#"):
            break
        if line.strip():
            rows.append(line)
    for number, row in enumerate(csv.reader(rows), start=header_at + 2):
        fields = [cell.strip() for cell in row]
        if len(fields) < len(columns):
            raise ValueError(f"Alipay statement line {number}: {len(fields)} fields, not {len(columns)}")
        refund = fields[at["业务类型"]] == "退款"
        amount = fields[at["订单金额（元）"]].lstrip("-")
        when = _beijing(fields[at["完成时间"]]) or _beijing(fields[at["创建时间"]])
        if when is None:
            raise ValueError(f"Alipay statement line {number}: no time")
        found.append(
            StatementLine(
                order_id=fields[at["商户订单号"]],
                provider_payment_id=fields[at["支付宝交易号"]],
                kind="refund" if refund else "payment",
                amount_minor=yuan_to_minor(amount),
                currency="CNY",
                at=when,
            )
        )
    return found
