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


@pytest.fixture(scope="module")
def runtime(demo_config):
    rt = LocalRuntime(demo_config, RuntimeOptions(port=0, stripe_port=0, state_dir=None))
    rt.start()
    try:
        # Every function of the manifest must load: a missing or broken handler fails the tests.
        assert not rt.functions.missing, f"handlers fail to import: {rt.functions.missing}"
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
    outbox = requests.get(f"{runtime.base_url}/_local/outbox", params={"format": "json"}, timeout=60).json()
    return NoticeDay(period=period, fired=response.json()["fired"], outbox=outbox)


@pytest.fixture(scope="module")
def owners(demo_config):
    with units_csv_path(demo_config).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
