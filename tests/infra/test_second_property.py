"""The second example property (Harbour View Residences, Singapore): another market and currency,
paying through Stripe. Its config loads, its units file imports clean, a rail of the Chinese
market is refused for it, and its stack synthesizes with every cdk-nag rule met."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.config import load_config, units_csv_path
from propdesk.config import PropertyConfig
from propdesk.services.units import parse_units_csv


@pytest.fixture(scope="module")
def harbour() -> PropertyConfig:
    return load_config("harbour")


def test_it_bills_in_sgd_on_singapore_time_through_stripe(harbour):
    assert (harbour.currency, harbour.time_zone, harbour.payment.rails) == (
        "SGD",
        "Asia/Singapore",
        ("stripe",),
    )
    assert harbour.default_locale == "en" and not harbour.payment.direct_debit


def test_its_units_file_imports_clean(harbour):
    units, owners, errors = parse_units_csv(
        units_csv_path(harbour).read_text(encoding="utf-8"), config=harbour
    )
    assert errors == [] and len(units) == 80 and len(owners) == 80
    assert all(unit.unit_id.startswith(("T1-", "T2-")) for unit in units)


def test_wechat_pay_cannot_be_offered_in_sgd(harbour):
    data = harbour.model_dump(by_alias=True, mode="json")
    data["payment"]["rails"] = ["stripe", "wechat_pay"]
    with pytest.raises(ValueError, match=r"wechat_pay.*SGD"):
        PropertyConfig.model_validate(data)


def test_its_stack_synthesizes_with_every_finding_met(tmp_path):
    app, stack = build_app("harbour", context={"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = Template.from_stack(stack).to_json()
    assert stack.stack_name == "PropDesk-harbour"
    schedules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert schedules and all(
        s["Properties"]["ScheduleExpressionTimezone"] == "Asia/Singapore" for s in schedules
    )
