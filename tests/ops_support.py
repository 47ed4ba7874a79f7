"""Test helpers for the notices, messenger, overdue and tickets functions: readers of what was
queued and sent, the SQS event-source emulation, and message builders. (Events and contexts:
``infra.local.events``, ``tests/route_events.py``.)"""

from __future__ import annotations

import json
from typing import Any

import boto3

from propdesk.messaging.requests import MessageRequest


def drain(queue_url: str) -> list[str]:
    """Every message body on a queue (received and deleted)."""
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def drain_json(queue_url: str) -> list[dict[str, Any]]:
    return [json.loads(body) for body in drain(queue_url)]


def import_demo_units(config, limit: int | None = None) -> int:
    """Import the demo units file (its first ``limit`` units); returns how many were imported.

    moto's SQS gets slow with hundreds of queued messages, so most tests use a slice.
    """
    from infra.config import units_csv_path
    from propdesk.services.units import import_units_csv

    lines = units_csv_path(config).read_text(encoding="utf-8").splitlines()
    if limit is not None:
        lines = lines[: limit + 1]
    result = import_units_csv("\n".join(lines) + "\n", config=config)
    assert result.errors == []
    return result.created


def sent_emails() -> list[Any]:
    """Emails moto's SES received: objects with ``source``, ``destinations``, ``subject``, ``body`` (HTML)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["ap-southeast-1"].sent_messages)


def sent_sms() -> list[tuple[str, str]]:
    """SMS moto's SNS received: (phone, text)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID]["ap-southeast-1"].sms_messages.values())


def bill_notice(
    owner_id: str = "O0001",
    unit_id: str = "A-101",
    *,
    period: str = "2026-07",
    lines: tuple[tuple[str, int], ...] = (("service", 25024),),
) -> MessageRequest:
    """A ``bill_notice`` request as the notices worker queues it."""
    return MessageRequest(
        message_id=f"bill_notice#{unit_id}#{period}",
        template="bill_notice",
        owner_id=owner_id,
        context={
            "bill_id": f"{unit_id}#{period}",
            "unit_id": unit_id,
            "period": period,
            "lines": [{"code": code, "amount_minor": amount} for code, amount in lines],
            "total_minor": sum(amount for _, amount in lines),
            "currency": "CNY",
            "due_date": f"{period}-15",
            "pay_url": notice_pay_url(unit_id, period, owner_id),
        },
    )


def work_notices(queue_url: str) -> list[dict[str, Any]]:
    """Run the notices worker over its queue until it is empty (a draft's tallies may approve the
    cycle, whose issue batches land on the same queue): the jobs it ran, in order."""
    from infra.local.events import LambdaContext, sqs_event
    from notices.handler import lambda_handler

    ran: list[dict[str, Any]] = []
    while bodies := drain(queue_url):
        for body in bodies:
            response = lambda_handler(sqs_event([body]), LambdaContext())
            assert response == {"batchItemFailures": []}, response
            ran.append(json.loads(body))
    return ran


def approved_cycle(period: str, *, now, version: str = "SH-2026-01") -> None:
    """A cycle a manager has approved, as the store keeps it (for tests of the issue itself)."""
    from propdesk.store.cycles import APPROVED, PREPARING, CycleRepository

    repo = CycleRepository()
    data = {"period": period, "batches": 0, "units": 0, "fee_standard_version": version}
    assert repo.create(period, data, now=now)
    assert repo.move(period, from_state=PREPARING, to_state=APPROVED, data=data, now=now)


def notice_pay_url(unit_id: str, period: str, owner_id: str) -> str:
    """A real pay link (signed with the tests' key, valid 30 days), as the notices worker makes it."""
    from datetime import UTC, datetime, timedelta

    from propdesk.payments.links import PayLinks, sign_pay_link
    from tests.testkeys import TEST_LINK_KEY

    token = sign_pay_link(
        bill_id=f"{unit_id}#{period}",
        unit_id=unit_id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        key=TEST_LINK_KEY.encode(),
        owner_id=owner_id,
    )
    return PayLinks(
        ttl=timedelta(days=30), key=TEST_LINK_KEY.encode(), base_url="https://pay.example.test"
    ).page_url(token)
