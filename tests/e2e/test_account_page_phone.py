"""The owner's account page on a phone (390 x 844, as an iPhone 12-15 shows it): the Pay button is
on the first screen, before any scrolling, even with several bills open; a settled account
shows none."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from infra.config import load_config
from propdesk.payments.links import sign_pay_link
from propdesk.services.desk import DeskPayment, record_desk_payment
from tests.e2e.browser import screenshot
from tests.paytools import make_bill, store_bill

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_account_page_phone")]

PAY_BLUE = (0x24, 0x57, 0xC5)  # the Pay button's fill (pages/_base.html)
BUTTON_PIXELS = 5000  # a filled button is ~300 x 40 px; a secondary button's outline is far less


def pay_blue_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(
        1 for pixel in image.getdata() if all(abs(a - b) <= 6 for a, b in zip(pixel, PAY_BLUE, strict=True))
    )


def link(runtime, bill) -> str:
    token = sign_pay_link(
        bill_id=bill.bill_id,
        unit_id=bill.unit_id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        key=runtime.secrets.link_key.encode("utf-8"),
    )
    return f"{runtime.base_url}/pay/{token}"


@pytest.mark.parametrize(
    ("lang", "unit_id", "owner_id"), [("zh-CN", "A-102", "O0002"), ("en", "A-103", "O0003")]
)
def test_the_pay_button_is_on_a_phone_s_first_screen(small_runtime, lang, unit_id, owner_id):
    # GIVEN an owner with three unpaid months
    bills = [
        store_bill(make_bill(unit_id, period, owner_id=owner_id))
        for period in ("2025-01", "2025-02", "2025-03")
    ]
    # WHEN the account page opens on a 390 x 844 screen
    shot = screenshot(f"{link(small_runtime, bills[-1])}?lang={lang}", width=390, height=844)
    if os.environ.get("PROPDESK_SCREENSHOTS"):  # to look at it: PROPDESK_SCREENSHOTS=<folder>
        (Path(os.environ["PROPDESK_SCREENSHOTS"]) / f"account-{lang}.png").write_bytes(shot)
    # THEN the filled Pay button is within it
    assert Image.open(io.BytesIO(shot)).size == (390, 844)
    assert pay_blue_pixels(shot) >= BUTTON_PIXELS


def test_a_settled_account_shows_no_pay_button(small_runtime):
    bill = store_bill(make_bill("A-104", "2026-12", owner_id="O0004"))
    payment = DeskPayment("A-104", bill.total_minor, "cash", "phone-settle-01", staff_id="e2e-cashier")
    record_desk_payment(payment, config=load_config("demo"), now=datetime.now(UTC))
    shot = screenshot(f"{link(small_runtime, bill)}?lang=en", width=390, height=844)
    assert pay_blue_pixels(shot) < BUTTON_PIXELS
