"""The notice e-mail as a mail client's browser engine shows it (issue 8: "a screenshot test renders
the notice e-mail"): headless Chromium, light and dark, on a desktop and a phone width. No runtime:
the HTML part is rendered to a file and opened from there."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from propdesk.messaging.templates import render
from tests.e2e.browser import rendered_dom, screenshot
from tests.unit.test_messenger_templates import NOTICE

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed"),
]

BUTTON_BLUE = (0x1D, 0x4E, 0xD8)  # the pay button's fill (messages/_macros.html)
BUTTON_PIXELS = 4000  # the button is ~250 x 48 px
CONTEXT = {**NOTICE, "credit_applied_minor": 5000, "due_minor": 27727}


def email_file(tmp_path: Path, demo_config, locale: str, *, probe: bool = False) -> str:
    html = render(
        "bill_notice", locale=locale, context=CONTEXT, recipient_name="吴娜", config=demo_config
    ).html
    if probe:
        # For the test only: write the page's widths where --dump-dom shows them (messages carry no script).
        script = (
            "<script>document.body.setAttribute('data-widths', document.documentElement.scrollWidth + ' ' + "
            "window.innerWidth)</script>"
        )
        html = html.replace("</body>", script + "</body>")
    path = tmp_path / f"notice-{locale}{'-probe' if probe else ''}.html"
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


def pixels_like(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 8) -> int:
    return sum(
        1 for p in image.getdata() if all(abs(a - b) <= tolerance for a, b in zip(p, colour, strict=True))
    )


def luminance(image: Image.Image) -> float:
    grey = image.convert("L")
    return sum(grey.getdata()) / (grey.width * grey.height)


def _readable_amount(image: Image.Image) -> bool:
    """The big amount due (in the summary box, about 148-260 x 296-330) contrasts with its box."""
    box = image.crop((140, 292, 270, 334)).convert("L")
    values = sorted(box.getdata())
    darkest, lightest = values[len(values) // 50], values[-len(values) // 50]
    return lightest - darkest >= 120


def keep(shot: bytes, name: str) -> None:
    if os.environ.get("PROPDESK_SCREENSHOTS"):  # to look at them: PROPDESK_SCREENSHOTS=<folder>
        (Path(os.environ["PROPDESK_SCREENSHOTS"]) / name).write_bytes(shot)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_notice_email_in_light_and_dark(tmp_path, demo_config, locale):
    url = email_file(tmp_path, demo_config, locale)
    # WHEN the e-mail is shown on a desktop, in light and in dark mode
    light = Image.open(io.BytesIO(screenshot(url, width=800, height=1400))).convert("RGB")
    dark = Image.open(io.BytesIO(screenshot(url, width=800, height=1400, dark=True))).convert("RGB")
    keep(screenshot(url, width=800, height=1400), f"notice-{locale}-light.png")
    keep(screenshot(url, width=800, height=1400, dark=True), f"notice-{locale}-dark.png")
    # THEN the pay button is there, filled, in both
    assert light.size == dark.size == (800, 1400)
    assert pixels_like(light, BUTTON_BLUE) >= BUTTON_PIXELS
    assert pixels_like(dark, BUTTON_BLUE) >= BUTTON_PIXELS
    # and the page is not blank: the header band, text and rules make many colours
    assert len(set(light.getdata())) > 50
    # and dark mode really is dark, light mode light, and the amount due stays readable in both
    assert _readable_amount(light) and _readable_amount(dark)
    assert luminance(light) > 180 and luminance(dark) < 80, (luminance(light), luminance(dark))
    # and the 600px column is centred: the card's edges are symmetric around the middle
    row = [light.getpixel((x, 104)) for x in range(800)]  # in the header band, below its text
    header = [
        x
        for x, p in enumerate(row)
        if all(abs(a - b) <= 4 for a, b in zip(p, (0x14, 0x36, 0x5F), strict=True))
    ]
    assert header and abs((header[0] + header[-1]) / 2 - 400) <= 8 and 590 <= len(header) <= 602


@pytest.mark.parametrize(
    "width", [800, 500]
)  # 500: headless Chromium's narrowest window, below the 600px column
def test_the_notice_email_does_not_overflow_its_window(tmp_path, demo_config, width):
    # WHEN the e-mail opens in a window of a desktop's and a small phone's width
    dom = rendered_dom(email_file(tmp_path, demo_config, "zh-CN", probe=True), wait_ms=500, width=width)
    # THEN nothing is wider than the window (no sideways scrolling; the column narrows below 620px)
    match = re.search(r'data-widths="(\d+) (\d+)"', dom)
    assert match, dom[-500:]
    scroll, inner = int(match.group(1)), int(match.group(2))
    assert inner == width and scroll <= inner, (scroll, inner)
