"""The core layer asset ships the templates and labels, and they are found from /opt/python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import bundling
from infra.app import build_app

pytestmark = pytest.mark.xdist_group("infra")

TEMPLATES = bundling.CORE_LAYER_DIR / "python" / "propdesk" / "templates"

RENDER_FROM_THE_LAYER = """
import os, sys
from pathlib import Path
import propdesk
from propdesk.config import PropertyConfig
from propdesk.messaging.templates import render
from propdesk.web import pages

assert Path(propdesk.__file__).parent == Path(sys.argv[1]) / "propdesk", propdesk.__file__
config = PropertyConfig.model_validate_json(os.environ["CONFIG_JSON"])
context = {"bill_id": "A-101#2026-07", "unit_id": "A-101", "period": "2026-07", "lines": [{"code": "service", "amount_minor": 25024}],
           "total_minor": 25024, "currency": "CNY", "due_date": "2026-07-15", "pay_url": "https://x/pay/t"}
for locale in ("zh-CN", "en"):
    assert "</html>" in pages.render_not_found(locale)
    assert "¥250.24" in render("bill_notice", locale=locale, context=context, recipient_name="x", config=config).sms
print("ok")
"""


@pytest.fixture(scope="module")
def staged_layer(tmp_path_factory) -> Path:
    """The core layer's folder as the demo stack's synth stages it for upload (excludes and all)."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, _ = build_app("demo", context={"aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    app.synth()
    staged = [path.parent.parent for path in outdir.glob("asset.*/python/propdesk")]
    assert len(staged) == 1, staged
    return staged[0]


def test_every_template_and_label_file_is_in_the_layer(staged_layer):
    source = sorted(p.relative_to(bundling.CORE_LAYER_DIR) for p in TEMPLATES.rglob("*") if p.is_file())
    assert any(p.suffix == ".toml" for p in source) and any(p.suffix == ".html" for p in source)
    missing = [str(p) for p in source if not (staged_layer / p).is_file()]
    assert missing == []


def test_pages_and_messages_render_from_the_layer_alone(staged_layer, demo_config, tmp_path):
    # GIVEN only the staged layer on the import path, as /opt/python is in Lambda (run from elsewhere)
    site = staged_layer / "python"
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",
        "CONFIG_JSON": demo_config.model_dump_json(by_alias=True),
    }
    # WHEN a fresh interpreter renders a page and a message
    result = subprocess.run(
        [sys.executable, "-c", RENDER_FROM_THE_LAYER, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it finds the templates and labels beside the package
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
