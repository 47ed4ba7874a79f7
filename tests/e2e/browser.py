"""Headless Chromium (Debian's ``chromium``, installed by ``make test``'s set-up) for the tests
that look at a page as a person's browser shows it, scripts run."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise AssertionError("chromium is missing: `make test` installs it (apt-get install chromium)")
    return path


def rendered_dom(url: str, *, wait_ms: int = 8000, width: int | None = None) -> str:
    """The page's DOM once its scripts have run (Chromium's virtual time lets them finish), in a
    window ``width`` CSS pixels wide if given."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={wait_ms}",
                *((f"--window-size={width},900",) if width else ()),
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return result.stdout


def screenshot(url: str, *, width: int, height: int, dark: bool = False) -> bytes:
    """A PNG of what a browser window of ``width`` x ``height`` CSS pixels shows first, before
    any scrolling (device scale 1); ``dark``: as a system in dark mode shows it."""
    with tempfile.TemporaryDirectory() as folder:
        target = f"{folder}/shot.png"
        subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={folder}/profile",
                f"--window-size={width},{height}",
                "--force-device-scale-factor=1",
                "--hide-scrollbars",
                *(("--force-dark-mode",) if dark else ()),
                f"--screenshot={target}",
                url,
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        with open(target, "rb") as file:
            return file.read()
