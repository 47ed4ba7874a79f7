"""The send ledger of outbound messages: one item per message id, claimed before each send so
only one invocation sends a message at a time, and updated per channel so a retry never resends
a channel that already went out."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from propdesk.store.accounts import Entry  # a ledger entry written with the message's outcome
from propdesk.store.conditions import written
from propdesk.store.models import CounterItem, LedgerItem, LinkItem, MessageItem

QUEUED = "queued"  # recorded by an earlier version before its first send; claimable
SENDING = "sending"  # claimed: an invocation holds the lease and is sending
SENT = "sent"
FAILED = "failed"  # last attempt failed; the queue retries it
UNDELIVERABLE = "undeliverable"  # no usable contact: nothing to retry
DROPPED = "dropped"  # its bill no longer needed it when it was due to go (paid meanwhile)
CAPPED = "capped"  # a nudge over the owner's weekly cap: recorded, never sent
HELD = "held"  # its SMS waits for the end of quiet hours (its e-mail may have gone)
TERMINAL = frozenset({SENT, UNDELIVERABLE, DROPPED, CAPPED})
# SENDING only once its lease has run out (a crashed holder); HELD once ``held_until`` has passed.
CLAIMABLE = (QUEUED, SENDING, FAILED)

# How long a claim keeps other invocations off a message. It must outlast the messenger
# function's timeout (150 s, infra/manifest.py) so a holder can never still be sending when its
# lease runs out; it also exceeds the messages queue's visibility timeout (180 s), so a crashed
# holder's message may fail one more receive (MessageInFlight) before it is taken over, which
# the queue's max receive count (5) leaves room for.
SEND_LEASE = timedelta(seconds=200)

_CLAIM_TRIES = 3
_CONDITION_FAILED = "ConditionalCheckFailed"  # a transaction's cancellation reason


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
    held_until: datetime | None = None  # set once the message was held for quiet hours


@dataclass(frozen=True)
class Outcome:
    """How a claimed message ends, written at once: its status, the last channel that went out
    (recorded here rather than on its own), the ledger entries, and the owner's contact count
    (``counter``: a nudge counted against the weekly cap)."""

    status: str
    note: str | None
    entries: Sequence[Entry] = ()
    sent: tuple[str, str] | None = None  # (channel, provider id)
    counter: str | None = None
    held_until: datetime | None = None  # with HELD
    request: str | None = None  # with HELD: the request to queue again on release


@dataclass(frozen=True)
class HeldMessage:
    message_id: str
    request: str  # JSON, as queued


def _record(item: MessageItem, claim: str | None = None) -> MessageRecord:
    return MessageRecord(
        message_id=item.message_id,
        template=item.template,
        status=item.status,
        channels=tuple(item.channels or ()),
        attempts=int(item.attempts or 0),
        note=item.note,
        claim=claim,
        held_until=item.held_until,
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
                        MessageItem.held.remove(),  # released: out of the held-index
                    ],
                    condition=MessageItem.message_id.does_not_exist()
                    | (
                        MessageItem.status.is_in(*CLAIMABLE)
                        & (MessageItem.lease_until.does_not_exist() | (MessageItem.lease_until < now))
                    )
                    | ((MessageItem.status == HELD) & (MessageItem.held_until <= now)),
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
            if current.status == HELD and current.held_until is not None and current.held_until > now:
                return _record(current)  # a copy during quiet hours: the release run queues it again
            if current.lease_until is not None and current.lease_until >= now:
                raise MessageInFlight(message_id)
            # Released or expired in between: try again.
        raise MessageInFlight(message_id)

    def get(self, message_id: str) -> MessageRecord | None:
        try:
            return _record(MessageItem.get(message_id, consistent_read=True))
        except MessageItem.DoesNotExist:
            return None

    def channel_sent(
        self, message_id: str, *, channel: str, provider_id: str, links: Sequence[LinkItem] = ()
    ) -> bool:
        """Record a channel that went out. Unconditional on the lease: a channel that went out is
        recorded whatever happened. Once only: a repeat (the finish's lost answer, retried) finds
        it there. ``links``: short links the next channel's text carries, stored in the same
        request (a transaction), each only if its code is new. False when that failed (a code
        taken, or the request refused): the channel is then recorded alone, and the caller draws
        other codes and stores them on their own."""
        condition = MessageItem.message_id.exists() & ~MessageItem.channels.contains(channel)
        if not links:
            written(
                lambda: MessageItem(message_id=message_id).update(
                    actions=_sent_actions(channel, provider_id), condition=condition
                )
            )
            return True
        try:
            with TransactWrite(connection=MessageItem._get_connection().connection) as transaction:
                transaction.update(
                    MessageItem(message_id=message_id),
                    actions=_sent_actions(channel, provider_id),
                    condition=MessageItem.message_id.exists(),
                )
                for link in links:
                    transaction.save(link, condition=LinkItem.key.does_not_exist())
        except TransactWriteError:
            # A code taken, or the request failed: the channel that went out is recorded alone
            # (a retry must not send it again) and the caller stores its links another way.
            self.channel_sent(message_id, channel=channel, provider_id=provider_id)
            return False
        return True

    def end(self, message_id: str, outcome: Outcome, *, now: datetime, claim: str) -> bool:
        """Write the message's outcome, its last channel, its ledger entries and its contact count
        in one transaction (one request), releasing the lease. False when the lease had passed to
        another invocation (which finishes the message): its last channel, if one went out, is
        then recorded on its own."""
        actions = [MessageItem.status.set(outcome.status), MessageItem.attempts.add(1)]
        actions.append(MessageItem.note.set(outcome.note) if outcome.note else MessageItem.note.remove())
        if outcome.sent is not None:
            actions.extend(_sent_actions(*outcome.sent))
        if outcome.status == SENT:
            actions.append(MessageItem.sent_at.set(now))
        if outcome.status == HELD:
            assert outcome.held_until is not None and outcome.request is not None
            actions.extend(
                [
                    MessageItem.held_until.set(outcome.held_until),
                    MessageItem.held.set(HELD),
                    MessageItem.request.set(outcome.request),
                ]
            )
        actions.extend([MessageItem.lease_until.remove(), MessageItem.claimed_by.remove()])
        kinds: list[str] = []  # pynamodb sends puts first, then updates; reasons follow that order
        try:
            with TransactWrite(connection=MessageItem._get_connection().connection) as transaction:
                for entry in outcome.entries:
                    ledger_item = LedgerItem(
                        entity=entry.entity, seq=entry.key, event=entry.event, at=entry.at, data=entry.data
                    )
                    transaction.save(ledger_item, condition=LedgerItem.seq.does_not_exist())
                    kinds.append("entry")
                transaction.update(
                    MessageItem(message_id=message_id),
                    actions=actions,
                    condition=MessageItem.claimed_by == claim,
                )
                kinds.append("message")
                if outcome.counter is not None:
                    transaction.update(CounterItem(outcome.counter), actions=[CounterItem.value.add(1)])
                    kinds.append("counter")
        except TransactWriteError as exc:
            # The last channel went out whatever the outcome's write did: record it on its own, so
            # neither the retry (the write failed) nor the lease's new holder sends it again.
            if outcome.sent is not None:
                self.channel_sent(message_id, channel=outcome.sent[0], provider_id=outcome.sent[1])
            reasons = [reason.code if reason else None for reason in (exc.cancellation_reasons or [])]
            if _CONDITION_FAILED not in reasons or kinds[reasons.index(_CONDITION_FAILED)] != "message":
                raise  # the store failed (retried by the queue), or an entry written twice: a bug
            return False
        return True

    def finish(self, message_id: str, *, status: str, note: str | None, now: datetime, claim: str) -> bool:
        """Record a final status with nothing else and release the lease (``end``, plainly)."""
        return self.end(message_id, Outcome(status, note), now=now, claim=claim)

    def held_due(self, now: datetime) -> list[HeldMessage]:
        """Messages whose quiet hours are over: one Query of the sparse held-index."""
        return [
            HeldMessage(item.message_id, item.request or "")
            for item in MessageItem.held_index.query(HELD, MessageItem.held_until <= now)
            if item.request
        ]

    def sms_owner(self, sms_id: str) -> str | None:
        """The owner a sent SMS went to, by the provider's message id (sms-index)."""
        for item in MessageItem.sms_index.query(sms_id, limit=1):
            return item.owner_id
        return None

    def attempt_failed(self, message_id: str, *, note: str, claim: str) -> bool:
        """Record a failed attempt and release the lease so the queue's retry can claim it.
        False when the lease had passed to another invocation (its outcome then stands)."""
        return self._release(
            message_id,
            [MessageItem.status.set(FAILED), MessageItem.attempts.add(1), MessageItem.note.set(note)],
            claim=claim,
        )

    def _release(self, message_id: str, actions: list, *, claim: str) -> bool:
        actions = [*actions, MessageItem.lease_until.remove(), MessageItem.claimed_by.remove()]
        item = MessageItem(message_id=message_id)
        return written(lambda: item.update(actions=actions, condition=MessageItem.claimed_by == claim))


def _sent_actions(channel: str, provider_id: str) -> list:
    actions = [
        MessageItem.channels.set(MessageItem.channels.append([channel])),
        MessageItem.provider_ids.set(MessageItem.provider_ids.append([f"{channel}:{provider_id}"])),
    ]
    if channel == "sms":
        actions.append(MessageItem.sms_id.set(provider_id))
    return actions
