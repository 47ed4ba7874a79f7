"""Staff routes of the api handler on moto: role checks, bills, summary, units import, cycles."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import boto3
import time_machine

from api.handler import lambda_handler
from infra import manifest
from infra.config import units_csv_path
from infra.local.events import http_event
from infra.local.openapi import document as openapi_document
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.store.units import UnitRepository
from tests.paytools import checkout_event, event_body, make_bill, store_bill, webhook_request
from tests.route_events import LambdaContext, route_event, staff_claims

ADMIN = ("admin",)
SHANGHAI = ZoneInfo("Asia/Shanghai")
CASHIER = ("cashier",)
AGENT = ("agent",)


def call(key: str, *, roles: tuple[str, ...] | None = ADMIN, **kwargs) -> tuple[int, dict]:
    response = lambda_handler(route_event(key, roles=roles, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def test_every_manifest_route_is_in_the_openapi_document():
    document = openapi_document()
    for route in manifest.function("api").routes:
        assert route.method.lower() in document["paths"][route.path]
    assert "/docs" not in document["paths"] and "/openapi.json" not in document["paths"]


def test_building_the_openapi_document_leaves_the_functions_serving(aws):
    # GIVEN the API document was built in this process (from the functions' own routers)
    openapi_document()
    bill = store_bill()
    # WHEN an agent takes a request, an admin imports a file and Stripe reports a payment
    ticket = {"kind": "repair", "category": "water", "channel": "hotline", "summary": "Leak"}
    taken, _ = call("create_ticket", body=ticket, roles=AGENT)
    refused, _ = call("import_units", body="x", headers={"content-type": "application/json"})
    paid = webhook_handler(webhook_request(event_body(checkout_event(bill))), LambdaContext())
    # THEN each route still reads its caller and its request from its own function
    assert taken == 201
    assert refused == 415
    assert paid["statusCode"] == 200 and json.loads(paid["body"])["outcome"] == "credited"


def test_list_bills_of_a_period(aws):
    # GIVEN two bills of March, one paid, and one of April
    paid = store_bill(unit_id="A-101")
    store_bill(unit_id="A-102")
    store_bill(unit_id="A-101", period="2026-04")
    webhook_handler(webhook_request(event_body(checkout_event(paid))), LambdaContext())
    # WHEN a cashier lists March
    status, body = call("list_bills", query={"period": "2026-03"}, roles=CASHIER)
    # THEN both March bills, with status and receipt number
    assert status == 200
    rows = {row["unit_id"]: row for row in body["bills"]}
    assert set(rows) == {"A-101", "A-102"}
    assert rows["A-101"]["status"] == "paid" and rows["A-101"]["receipt_no"].endswith("-000001")
    assert rows["A-102"]["status"] == "open" and rows["A-102"]["receipt_no"] is None
    assert rows["A-102"]["total_minor"] == 32727


def test_get_one_bill_by_unit_and_period_with_nothing_to_escape(aws):
    bill = store_bill()
    status, body = call("get_unit_bill", params={"unit_id": "A-101", "period": "2026-03"}, roles=AGENT)
    assert status == 200
    assert body["bill_id"] == bill.bill_id
    assert [line["code"] for line in body["lines"]] == ["service", "common_energy", "elevator", "waste"]


def test_unknown_bill_is_404_json(aws):
    status, body = call("get_unit_bill", params={"unit_id": "Z-999", "period": "2026-03"}, roles=AGENT)
    assert status == 404 and body["error"] == "not_found"


def test_summary_counts_and_rate(aws):
    # GIVEN four bills of March, one of them paid
    bills = [store_bill(unit_id=f"A-10{i}") for i in range(1, 5)]
    webhook_handler(webhook_request(event_body(checkout_event(bills[0]))), LambdaContext())
    # WHEN an admin asks for the summary
    status, body = call("period_summary", query={"period": "2026-03"})
    # THEN issued 4, paid 1, unpaid 3, a quarter collected
    assert status == 200
    assert (body["bills_issued"], body["bills_paid"], body["bills_unpaid"]) == (4, 1, 3)
    assert body["billed_minor"] == 4 * 32727
    assert body["collected_minor"] == 32727
    assert body["outstanding_minor"] == 3 * 32727
    assert body["collection_rate_bp"] == 2500


def test_bad_period_is_a_clear_4xx(aws):
    for period in ["2026-13", "2026-3", "march", ""]:
        status, body = call("period_summary", query={"period": period})
        assert status == 422, period
        assert body["error"] == "invalid_request"
        assert body["details"][0]["field"] == "period"
        assert set(body["details"][0]) == {"field", "problem"}  # no "input": the value is not echoed


def test_a_bill_list_without_a_period_is_the_open_bills_of_every_period(aws):
    march, april = store_bill(make_bill(period="2026-03")), store_bill(make_bill(period="2026-04"))
    webhook_handler(webhook_request(event_body(checkout_event(march))), LambdaContext())
    status, body = call("list_bills")
    assert status == 200 and body["period"] is None
    assert [b["bill_id"] for b in body["bills"]] == [april.bill_id]


def test_import_units_csv(aws, demo_config):
    # GIVEN the demo property's units file
    text = units_csv_path(demo_config).read_text(encoding="utf-8")
    # WHEN an admin posts it
    status, body = call("import_units", body=text, headers={"content-type": "text/csv"})
    # THEN every unit is created
    assert status == 200
    assert body == {"created": 312, "updated": 0, "unchanged": 0}
    assert UnitRepository().get("A-101") is not None


def test_import_units_csv_base64_body(aws):
    text = "unit_id,building,floor,number,area_m2,owner_id,owner_name,phone,email,locale,sms_consent\n"
    text += "A-101,A,1,101,89.37,O0001,Anna Liu,+8613872620224,owner0001@mail.example.com,en,yes\n"
    status, body = call("import_units", body=text.encode("utf-8"), headers={"content-type": "text/csv"})
    assert status == 200 and body["created"] == 1


def test_invalid_csv_lists_errors_by_line_and_imports_nothing(aws):
    text = "unit_id,building,floor,number,area_m2,owner_id,owner_name,phone,email,locale,sms_consent\n"
    text += "A-101,A,1,101,89.37,O0001,Anna Liu,+8613872620224,owner0001@mail.example.com,en,yes\n"
    text += "A-102,Q,1,102,-5,O0002,Bo,+86,not-an-email,fr,maybe\n"
    status, body = call("import_units", body=text, headers={"content-type": "text/csv"})
    assert status == 400
    assert body["error"] == "invalid_csv"
    assert {error["line"] for error in body["errors"]} == {3}
    assert UnitRepository().get("A-101") is None


def test_import_needs_csv_content_type(aws):
    status, body = call("import_units", body='{"a":1}', headers={"content-type": "application/json"})
    assert status == 415 and body["error"] == "unsupported_media_type"


def test_import_refuses_non_utf8(aws):
    status, body = call("import_units", body=b"unit_id\n\xff\xfe\n", headers={"content-type": "text/csv"})
    assert status == 400 and body["error"] == "invalid_encoding"


def test_oversized_body_is_413(aws):
    status, body = call("import_units", body="x" * (3 * 1024 * 1024), headers={"content-type": "text/csv"})
    assert status == 413 and body["error"] == "too_large"


def test_cycle_is_queued(aws, demo_config):
    # GIVEN the demo units are imported
    text = units_csv_path(demo_config).read_text(encoding="utf-8")
    call("import_units", body=text, headers={"content-type": "text/csv"})
    # WHEN an admin issues April's cycle on its notice day (15 days before April)
    with time_machine.travel(datetime(2026, 3, 17, 9, 0, tzinfo=SHANGHAI)):
        status, body = call("prepare_cycle", params={"period": "2026-04"})
    # THEN 202 and every unit queued in batches on the notices queue
    assert status == 202
    assert body["period"] == "2026-04" and body["units"] == 312 and body["batches"] >= 1
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["NOTICES_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert int(attrs["Attributes"]["ApproximateNumberOfMessages"]) == body["batches"]


def test_cycle_with_bad_period_is_4xx(aws):
    for period in ["2026-00", "26-04", "2026-04-01", "';--"]:
        status, body = call("prepare_cycle", params={"period": period})
        assert 400 <= status < 500, period
        assert "error" in body


def test_unknown_staff_route_is_404_json(aws):
    response = lambda_handler(
        http_event("GET", "/staff/nothing-here", claims=staff_claims(*ADMIN)), LambdaContext()
    )
    status, body = response["statusCode"], json.loads(response["body"])
    assert status == 404 and body["error"] == "not_found"
