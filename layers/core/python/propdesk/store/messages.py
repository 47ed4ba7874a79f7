"""The send ledger of outbound messages: one item per message id, created conditionally so a
message queued twice is recognised, and updated per channel so a retry never resends a channel
that already went out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import PutError

from propdesk.store.models import MessageItem

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"  # last attempt failed; the queue retries it
UNDELIVERABLE = "undeliverable"  # no usable contact: nothing to retry
TERMINAL = frozenset({SENT, UNDELIVERABLE})


@dataclass(frozen=True)
class MessageRecord:
    message_id: str
    template: str
    status: str
    channels: tuple[str, ...]  # channels already sent
    attempts: int
    note: str | None


def _record(item: MessageItem) -> MessageRecord:
    return MessageRecord(
        message_id=item.message_id,
        template=item.template,
        status=item.status,
        channels=tuple(item.channels or ()),
        attempts=int(item.attempts or 0),
        note=item.note,
    )


class MessageRepository:
    def begin(self, *, message_id: str, template: str, recipient: str, now: datetime) -> MessageRecord:
        """The message's record, created as ``queued`` on first sight."""
        item = MessageItem(
            message_id=message_id, template=template, owner_id=recipient, status=QUEUED, created_at=now
        )
        try:
            item.save(condition=MessageItem.message_id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return _record(MessageItem.get(message_id, consistent_read=True))
        return _record(item)

    def get(self, message_id: str) -> MessageRecord | None:
        try:
            return _record(MessageItem.get(message_id, consistent_read=True))
        except MessageItem.DoesNotExist:
            return None

    def channel_sent(self, message_id: str, *, channel: str, provider_id: str) -> None:
        MessageItem(message_id=message_id).update(
            actions=[
                MessageItem.channels.set(MessageItem.channels.append([channel])),
                MessageItem.provider_ids.set(MessageItem.provider_ids.append([f"{channel}:{provider_id}"])),
            ],
            condition=MessageItem.message_id.exists(),
        )

    def attempt_failed(self, message_id: str, *, note: str) -> None:
        MessageItem(message_id=message_id).update(
            actions=[MessageItem.status.set(FAILED), MessageItem.attempts.add(1), MessageItem.note.set(note)],
            condition=MessageItem.message_id.exists(),
        )

    def finish(self, message_id: str, *, status: str, note: str | None, now: datetime) -> None:
        actions = [MessageItem.status.set(status), MessageItem.attempts.add(1)]
        actions.append(MessageItem.note.set(note) if note else MessageItem.note.remove())
        if status == SENT:
            actions.append(MessageItem.sent_at.set(now))
        MessageItem(message_id=message_id).update(actions=actions, condition=MessageItem.message_id.exists())
