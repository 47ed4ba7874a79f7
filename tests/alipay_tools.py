"""Test helpers for the local Alipay stand-in: keys made once, the real SDK's client pointed at a
served stand-in, a notify endpoint that answers what it is told to, and the statement read back."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from alipay import AliPay

from infra.local.alipay import ALIPAY_RETRY_SCHEDULE_S, AlipayStandIn, KeyPair, generate_app_keys

APP_ID = "2021000000000001"


@cache
def app_keys() -> KeyPair:
    return generate_app_keys()


@cache
def other_app_keys() -> KeyPair:
    return generate_app_keys()


@cache
def alipay_keys() -> KeyPair:
    return KeyPair.generate()


@contextmanager
def retry_scale(standin: AlipayStandIn, scale: float) -> Iterator[None]:
    """Alipay's resend schedule times ``scale`` for a while (on a shared stand-in)."""
    saved = standin.notifier.retry_delays_s
    standin.notifier.retry_delays_s = tuple(delay * scale for delay in ALIPAY_RETRY_SCHEDULE_S)
    try:
        yield
    finally:
        standin.notifier.retry_delays_s = saved


def make_standin(**kwargs: Any) -> AlipayStandIn:
    """A stand-in for APP_ID (keys made once per test run), served on a loopback port."""
    options: dict[str, Any] = {"alipay_keys": alipay_keys(), "retry_scale": 0.0} | kwargs
    standin = AlipayStandIn(app_id=APP_ID, app_public_key=app_keys().public_pem, **options)
    standin.serve("127.0.0.1", 0)
    return standin


def client(standin: AlipayStandIn, *, keys: KeyPair | None = None, app_id: str = APP_ID) -> AliPay:
    """The real SDK's client, as the product builds it: its gateway set from ALIPAY_GATEWAY."""
    alipay = AliPay(
        appid=app_id,
        app_private_key_string=(keys or app_keys()).private_pem,
        alipay_public_key_string=standin.alipay_public_key_pem,
        sign_type="RSA2",
    )
    alipay._gateway = standin.gateway_url
    return alipay


def page_pay_url(alipay: AliPay, out_trade_no: str, total_amount: str = "349.38", **kwargs: Any) -> str:
    """The URL the product sends the owner's desktop browser to."""
    options = {"subject": "物业费 A-101 2026年12月", "return_url": "http://127.0.0.1:9/pay/return"} | kwargs
    order = alipay.api_alipay_trade_page_pay(out_trade_no=out_trade_no, total_amount=total_amount, **options)
    return alipay._gateway + "?" + order


def verified(alipay: AliPay, params: dict[str, str]) -> bool:
    """What the product does with a notification or a sync return: ``AliPay.verify``."""
    data = dict(params)
    signature = data.pop("sign")
    return alipay.verify(data, signature)


def query_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


class NotifyEndpoint:
    """A notify_url on a loopback port: answers ``answers`` in turn (then ``success``), keeps
    every POST."""

    def __init__(self, answers: list[tuple[int, str]] | None = None) -> None:
        self.answers = list(answers or [])
        self.received: list[Received] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    endpoint.received.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                        )
                    )
                    status, text = endpoint.answers.pop(0) if endpoint.answers else (200, "success")
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/alipay"
        threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True).start()

    def wait(self, count: int, timeout: float = 5.0) -> bool:
        return wait_for(lambda: len(self.received) >= count, timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class StatementFile:
    names: list[str]  # the ZIP's entry names, read as GBK
    detail_lines: list[str]  # the detail CSV, decoded from GBK, line by line
    rows: list[dict[str, str]]  # its data rows by column, fields stripped of Alipay's tabs


def read_statement(data: bytes) -> StatementFile:
    """Alipay's statement ZIP read the way a reconciliation job would."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    infos = archive.infolist()
    names = [info.filename.encode("cp437").decode("gbk") for info in infos]  # no UTF-8 flag: GBK
    detail = next(info for info, name in zip(infos, names, strict=True) if name.endswith("_业务明细.csv"))
    lines = archive.read(detail).decode("gbk").split("\r\n")
    header_at = next(i for i, line in enumerate(lines) if line.startswith("支付宝交易号,"))
    columns = lines[header_at].split(",")
    rows = [
        dict(zip(columns, (field.strip() for field in line.split(",")), strict=True))
        for line in _data_lines(lines[header_at + 1 :])
    ]
    return StatementFile(names=names, detail_lines=lines, rows=rows)


def _data_lines(lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line.startswith("#"):
            return
        if line:
            yield line
