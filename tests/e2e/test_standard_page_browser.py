"""The public fee standard page (F1) as a person's phone shows it, in headless Chromium: published
through the staff API on the local runtime, opened with no login, in Chinese and in English."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image

from tests.e2e.browser import rendered_dom, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_standard_page_browser")]

VERSION = "SH-E2E-01"
TEXT_DARK = 90  # a pixel darker than this in every channel is text


def _draft(effective_from: str) -> dict:
    text = {"zh-CN": "物业服务费", "en": "Property service fee"}
    return {
        "version": VERSION,
        "effective_from": effective_from,
        "legal_basis": {
            "document": {
                "kind": "filing",
                "reference": "沪房物备〔2026〕第0412号",
                "issued_by": {"zh-CN": "上海市浦东新区房屋管理局", "en": "Pudong Housing Administration"},
            },
            "contract_clauses": [
                {
                    "contract": {"zh-CN": "《锦绣花园物业服务合同》", "en": "Jinxiu Garden service contract"},
                    "clause": {"zh-CN": "第五章第二十一条", "en": "chapter 5, clause 21"},
                }
            ],
        },
        "items": [
            {"code": "service", "name": text, "basis": "per_m2", "rate_minor": 295},
            {
                "code": "waste",
                "name": {"zh-CN": "生活垃圾清运费", "en": "Household waste removal"},
                "basis": "per_unit",
                "rate_minor": 1000,
            },
        ],
        "cost_breakdown": [
            {"name": {"zh-CN": "公共区域保洁", "en": "Common-area cleaning"}, "share_bp": 4000},
            {"name": {"zh-CN": "安保服务", "en": "Security"}, "share_bp": 3500},
            {"name": {"zh-CN": "绿化养护", "en": "Landscaping"}, "share_bp": 1500},
            {"name": {"zh-CN": "垃圾清运", "en": "Waste removal"}, "share_bp": 1000, "item": "waste"},
        ],
    }


@pytest.fixture(scope="module")
def published(small_runtime, demo_config) -> str:
    """SH-E2E-01 drafted and published by an admin, posted from today for 35 days, every owner told."""
    today = small_runtime.clock.now().astimezone(ZoneInfo(demo_config.time_zone)).date()
    admin = {"Authorization": "Bearer " + small_runtime.mint_token(["admin"], sub="e2e-admin")}
    base = small_runtime.base_url
    made = requests.post(
        f"{base}/staff/fee-standards",
        json=_draft((today + timedelta(days=40)).isoformat()),
        headers=admin,
        timeout=60,
    )
    assert made.status_code == 201, made.text
    publication = {
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=35)).isoformat(),
        "channels": ["notice_board", "building_doors", "website", "owner_message"],
    }
    done = requests.post(
        f"{base}/staff/fee-standards/{VERSION}/publication", json=publication, headers=admin, timeout=60
    )
    assert done.status_code == 200, done.text
    return f"{base}/standards/{VERSION}"


def _dark_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for pixel in image.get_flattened_data() if max(pixel) < TEXT_DARK)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-CN", ("收费标准公示", "物业服务费", "¥2.95/平方米/月", "40%", "SH-2026-01")),
        ("en", ("Fee standard", "Property service fee", "¥2.95/m²/month", "40%", "SH-2026-01")),
    ],
)
def test_the_public_standard_page_on_a_phone(published, lang, words):
    # WHEN anyone opens the page on a 390 x 844 phone screen, no login
    url = f"{published}?lang={lang}"
    shot = screenshot(url, width=390, height=844)
    if os.environ.get("PROPDESK_SCREENSHOTS"):  # to look at it: PROPDESK_SCREENSHOTS=<folder>
        (Path(os.environ["PROPDESK_SCREENSHOTS"]) / f"standard-{lang}.png").write_bytes(shot)
    # THEN the browser shows the page's text (the first screen is full of it, not blank or an error)
    assert Image.open(io.BytesIO(shot)).size == (390, 844)
    assert _dark_pixels(shot) > 3000
    dom = rendered_dom(url)
    assert f'lang="{lang}"' in dom
    for word in words:
        assert word in dom, word
    # AND the printable notice it links to is a PDF
    notice = requests.get(f"{published}/notice", params={"lang": lang}, timeout=60)
    assert notice.status_code == 200 and notice.content.startswith(b"%PDF-")


def test_every_owner_is_told_through_the_notices_and_messenger_functions(small_runtime, published):
    # WHEN the queues have been worked off by the functions, each in its own process
    assert small_runtime.wait_until_drained(120)
    outbox = requests.get(
        f"{small_runtime.base_url}/_local/outbox", params={"format": "json"}, timeout=60
    ).json()
    # THEN the owners got the announcement with the public page's link, each once
    mails = [m for m in outbox["email"] if VERSION in m["subject"]]
    texts = [s for s in outbox["sms"] if VERSION in s["text"]]
    assert mails or texts
    assert all(published in m["body"] for m in mails) and all(published in s["text"] for s in texts)
    recipients = [tuple(m["to"]) for m in mails]
    assert len(recipients) == len(set(recipients))
