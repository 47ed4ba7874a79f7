"""Billing cycles a manager reviews (F2, issue 8 item 2): a draft with totals per building and the
exceptions to look at; nothing leaves before approval (or the config's own approval); approved
once; voided with a reason before anyone pays, the owners told and credit given back."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import time_machine
from ops_support import drain, import_demo_units, work_notices

from api.handler import lambda_handler
from propdesk.domain.billing import compute_bill
from propdesk.messaging.requests import parse_message
from propdesk.services import cycles
from propdesk.store import ledger
from propdesk.store.accounts import Account, AccountStore, Posting
from propdesk.store.bills import BillRepository
from propdesk.store.models import BillItem
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository
from tests.route_events import LambdaContext, route_event

NOTICE_DAY = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: 2026-07's notice day
PERIOD = "2026-07"
UNITS = 60  # two batches
ADMIN = ("admin",)
CREDIT = 100_000  # more than any demo unit's monthly bill


def call(key: str, *, roles=ADMIN, sub: str = "admin-1", **kwargs) -> tuple[int, dict]:
    claims = {"sub": sub, "cognito:groups": "[" + " ".join(roles) + "]"}
    response = lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def world(aws, demo_config):
    """60 demo units; the owner of A-102 has no e-mail and no phone; A-103's account holds credit
    enough for its bill."""
    import_demo_units(demo_config, UNITS)
    owners = OwnerRepository()
    unit = UnitRepository().get("A-102")
    owner = owners.get(unit.owner_id)
    owners.put(replace(owner, email=None, phone=None), updated_at=NOTICE_DAY)
    third = UnitRepository().get("A-103")
    AccountStore().post(
        Posting(account=Account("A-103", owner_id=third.owner_id, currency="CNY", credit_minor=CREDIT)),
        now=NOTICE_DAY,
    )
    return aws


def prepared(world) -> dict:
    status, body = call("prepare_cycle", params={"period": PERIOD})
    assert status == 202 and body["state"] == "preparing", body
    work_notices(world["NOTICES_QUEUE_URL"])
    status, draft = call("get_cycle", params={"period": PERIOD})
    assert status == 200
    return draft


def approved(world) -> dict:
    prepared(world)
    status, body = call("approve_cycle", params={"period": PERIOD}, sub="admin-2")
    assert status == 200 and body["state"] == "approved", body
    work_notices(world["NOTICES_QUEUE_URL"])
    return body


def test_a_prepared_cycle_is_a_draft_with_totals_per_building_and_its_exceptions(world, demo_config):
    with time_machine.travel(NOTICE_DAY, tick=False):
        draft = prepared(world)
    # THEN the draft counts every unit once, its totals are the bills' own, per building
    expected: Counter[str] = Counter()
    for unit in (
        UnitRepository().get_many(UnitRepository().ids(b.code for b in demo_config.buildings)).values()
    ):
        bill = compute_bill(
            unit,
            has_elevator=demo_config.building(unit.building).has_elevator,
            fee_standard=demo_config.fee_standard,
            period=PERIOD,
            calendar=demo_config.billing,
            currency="CNY",
            issued_at=NOTICE_DAY,
        )
        expected[unit.building] += bill.total_minor
    assert draft["state"] == "draft" and draft["batches_done"] == draft["batches"] == 2
    assert draft["bills"] == draft["units"] == UNITS
    assert {b["building"]: b["total_minor"] for b in draft["by_building"]} == dict(expected)
    assert draft["total_minor"] == sum(expected.values())
    assert draft["fee_standard_version"] == demo_config.fee_standard.version
    # AND the exceptions a manager should look at
    found = {(e["unit_id"], e["kind"]) for e in draft["exceptions"]}
    assert found == {("A-102", "no_contact"), ("A-103", "credit_covers")}
    # AND nothing was issued or sent
    assert BillItem.count() == 0 and drain(world["MESSAGES_QUEUE_URL"]) == []


def test_approval_issues_the_bills_and_their_notices_and_a_second_approval_changes_nothing(world):
    with time_machine.travel(NOTICE_DAY, tick=False):
        body = approved(world)
        notices = [parse_message(b) for b in drain(world["MESSAGES_QUEUE_URL"])]
        # WHEN a manager approves it again
        status, again = call("approve_cycle", params={"period": PERIOD})
    assert body["approved_by"] == "admin-2" and body["prepared_by"] == "admin-1"
    assert BillItem.count() == UNITS
    assert sorted(n.message_id for n in notices) == sorted(
        f"bill_notice#{b.bill_id}" for b in BillRepository().list_period(PERIOD)
    )
    # THEN 409, and nothing more is queued
    assert status == 409 and again["error"] == "cycle_approved" and "admin-2" in again["message"]
    assert drain(world["NOTICES_QUEUE_URL"]) == []
    events = [e.event for e in ledger.entries(ledger.cycle_entity(PERIOD))]
    assert sorted(events) == ["approved", "draft_ready", "prepared"]


def test_a_draft_still_being_computed_is_not_approved(world):
    with time_machine.travel(NOTICE_DAY, tick=False):
        call("prepare_cycle", params={"period": PERIOD})
        status, body = call("approve_cycle", params={"period": PERIOD})
    assert status == 409 and body["error"] == "cycle_preparing" and "0 of 2" in body["message"]
    assert BillItem.count() == 0


def test_a_cycle_prepared_twice_is_refused_once_its_draft_is_ready(world):
    with time_machine.travel(NOTICE_DAY, tick=False):
        prepared(world)
        status, body = call("prepare_cycle", params={"period": PERIOD})
    assert status == 409 and body["error"] == "cycle_draft"
    assert drain(world["NOTICES_QUEUE_URL"]) == []


def test_an_unknown_cycle_is_404(world):
    status, body = call("get_cycle", params={"period": "2031-01"})
    assert status == 404 and body["error"] == "no_cycle"
    status, body = call("approve_cycle", params={"period": "2031-01"})
    assert status == 404 and body["error"] == "no_cycle"


def test_a_property_that_trusts_its_data_issues_the_draft_by_itself(world, demo_config):
    auto = demo_config.model_copy(
        update={"billing": demo_config.billing.model_copy(update={"auto_issue": True})}
    )
    with time_machine.travel(NOTICE_DAY, tick=False):
        cycles.run_notice_day(NOTICE_DAY.astimezone(auto.tz).date(), config=auto, now=NOTICE_DAY)
        for body in drain(world["NOTICES_QUEUE_URL"]):
            cycles.tally_batch(cycles.TallyBills.model_validate_json(body), config=auto, now=NOTICE_DAY)
        header = cycles.CycleRepository().header(PERIOD)
        ran = work_notices(world["NOTICES_QUEUE_URL"])  # the issue batches the approval queued
    assert header.state == "approved" and header.data["approved_by"] == cycles.SYSTEM
    assert {job["kind"] for job in ran} == {"issue_bills"}
    assert BillItem.count() == UNITS


def test_voiding_an_approved_cycle_voids_its_bills_gives_credit_back_and_tells_each_owner(world):
    store = AccountStore()
    with time_machine.travel(NOTICE_DAY, tick=False):
        approved(world)
        drain(world["MESSAGES_QUEUE_URL"])
        assert store.get("A-103").credit_minor < CREDIT  # the credit paid A-103's bill
        status, body = call(
            "void_cycle", params={"period": PERIOD}, body={"reason": "Wrong area for building 1"}
        )
        assert (
            status == 200 and body["state"] == "voided" and body["void_reason"] == "Wrong area for building 1"
        )
        work_notices(world["NOTICES_QUEUE_URL"])
        told = [parse_message(b) for b in drain(world["MESSAGES_QUEUE_URL"])]
    bills = list(BillRepository().list_period(PERIOD))
    assert len(bills) == UNITS and {b.status for b in bills} == {"void"}
    assert all(not store.get(b.unit_id).open_bill_ids for b in bills)
    assert store.get("A-103").credit_minor == CREDIT
    assert sorted(m.message_id for m in told) == sorted(f"bill_voided#{b.bill_id}" for b in bills)
    assert {m.context["reason"] for m in told} == {"Wrong area for building 1"}
    assert [e.event for e in ledger.entries(ledger.bill_entity("A-101#2026-07"))] == ["issued", "voided"]
    # AND a voided cycle is neither approved nor prepared again
    status, body = call("approve_cycle", params={"period": PERIOD})
    assert status == 409 and body["error"] == "cycle_voided"


def test_a_cycle_an_owner_has_paid_cannot_be_voided(world):
    with time_machine.travel(NOTICE_DAY, tick=False):
        approved(world)
        bill = BillRepository().get("A-104#2026-07")
        body = {"request_id": "req-void-0001", "amount_minor": bill.total_minor, "method": "cash"}
        status, _ = call("record_desk_payment", params={"unit_id": "A-104"}, body=body, roles=("cashier",))
        assert status == 201
        status, answer = call(
            "void_cycle", params={"period": PERIOD}, body={"reason": "Wrong area everywhere"}
        )
    assert status == 409 and answer["error"] == "payments_allocated" and "A-104#2026-07" in answer["message"]
    assert cycles.CycleRepository().header(PERIOD).state == "approved"
    assert {b.status for b in BillRepository().list_period(PERIOD)} == {"open", "paid"}
    assert drain(world["NOTICES_QUEUE_URL"]) == []


def test_voiding_a_draft_tells_no_one(world):
    with time_machine.travel(NOTICE_DAY, tick=False):
        prepared(world)
        status, body = call(
            "void_cycle", params={"period": PERIOD}, body={"reason": "Areas to be re-measured"}
        )
    assert status == 200 and body["state"] == "voided"
    assert drain(world["NOTICES_QUEUE_URL"]) == [] and drain(world["MESSAGES_QUEUE_URL"]) == []


@pytest.mark.parametrize(
    "body", [None, {}, {"reason": "short"}, {"reason": "x" * 301}, {"why": "no reason given"}]
)
def test_a_void_without_a_reason_is_refused_and_changes_nothing(world, body):
    with time_machine.travel(NOTICE_DAY, tick=False):
        prepared(world)
        status, answer = call("void_cycle", params={"period": PERIOD}, body=body)
    assert status == 422 and answer["error"] == "invalid_request"
    assert cycles.CycleRepository().header(PERIOD).state == "draft"


def test_a_notice_still_queued_when_its_cycle_is_voided_is_not_sent(world):
    from infra.local.events import sqs_event
    from messenger.handler import lambda_handler as messenger_handler
    from messenger.handler import messenger
    from propdesk.store.models import MessageItem

    with time_machine.travel(NOTICE_DAY, tick=False):
        approved(world)
        notices = drain(world["MESSAGES_QUEUE_URL"])  # issued, not yet sent
        call("void_cycle", params={"period": PERIOD}, body={"reason": "Wrong area for building 1"})
        work_notices(world["NOTICES_QUEUE_URL"])
        told = drain(world["MESSAGES_QUEUE_URL"])
        # WHEN the messenger gets the notices after the void, then the owners' withdrawal messages
        messenger.cache_clear()
        for bodies in (notices, told):
            for start in range(0, len(bodies), 10):
                response = messenger_handler(sqs_event(bodies[start : start + 10]), LambdaContext())
                assert response == {"batchItemFailures": []}
    # THEN no notice went out, and every owner a message can reach is told the bill is withdrawn
    statuses = Counter(
        (m.template, m.status) for m in MessageItem.scan() if m.template in ("bill_notice", "bill_voided")
    )
    assert statuses[("bill_notice", "dropped")] == UNITS
    assert statuses[("bill_voided", "sent")] == UNITS - 1  # A-102's owner has no contact
    assert statuses[("bill_voided", "undeliverable")] == 1
