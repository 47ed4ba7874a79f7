"""Test helpers for the local WeChat Pay stand-in: the merchant's settings, an SDK client pointed
at the stand-in (public-key or certificate mode), a notification endpoint that records, raw signed
requests, and a trade statement parser."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import build_authorization, load_private_key, rsa_sign

from infra.local.wechatpay import MerchantKeys, WeChatPayStandIn

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
APIV3_KEY = "a12d3924fd499edac8a5efc0b9b3a7e1"  # 32 characters


def client(
    standin: WeChatPayStandIn,
    merchant: MerchantKeys,
    *,
    notify_url: str | None = None,
    cert_dir: Path | None = None,
    pay_type: WeChatPayType = WeChatPayType.NATIVE,
) -> WeChatPay:
    """The real SDK, pointed at the stand-in the way the product does it (``_core._gate_way``).
    With ``cert_dir`` (holding the stand-in's certificate), certificate mode; else public-key mode."""
    public = (
        {} if cert_dir else {"public_key": standin.public_key_pem, "public_key_id": standin.public_key_id}
    )
    wxpay = WeChatPay(
        wechatpay_type=pay_type,
        mchid=MCHID,
        private_key=merchant.private_key,
        cert_serial_no=merchant.serial_no,
        appid=APPID,
        apiv3_key=APIV3_KEY,
        notify_url=notify_url,
        cert_dir=str(cert_dir) if cert_dir else None,
        timeout=(5, 10),
        **public,
    )
    wxpay._core._gate_way = standin.base_url
    return wxpay


def signed_request(
    standin: WeChatPayStandIn,
    merchant: MerchantKeys,
    method: str,
    target: str,
    body: dict[str, Any] | None = None,
    *,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A request signed as the SDK signs it, with a chosen timestamp if given."""
    text = json.dumps(body) if body is not None else ""
    key = load_private_key(merchant.private_key)
    if timestamp is None:
        authorization = build_authorization(target, method, MCHID, merchant.serial_no, key, data=text)
    else:
        nonce = "N0NCE" * 6
        message = f"{method}\n{target}\n{timestamp}\n{nonce}\n{text}\n"
        signature = rsa_sign(key, message)
        authorization = (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{MCHID}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{merchant.serial_no}"'
        )
    all_headers = {"Authorization": authorization, "Content-Type": "application/json", **(headers or {})}
    return requests.request(
        method, standin.base_url + target, data=text.encode(), headers=all_headers, timeout=5
    )


class Receiver:
    """A notify_url on a loopback port: answers each POST with the next of ``statuses`` (then
    ``default``), and keeps every request's headers and body."""

    def __init__(self, statuses: list[int] | None = None, default: int = 204) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._changed:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    receiver._changed.notify_all()
                answer = b"" if status == 204 else json.dumps({"code": "FAIL", "message": "no"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/wechatpay"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, count: int, timeout: float = 3.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def parse_tradebill(text: str) -> tuple[list[str], list[dict[str, str]], dict[str, str]]:
    """A trade statement: its header, its rows (backticks removed) and its summary."""
    lines = [line for line in text.splitlines() if line]
    header = lines[0].split(",")
    at = next(i for i, line in enumerate(lines) if line.startswith("总交易单数"))
    rows = [
        dict(zip(header, (cell.removeprefix("`") for cell in line.split(",")), strict=True))
        for line in lines[1:at]
    ]
    summary_header = lines[at].split(",")
    summary = dict(zip(summary_header, (c.removeprefix("`") for c in lines[at + 1].split(",")), strict=True))
    return header, rows, summary
