"""Statements (对账单): ``alipay.data.dataservice.bill.downloadurl.query`` and the file behind
its ``bill_download_url``.

- ``bill_type`` ``trade`` (the acquiring statement; ``signcustomer``, the account statement, is
  not kept here: ``isp.bill_not_exist``); ``bill_date`` ``yyyy-MM-dd`` (a day) or ``yyyy-MM`` (a
  month), Beijing time.
- A day's bill exists from 09:00 the next day (``ready_after``); before that, or for a period
  with no payment and no refund, the answer is ``40004`` / ``isp.bill_not_exist``.
- The link is good for 30 seconds (``link_ttl_s``), as Alipay's.
- The file is a ZIP, ``<account>_<yyyyMMdd>.csv.zip``, of two GBK-encoded CSV files whose names are
  GBK too (no UTF-8 flag in the ZIP, as Alipay writes them): ``<account>_<yyyyMMdd>_业务明细.csv``
  (the detail) and ``<account>_<yyyyMMdd>_业务明细(汇总).csv`` (the summary; its layout here is
  an approximation). ``<account>`` is the merchant's PID followed by ``0156``.
- The detail has Alipay's layout: ``#`` comment lines around one header row and the rows, CRLF line
  ends, no quoting, and a tab after most text fields (Alipay's guard against spreadsheets turning
  numbers into exponents: strip the fields). A refund is a row of its own (业务类型 退款) with
  negative amounts and its ``out_request_no`` in 退款批次号/请求号. 服务费（元） is the service
  fee (``fee_rate``, rounded half up): negative on a payment, given back on a refund.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import time
import zipfile
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from infra.local.alipay.errors import business, invalid
from infra.local.alipay.trades import SHANGHAI, BillEntry, Trades, now, stamp, yuan

Response = tuple[int, dict[str, str], bytes]

COLUMNS = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
SUMMARY_COLUMNS = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,"
    "卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
DETAIL_START = (
    "#-----------------------------------------业务明细列表----------------------------------------"
)
DETAIL_END = "#-----------------------------------------业务明细列表结束------------------------------------"
SUMMARY_START = (
    "#-----------------------------------------业务汇总列表----------------------------------------"
)
SUMMARY_END = "#-----------------------------------------业务汇总列表结束------------------------------------"
DOWNLOAD_PATH = "/downloadBillFile.resource"

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def _cn_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M:%S")


class _GbkName(zipfile.ZipInfo):
    """A ZIP entry whose name is written in GBK without the UTF-8 flag, as Alipay's are."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits


