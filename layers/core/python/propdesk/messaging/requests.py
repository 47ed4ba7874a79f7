"""What a service puts on the messages queue for the messenger to render and send.

One ``MessageRequest`` per owner and subject. ``message_id`` is deterministic (template +
subject), so a rerun that queues the same request again is recognised by the messenger and
sent once. The request carries no contact details: the messenger looks them up by owner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from propdesk.aws import ConfigurationMissing, client

Template = Literal["bill_notice", "payment_receipt", "overdue_reminder", "work_order"]
Channel = Literal["email", "sms"]


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(min_length=1, max_length=200)
    template: Template
    owner_id: str | None = None  # owner recipient (looked up for contact and locale)
    # Non-owner recipient (a department's mailbox), used when owner_id is None.
    to_email: str | None = None
    channels: tuple[Channel, ...] = ("email", "sms")
    context: dict[str, Any] = Field(default_factory=dict)


def enqueue_messages(requests: Iterable[MessageRequest], *, queue_url: str | None) -> int:
    """Send requests to the messages queue in batches of ten; returns how many were queued."""
    if not queue_url:
        raise ConfigurationMissing("messages queue not configured")
    sqs = client("sqs")
    batch: list[dict[str, str]] = []
    sent = 0

    def flush() -> None:
        nonlocal sent
        if not batch:
            return
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
        failed = response.get("Failed") or []
        if failed:
            # Raise so the caller's retry sends them again; the messenger dedups by message_id.
            raise RuntimeError(f"{len(failed)} messages were not queued")
        sent += len(batch)
        batch.clear()

    for request in requests:
        batch.append({"Id": str(len(batch)), "MessageBody": request.model_dump_json()})
        if len(batch) == 10:
            flush()
    flush()
    return sent


def parse_message(body: str) -> MessageRequest:
    return MessageRequest.model_validate(json.loads(body))
