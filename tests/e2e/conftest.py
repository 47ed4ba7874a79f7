"""The local runtime for the end-to-end tests, started once per test module.

Module scope, not package or session: the runtime's queue pollers must be stopped before
any other test (with its own moto mock) runs in this process.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest
import requests

from infra.config import units_csv_path
from infra.local.demo import next_notice_moment
from infra.local.runtime import LocalRuntime, RuntimeOptions


@dataclass
class NoticeDay:
    period: str
    fired: list[dict]
    outbox: dict


def _started(config, logs, *, import_units: bool = True) -> LocalRuntime:
    options = RuntimeOptions(port=0, stripe_port=0, state_dir=None, log_dir=logs, import_units=import_units)
    rt = LocalRuntime(config, options)
    rt.start()
    # Every function of the manifest must start: a missing or broken handler fails the tests.
    if rt.functions.missing:
        rt.stop()
        pytest.fail(f"functions did not start: {rt.functions.missing} (logs in {logs})")
    return rt


@pytest.fixture(scope="module")
def runtime(demo_config, tmp_path_factory):
    rt = _started(demo_config, tmp_path_factory.mktemp("function-logs"))
    try:
        yield rt
    finally:
        rt.stop()


SMALL_PROPERTY_UNITS = 6


@pytest.fixture(scope="module")
def small_runtime(demo_config, tmp_path_factory):
    """The runtime with only the first few units, imported through the staff API: for tests that
    call every route many times (a cycle issued there bills a handful of units, not 312)."""
    rt = _started(demo_config, tmp_path_factory.mktemp("function-logs"), import_units=False)
    try:
        lines = (
            units_csv_path(demo_config).read_text(encoding="utf-8").splitlines()[: SMALL_PROPERTY_UNITS + 1]
        )
        imported = requests.post(
            f"{rt.base_url}/staff/units/import",
            data="\n".join(lines).encode("utf-8"),
            headers={
                "Content-Type": "text/csv",
                "Authorization": "Bearer " + rt.mint_token(["admin"], sub="e2e-setup"),
            },
            timeout=60,
        )
        assert imported.status_code == 200, imported.text
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def notice_day(runtime, demo_config):
    """The clock moved to the next period's notice run, everything it queued processed."""
    period, moment = next_notice_moment(demo_config, runtime.clock.now())
    response = requests.post(
        f"{runtime.base_url}/_local/clock", json={"to": moment.replace(tzinfo=None).isoformat()}, timeout=600
    )
    assert response.status_code == 200, response.text
    assert runtime.wait_until_drained(300)
    # The manager approves the draft the notice run prepared: the notices go out.
    approval = requests.post(
        f"{runtime.base_url}/staff/cycles/{period}/approval",
        headers={"Authorization": "Bearer " + runtime.mint_token(["admin"], sub="e2e-manager")},
        timeout=60,
    )
    assert approval.status_code == 200, approval.text
    assert runtime.wait_until_drained(300)
    outbox = requests.get(f"{runtime.base_url}/_local/outbox", params={"format": "json"}, timeout=60).json()
    return NoticeDay(period=period, fired=response.json()["fired"], outbox=outbox)


@pytest.fixture(scope="module")
def owners(demo_config):
    with units_csv_path(demo_config).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
