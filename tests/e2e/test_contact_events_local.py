"""Local runtime: the SES and SNS stand-ins report a bounce and a failed SMS for what was really
sent; the messenger marks the contacts and staff see them (what ``make demo`` can show)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import boto3
import requests
from ops_support import bill_notice


def test_a_bounce_and_a_failed_sms_reach_staffs_list(small_runtime):
    rt = small_runtime
    base = rt.base_url
    # (in the daytime, whenever the test runs: an SMS due in quiet hours would wait for 08:00)
    local = rt.clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    ten = local.replace(hour=10, minute=0, second=0, microsecond=0)
    ten += timedelta(days=1) if ten <= local else timedelta()
    moved = requests.post(
        f"{base}/_local/clock", json={"to": ten.replace(tzinfo=None).isoformat()}, timeout=600
    )
    assert moved.status_code == 200, moved.text
    # GIVEN a notice went to O0001 (e-mail and SMS), as the messenger sends it
    sqs = boto3.client("sqs", region_name="ap-southeast-1")  # the runtime set AWS_ENDPOINT_URL (moto)
    sqs.send_message(
        QueueUrl=rt.queue_urls["messages"], MessageBody=bill_notice("O0001", "A-101").model_dump_json()
    )
    assert rt.wait_until_drained(120)
    # WHEN SES reports the address bounced and SNS logs the SMS failed for good
    bounced = requests.post(
        f"{base}/_local/ses/feedback", json={"to": "owner0001@mail.example.com", "kind": "bounce"}, timeout=60
    )
    assert bounced.status_code == 200, bounced.text
    assert bounced.json() == {"messenger": {"marked": 1, "ignored": 0}}
    failed = requests.post(f"{base}/_local/sms/failure", json={"to": "+8613872620224"}, timeout=60)
    assert failed.json() == {"messenger": {"marked": 1, "ignored": 0}}
    # THEN staff see the owner, the unit and both marks
    token = rt.mint_token(["agent"], sub="e2e-agent")
    listed = requests.get(
        f"{base}/staff/contacts/unreachable", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).json()["items"]
    (line,) = listed
    assert line["owner_id"] == "O0001" and line["unit_ids"] == ["A-101"]
    assert line["email_mark"]["reason"] == "bounced" and line["phone_mark"]["reason"] == "sms_failed"
    # AND an address nothing was sent to is refused with a clear error
    unknown = requests.post(f"{base}/_local/ses/feedback", json={"to": "nobody@example.com"}, timeout=60)
    assert unknown.status_code == 400
