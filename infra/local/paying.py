"""How an owner pays online, driven without a browser: the demo's owners and its acts use it.

An owner opens the account page from a notice's pay link and pays on one of the property's rails,
on a computer or on a phone, the way a browser would:

- ``stripe``: Pay (every open bill), the stand-in's Checkout page, its Pay button, back to us;
- ``wechat_pay`` on a computer: the order page's QR code, scanned by the stand-in's scan endpoint
  as the WeChat app would; then "I have paid" (the order page again);
- ``wechat_pay`` on a phone (H5) and ``alipay`` on either: the provider's page, its Pay button,
  back to our return page.

``start`` goes as far as the provider's page and returns the step that pays, so a scene can put
something in between (the cashier taking cash while the owner is on the provider's page).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urljoin

import requests

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
DEVICES = {"stripe": (DESKTOP,), "wechat_pay": (DESKTOP, PHONE), "alipay": (DESKTOP, PHONE)}


@dataclass(frozen=True)
class Way:
    rail: str
    device: str

    @property
    def label(self) -> str:
        return f"{self.rail} on a {'phone' if self.device == PHONE else 'computer'}"


CHECKOUT = Way("stripe", DESKTOP)  # Stripe's Checkout, on a computer


def ways_of(rails: tuple[str, ...] | list[str]) -> tuple[Way, ...]:
    """Every way an owner can pay online on these rails, in the property's order."""
    return tuple(Way(rail, device) for rail in rails for device in DEVICES[rail])


def way_for(unit_id: str, ways: tuple[Way, ...]) -> Way:
    """The way this unit's owner pays: fixed per unit, spread over all the ways."""
    return ways[int(hashlib.sha256(f"way:{unit_id}".encode()).hexdigest()[:8], 16) % len(ways)]


@dataclass
class OnlinePayment:
    """One owner paying online: what the pages answered, and where it stopped if it did."""

    unit_id: str
    way: Way
    owed_minor: int = 0
    steps: list[str] = field(default_factory=list)
    order_id: str | None = None
    came_back: bool = False
    error: str | None = None

    @property
    def rail(self) -> str:
        return self.way.rail

    @property
    def ok(self) -> bool:
        return self.error is None and self.came_back


def _form(page: str) -> tuple[str, dict[str, str]]:
    """The page's first form: its action and its hidden fields."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    if action is None:
        raise RuntimeError("no form on the page")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return unescape(action.group(1)), {k: unescape(v) for k, v in fields.items()}


def start(
    browser: requests.Session, base: str, token: str, payment: OnlinePayment, runtime: Any
) -> Callable[[bool], None]:
    """Open the account page, choose the rail and reach the provider's page (or the QR code).
    Returns the step that pays; its argument: whether the owner looks again afterwards."""
    browser.headers["User-Agent"] = payment.way.device
    page = browser.get(f"{base}/pay/{token}", timeout=60)
    payment.steps.append(f"account page {page.status_code}")
    page.raise_for_status()
    if payment.rail == "stripe":
        return _start_checkout(browser, base, token, payment)
    started = browser.post(
        f"{base}/pay/{token}/orders",
        data={"rail": payment.rail, "bill": "all", "lang": "zh-CN"},
        allow_redirects=False,
        timeout=60,
    )
    payment.steps.append(f"start {started.status_code}")
    where = started.headers.get("Location", "")
    if started.status_code != 303 or not where:
        raise RuntimeError(f"starting the order answered {started.status_code}")
    if payment.rail == "wechat_pay" and payment.way.device == DESKTOP:
        return _show_qr(browser, base, where, payment, runtime)
    # The provider's page (WeChat Pay H5, Alipay's cashier): its Pay button, then back to us.
    provider_page = browser.get(where, timeout=60)
    payment.steps.append(f"provider page {provider_page.status_code}")
    action, fields = _form(provider_page.text)

    def press_pay(look_again: bool) -> None:
        paid = browser.post(
            urljoin(provider_page.url, action), data=fields, allow_redirects=False, timeout=60
        )
        payment.steps.append(f"paid {paid.status_code}")
        back = paid.headers.get("Location", "")
        if payment.rail == "alipay":
            found = re.search(r"out_trade_no=([A-Za-z0-9]+)", back)
            payment.order_id = found.group(1) if found else None
        if not look_again:
            return
        landed = browser.get(back, timeout=60) if back else None
        payment.came_back = landed is not None and landed.status_code == 200 and landed.url.startswith(base)

    return press_pay


def _show_qr(
    browser: requests.Session, base: str, where: str, payment: OnlinePayment, runtime: Any
) -> Callable[[bool], None]:
    order_page = browser.get(urljoin(base, where), timeout=60).text
    payment.order_id = where.split("/orders/", 1)[1].split("?", 1)[0]
    code = re.search(r'data-code-url="([^"]+)"', order_page)
    if code is None:
        raise RuntimeError("no QR code on the order page")

    def scan(look_again: bool) -> None:
        scanned = requests.post(
            f"{runtime.wechatpay.base_url}/_standin/scan",
            json={"code_url": unescape(code.group(1))},
            timeout=60,
        )
        payment.steps.append(f"scanned {scanned.status_code}")
        if scanned.status_code != 200:
            raise RuntimeError(f"the scan answered {scanned.status_code}: {scanned.text[:200]}")
        if not look_again:
            return  # the owner closes the browser
        done = browser.get(urljoin(base, where), timeout=60)  # "I have paid": the order page again
        payment.came_back = done.status_code == 200 and "data-code-url" not in done.text

    return scan


def _start_checkout(
    browser: requests.Session, base: str, token: str, payment: OnlinePayment
) -> Callable[[bool], None]:
    """Pay (every open bill) on the account page, to the stand-in's Checkout page."""
    checkout = browser.post(f"{base}/pay/{token}/checkout", allow_redirects=False, timeout=30)
    payment.steps.append(f"checkout {checkout.status_code}")
    where = checkout.headers.get("Location", "")
    if checkout.status_code != 303 or "/checkout/" not in where:
        raise RuntimeError(f"checkout answered {checkout.status_code}: {checkout.text[:200]}")
    stripe_page = browser.get(where, timeout=30)
    payment.steps.append(f"stripe page {stripe_page.status_code}")
    stripe_page.raise_for_status()
    form = re.search(r'<form method="post" action="([^"]+/pay)"', stripe_page.text)
    if not form:
        raise RuntimeError("no Pay button on the checkout page")
    payment.order_id = where.rsplit("/checkout/", 1)[1].split("?", 1)[0]
    pay_url = where.split("/checkout/")[0] + form.group(1)

    def press_pay(look_again: bool) -> None:
        paid = browser.post(pay_url, allow_redirects=False, timeout=60)
        payment.steps.append(f"pay {paid.status_code}")
        if paid.status_code != 303:
            raise RuntimeError(f"pay answered {paid.status_code}")
        if not look_again:
            return
        back = browser.get(paid.headers["Location"], timeout=30)
        payment.steps.append(f"return {back.status_code}")
        payment.came_back = back.status_code == 200

    return press_pay


def pay(
    base: str, token: str, payment: OnlinePayment, runtime: Any, *, look_again: bool = True
) -> OnlinePayment:
    """The whole of it in a browser of its own; a failure is kept on the payment, not raised."""
    with requests.Session() as browser:
        try:
            start(browser, base, token, payment, runtime)(look_again)
        except (requests.RequestException, RuntimeError) as exc:
            payment.error = f"{type(exc).__name__}: {exc}"
    return payment