class Bills:
    def __init__(
        self,
        *,
        trades: Trades,
        account: str,
        base_url: Callable[[], str],
        ready_after: timedelta = timedelta(hours=9),
        link_ttl_s: float = 30,
    ) -> None:
        self.trades = trades
        self.account = account  # the merchant's PID and "0156"
        self._base_url = base_url
        self.ready_after = ready_after
        self.link_ttl_s = link_ttl_s
        self._secret = secrets.token_bytes(32)

    # -- the API method -------------------------------------------------------------------------

    def download_url(self, biz: Mapping[str, Any]) -> dict[str, str]:
        bill_type, bill_date = biz.get("bill_type"), biz.get("bill_date")
        if bill_type not in ("trade", "signcustomer"):
            raise invalid("isv.invalid-parameter", "参数无效 (bill_type: trade or signcustomer)")
        start, end = _period(bill_date)
        if bill_type == "signcustomer":
            raise business("isp.bill_not_exist", "账单不存在 (the stand-in keeps trade bills only)")
        ready = end + self.ready_after
        if now() < ready:
            raise business(
                "isp.bill_not_exist", f"账单不存在 (the bill of {bill_date} is ready from {stamp(ready)})"
            )
        if not self.trades.entries(start, end):
            raise business("isp.bill_not_exist", f"账单不存在 (no payment and no refund in {bill_date})")
        dates = str(bill_date).replace("-", "")
        query = {
            "bizType": "trade",
            "userId": self.account,
            "fileType": "csv.zip",
            "bizDates": dates,
            "downloadFileName": f"{self.account}_{dates}.csv.zip",
            "fileId": f"/trade/{self.account}/{dates}.csv.zip",
            "timestamp": str(int(time.time())),
        }
        query["token"] = self._token(query["bizDates"], query["timestamp"])
        return {"bill_download_url": f"{self._base_url()}{DOWNLOAD_PATH}?{urlencode(query)}"}

    # -- the download ---------------------------------------------------------------------------

    def download(self, query: str) -> Response:
        args = {k: v[0] for k, v in parse_qs(query).items()}
        dates, timestamp, token = args.get("bizDates", ""), args.get("timestamp", ""), args.get("token", "")
        text = {"Content-Type": "text/plain; charset=utf-8"}
        if not hmac.compare_digest(token, self._token(dates, timestamp)):
            return 403, text, "无效的下载链接 (not a download link this stand-in gave)".encode()
        if time.time() - int(timestamp) > self.link_ttl_s:
            return 403, text, "下载链接已过期 (the link is good for 30 seconds: ask for a new one)".encode()
        bill_date = f"{dates[:4]}-{dates[4:6]}" + (f"-{dates[6:]}" if len(dates) == 8 else "")
        name = f"{self.account}_{dates}.csv.zip"
        return (
            200,
            {
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            },
            self.statement_zip(bill_date),
        )

    def statement_zip(self, bill_date: str) -> bytes:
        start, end = _period(bill_date)
        dates = bill_date.replace("-", "")
        entries = self.trades.entries(start, end)
        exported = now()
        files = {
            f"{self.account}_{dates}_业务明细.csv": self.detail(entries, start, end, exported),
            f"{self.account}_{dates}_业务明细(汇总).csv": self.summary(entries, start, end, exported),
        }
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                info = _GbkName(name, date_time=exported.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, text.encode("gbk", errors="replace"))
        return out.getvalue()

    def detail(self, entries: list[BillEntry], start: datetime, end: datetime, exported: datetime) -> str:
        lines = [*self._head("业务明细", start, end), DETAIL_START, COLUMNS]
        paid = [e for e in entries if e.refund is None]
        refunds = [e for e in entries if e.refund is not None]
        lines += [_row(entry) for entry in entries]
        lines += [
            DETAIL_END,
            f"#交易合计：{len(paid)}笔，商家实收共{yuan(sum(e.trade.total for e in paid))}元，商家优惠共0.00元",
            f"#退款合计：{len(refunds)}笔，商家实收退款共{yuan(-sum(e.refund.amount for e in refunds if e.refund))}元，"
            "商家优惠退款共0.00元",
            f"#导出时间：[{_cn_time(exported)}]",
        ]
        return "\r\n".join(lines) + "\r\n"

    def summary(self, entries: list[BillEntry], start: datetime, end: datetime, exported: datetime) -> str:
        paid = [e for e in entries if e.refund is None]
        refunds = [e.refund for e in entries if e.refund is not None]
        order = sum(e.trade.total for e in paid) - sum(r.amount for r in refunds)
        fees = -sum(e.trade.fee for e in paid) + sum(r.fee_returned for r in refunds)
        total = (
            f"合计,,{len(paid)},{len(refunds)},{yuan(order)},{yuan(order)},0.00,0.00,0.00,{yuan(fees)},0.00,"
            f"{yuan(order + fees)}"
        )
        lines = [*self._head("业务汇总", start, end), SUMMARY_START, SUMMARY_COLUMNS, total, SUMMARY_END]
        lines.append(f"#导出时间：[{_cn_time(exported)}]")
        return "\r\n".join(lines) + "\r\n"

    def _head(self, title: str, start: datetime, end: datetime) -> list[str]:
        return [
            f"#支付宝{title}查询",
            f"#账号：[{self.account}]",
            f"#起始日期：[{_cn_time(start)}]   终止日期：[{_cn_time(end)}]",
        ]

    def _token(self, dates: str, timestamp: str) -> str:
        return hmac.new(self._secret, f"{dates}|{timestamp}".encode(), hashlib.sha256).hexdigest()[:32]


def _row(entry: BillEntry) -> str:
    trade, refund = entry.trade, entry.refund
    if refund is None:
        kind, amount, request_no, fee = "交易", trade.total, "", -trade.fee
    else:
        kind, amount, request_no, fee = "退款", -refund.amount, refund.out_request_no, refund.fee_returned
    counterparty = f"*业主({trade.buyer_logon_id})"
    fields = [
        f"{trade.trade_no}\t",
        f"{trade.out_trade_no}\t",
        f"{kind}\t",
        trade.subject,
        stamp(trade.created),
        stamp(entry.at),
        "\t",
        "\t",
        "\t",
        "\t",
        f"{counterparty}\t",
        yuan(amount),
        yuan(amount),
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "",
        "0.00\t",
        "0.00",
        f"{request_no}\t",
        yuan(fee),
        "0.00",
        trade.body,
    ]
    return ",".join(fields)


def _period(bill_date: Any) -> tuple[datetime, datetime]:
    """[start, end) of a bill date, Beijing time."""
    text = str(bill_date or "")
    try:
        if _DAY.match(text):
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
            return start, start + timedelta(days=1)
        if _MONTH.match(text):
            year, month = int(text[:4]), int(text[5:])
            start = datetime(year, month, 1, tzinfo=SHANGHAI)
            following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
            return start, following
    except ValueError:
        pass
    raise invalid("isv.invalid-parameter", "参数无效 (bill_date: yyyy-MM-dd or yyyy-MM)")
