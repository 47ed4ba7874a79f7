"""The send ledger of outbound messages: one item per message id, claimed before each send so
only one invocation sends a message at a time, and updated per channel so a retry never resends
a channel that already went out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from propdesk.store.conditions import written
from propdesk.store.models import MessageItem

QUEUED = "queued"  # recorded by an earlier version before its first send; claimable
SENDING = "sending"  # claimed: an invocation holds the lease and is sending
SENT = "sent"
FAILED = "failed"  # last attempt failed; the queue retries it
UNDELIVERABLE = "undeliverable"  # no usable contact: nothing to retry
DROPPED = "dropped"  # its bill no longer needed it when it was due to go (paid meanwhile)
TERMINAL = frozenset({SENT, UNDELIVERABLE, DROPPED})
CLAIMABLE = (QUEUED, SENDING, FAILED)  # SENDING only once its lease has run out (a crashed holder)

# How long a claim keeps other invocations off a message. It must outlast the messenger
# function's timeout (150 s, infra/manifest.py) so a holder can never still be sending when its
# lease runs out; it also exceeds the messages queue's visibility timeout (180 s), so a crashed
# holder's message may fail one more receive (MessageInFlight) before it is taken over, which
# the queue's max receive count (5) leaves room for.
SEND_LEASE = timedelta(seconds=200)

_CLAIM_TRIES = 3


class MessageInFlight(Exception):
    """Another invocation holds a live lease on this message: retry later (the queue redelivers)."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id} is being sent by another invocation")
        self.message_id = message_id


@dataclass(frozen=True)
class MessageRecord:
    message_id: str
    template: str
    status: str
    channels: tuple[str, ...]  # channels already sent
    attempts: int
    note: str | None
    claim: str | None = None  # this invocation's lease token, when it holds the claim


def _record(item: MessageItem, claim: str | None = None) -> MessageRecord:
    return MessageRecord(
        message_id=item.message_id,
        template=item.template,
        status=item.status,
        channels=tuple(item.channels or ()),
        attempts=int(item.attempts or 0),
        note=item.note,
        claim=claim,
    )


class MessageRepository:
    def claim(
        self,
        *,
        message_id: str,
        template: str,
        recipient: str,
        now: datetime,
        lease: timedelta = SEND_LEASE,
    ) -> MessageRecord:
        """Take the message for sending: created on first sight, or taken over when it is
        queued/failed (or its holder's lease ran out), as ``sending`` under a lease until
        ``now + lease``. Returns the claimed record (``claim`` set), or the record as it is when
        it is already sent or undeliverable (``claim`` None: nothing to do). Raises
        ``MessageInFlight`` while another invocation holds a live lease."""
        token = uuid.uuid4().hex
        for _ in range(_CLAIM_TRIES):
            item = MessageItem(message_id=message_id)
            claimed = written(
                lambda item=item: item.update(
                    actions=[
                        MessageItem.template.set(MessageItem.template | template),
                        MessageItem.owner_id.set(MessageItem.owner_id | recipient),
                        MessageItem.created_at.set(MessageItem.created_at | now),
                        MessageItem.channels.set(MessageItem.channels | []),
                        MessageItem.provider_ids.set(MessageItem.provider_ids | []),
                        MessageItem.attempts.set(MessageItem.attempts | 0),
                        MessageItem.status.set(SENDING),
                        MessageItem.lease_until.set(now + lease),
                        MessageItem.claimed_by.set(token),
                    ],
                    condition=MessageItem.message_id.does_not_exist()
                    | (
                        MessageItem.status.is_in(*CLAIMABLE)
                        & (MessageItem.lease_until.does_not_exist() | (MessageItem.lease_until < now))
                    ),
                )
            )
            if claimed:
                return _record(item, claim=token)
            try:
                current = MessageItem.get(message_id, consistent_read=True)
            except MessageItem.DoesNotExist:
                continue  # gone in between: try again
            if current.status in TERMINAL:
                return _record(current)
            if current.lease_until is not None and current.lease_until >= now:
                raise MessageInFlight(message_id)
            # Released or expired in between: try again.
        raise MessageInFlight(message_id)

    def get(self, message_id: str) -> MessageRecord | None:
        try:
            return _record(MessageItem.get(message_id, consistent_read=True))
        except MessageItem.DoesNotExist:
            return None

    def channel_sent(self, message_id: str, *, channel: str, provider_id: str) -> None:
        # Unconditional on the lease: a channel that went out is recorded whatever happened.
        MessageItem(message_id=message_id).update(
            actions=[
                MessageItem.channels.set(MessageItem.channels.append([channel])),
                MessageItem.provider_ids.set(MessageItem.provider_ids.append([f"{channel}:{provider_id}"])),
            ],
            condition=MessageItem.message_id.exists(),
        )

    def attempt_failed(self, message_id: str, *, note: str, claim: str) -> bool:
        """Record a failed attempt and release the lease so the queue's retry can claim it.
        False when the lease had passed to another invocation (its outcome then stands)."""
        return self._release(
            message_id,
            [MessageItem.status.set(FAILED), MessageItem.attempts.add(1), MessageItem.note.set(note)],
            claim=claim,
        )

    def finish(self, message_id: str, *, status: str, note: str | None, now: datetime, claim: str) -> bool:
        """Record the final status and release the lease. False when the lease had passed to
        another invocation (which finishes the message itself)."""
        actions = [MessageItem.status.set(status), MessageItem.attempts.add(1)]
        actions.append(MessageItem.note.set(note) if note else MessageItem.note.remove())
        if status == SENT:
            actions.append(MessageItem.sent_at.set(now))
        return self._release(message_id, actions, claim=claim)

    def _release(self, message_id: str, actions: list, *, claim: str) -> bool:
        actions = [*actions, MessageItem.lease_until.remove(), MessageItem.claimed_by.remove()]
        item = MessageItem(message_id=message_id)
        return written(lambda: item.update(actions=actions, condition=MessageItem.claimed_by == claim))
