"""What a service puts on the messages queue for the messenger to render and send.

One ``MessageRequest`` per owner and subject. ``message_id`` is deterministic (template +
subject), so a rerun that queues the same request again is recognised by the messenger and
sent once. The request carries no contact details: the messenger looks them up by owner.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from propdesk.naming import MESSAGES_QUEUE  # where services put requests; the messenger consumes it

__all__ = ["MESSAGES_QUEUE", "MessageRequest", "parse_message"]

Template = Literal[
    "bill_notice",
    "payment_receipt",
    "overdue_reminder",
    "pre_due_reminder",
    "work_order",
    "payment_refunded",
    "payment_failed",
    "pay_link",
    "autopay_notice",
    "bill_voided",
    "standard_published",
]
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
    # A bill id: the message is only worth sending while that bill still owes (a reminder, a
    # ladder step). The messenger reads the bill just before sending and drops the message if
    # it was paid meanwhile.
    while_unpaid: str | None = Field(default=None, min_length=1, max_length=120)
    # The bill a notice announces: read the same way, the message is dropped if the bill was
    # voided (its cycle withdrawn) before it went.
    while_issued: str | None = Field(default=None, min_length=1, max_length=120)


def parse_message(body: str) -> MessageRequest:
    return MessageRequest.model_validate(json.loads(body))
