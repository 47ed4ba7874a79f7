"""The messenger: renders a queued message in the recipient's locale and sends it once.

Per message: the send record is claimed first, a conditional write that takes the message
under a lease only when it is new or waiting for a retry, so two copies of one message
processed at once never both send (the second raises ``MessageInFlight`` and the queue
redelivers it; a repeat of a sent message is skipped; a crashed holder's message is taken
over once its lease runs out). Channels are chosen from what the recipient can receive
(fallback SMS <-> email, the choice recorded), each channel that goes out is recorded at once (a retry resends only
what failed), and a provider failure is raised so the queue retries and finally keeps the
message in its dead-letter queue (as ``SendFailed``, whose text carries no contact). Logs carry
ids, templates and channels, never contacts or names.

Respecting owners (issue 8): an SMS due in the property's quiet hours is held (the message is
recorded ``held`` with the request and the end of the quiet hours; its e-mail goes now) and the
release run queues it again when they end, when it re-reads its bill like any message. A nudge
(a reminder) over the owner's weekly cap is recorded ``capped`` and not sent. A channel marked
unreachable (bounce, complaint, failed SMS) is not used; the other one is.

DynamoDB requests: the batch's owners and contact counters are read once (``prepare``: one
BatchGetItem); per message, the claim, the record of each channel but the last as it goes out
(so a crash never resends it), and one transaction that writes the outcome, the last channel, the
ledger entries and the contact count: 2 requests for one channel, 3 for two.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from propdesk.config import PropertyConfig
from propdesk.domain.billing import STATUS_VOID, Bill
from propdesk.domain.units import Owner
from propdesk.messaging.channels import EMAIL, SMS, Delivery, choose_channels
from propdesk.messaging.courtesy import contact_week, is_nudge, may_be_held, quiet_until
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.messaging.senders import EmailSender, SesEmailSender, SmsNotPossible, SmsSender, SnsSmsSender
from propdesk.messaging.templates import Rendered, render
from propdesk.queues import Producer, QueueProducer
from propdesk.services.short_links import Reserved, ShortLinks
from propdesk.store import ledger
from propdesk.store.bills import BillRepository
from propdesk.store.links import link_item, store_link
from propdesk.store.messages import (
    CAPPED,
    DROPPED,
    HELD,
    SENT,
    TERMINAL,
    UNDELIVERABLE,
    Entry,
    MessageInFlight,
    MessageRecord,
    MessageRepository,
)
from propdesk.store.messages import Outcome as Ending
from propdesk.store.owners import OwnerRepository, contact_counter

logger = Logger(child=True)

DEPARTMENT_RECIPIENT = "department"
_UNSENT_LOG = {DROPPED: "message dropped", UNDELIVERABLE: "message undeliverable", CAPPED: "message capped"}


class SendFailed(Exception):
    """A channel's provider failed (the queue retries the message). Its text names only the
    channels and the providers' error codes, never the recipient: a provider's own message may
    quote the address or number, so it is not kept as the cause (it is on ``errors`` in memory)."""

    def __init__(self, failures: tuple[tuple[str, str], ...], errors: tuple[Exception, ...] = ()) -> None:
        super().__init__("; ".join(f"{channel} failed: {code}" for channel, code in failures))
        self.failures = failures
        self.errors = errors

    @property
    def code(self) -> str:
        return ", ".join(code for _channel, code in self.failures)

    @classmethod
    def of(cls, channel: str, exc: Exception) -> SendFailed:
        code = type(exc).__name__
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code") or code)
        return cls(((channel, code),), (exc,))

    @classmethod
    def combined(cls, failures: list[SendFailed]) -> SendFailed:
        return cls(
            tuple(f for failure in failures for f in failure.failures),
            tuple(e for failure in failures for e in failure.errors),
        )


class Pacer:
    """Keeps each channel under ``rate`` sends per second by waiting between sends."""

    def __init__(
        self,
        rate: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        now = self._clock()
        ready = self._next.get(channel, now)
        if ready > now:
            self._sleep(ready - now)
            now = ready
        self._next[channel] = now + self._interval


@dataclass(frozen=True)
class Recipient:
    key: str  # owner id, or "department"
    name: str
    email: str | None
    phone: str | None
    sms_consent: bool
    locale: str
    email_marked: str | None = None  # why the address is not used (bounced, complained)
    phone_marked: str | None = None  # why the number is not used (sms_failed)


def _owner_recipient(owner: Owner) -> Recipient:
    return Recipient(
        key=owner.owner_id,
        name=owner.name,
        email=owner.email,
        phone=owner.phone,
        sms_consent=owner.sms_consent,
        locale=owner.locale,
        email_marked=owner.email_mark.reason if owner.email_mark else None,
        phone_marked=owner.phone_mark.reason if owner.phone_mark else None,
    )


@dataclass(frozen=True)
class Outcome:
    message_id: str
    # sent | undeliverable | dropped (its bill paid meanwhile) | held (its SMS waits for the end of
    # quiet hours) | capped (a nudge over the weekly cap) | skipped (already done)
    status: str
    channels: tuple[str, ...]
    note: str | None = None


class Messenger:
    def __init__(
        self,
        config: PropertyConfig,
        *,
        owners: OwnerRepository | None = None,
        messages: MessageRepository | None = None,
        email: EmailSender | None = None,
        sms: SmsSender | None = None,
        pacer: Pacer | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        bills: Callable[[str], Bill | None] | None = None,
        configuration_set: str | None = None,
    ) -> None:
        self._config = config
        self._owners = owners or OwnerRepository()
        self._messages = messages or MessageRepository()
        self._email = email or SesEmailSender(
            config.messaging.sender_email, configuration_set=configuration_set
        )
        self._sms = sms or SnsSmsSender(config.messaging.sms_sender_id)
        self._pacer = pacer or Pacer(config.messaging.max_send_rate)
        self._now = now
        self._bills = bills or BillRepository().get
        # The current batch's owners and contact counts (``prepare``); a message outside a
        # prepared batch reads its own.
        self._batch_owners: dict[str, Owner | None] = {}
        self._counts: dict[str, int] = {}
        self._batch_bills: dict[str, Bill | None] = {}

    def prepare(self, requests: list[MessageRequest]) -> None:
        """Read the batch's owners, the contact counts of those getting a nudge this week and the
        bills the messages are about, in one BatchGetItem: each message then reads none."""
        owner_ids = [r.owner_id for r in requests if r.owner_id]
        week = self._week()
        counters = [
            contact_counter(r.owner_id, week) for r in requests if r.owner_id and is_nudge(r.template)
        ]
        bill_ids = [b for r in requests for b in (r.while_unpaid, r.while_issued) if b]
        owners, counts, bills = self._owners.for_messages(owner_ids, counters, bill_ids)
        self._batch_owners = {owner_id: owners.get(owner_id) for owner_id in owner_ids}
        self._batch_bills = {bill_id: bills.get(bill_id) for bill_id in bill_ids}
        self._counts = {name: counts.get(name, 0) for name in counters}

    def _week(self) -> str:
        return contact_week(self._now(), time_zone=self._config.time_zone)

    def _recipient(self, request: MessageRequest) -> Recipient | None:
        if request.owner_id:
            if request.owner_id in self._batch_owners:
                owner = self._batch_owners[request.owner_id]
            else:
                owner = self._owners.get(request.owner_id)
            return _owner_recipient(owner) if owner else None
        if request.to_email:
            code = str(request.context.get("department") or "")
            name = next(
                (d.name.get(self._config.default_locale) for d in self._config.departments if d.code == code),
                "",
            )
            return Recipient(
                key=DEPARTMENT_RECIPIENT,
                name=name or self._config.name.get(self._config.default_locale),
                email=request.to_email,
                phone=None,
                sms_consent=False,
                locale=self._config.default_locale,
            )
        return None

    def _entries(self, request: MessageRequest, event: str, data: dict) -> list[Entry]:
        at = self._now()
        entries = [Entry(ledger.message_entity(request.message_id), event, event, at, data)]
        # The bill's ledger tells what its owner was told; a receipt (of a payment that may span
        # bills, or be credit only) is told on the account's.
        bill_id, unit_id = request.context.get("bill_id"), request.context.get("unit_id")
        entity = (
            ledger.bill_entity(bill_id)
            if bill_id
            else ledger.account_entity(unit_id)
            if unit_id and request.context.get("receipt_no")
            else None
        )
        if entity:
            entries.append(
                Entry(entity, f"{event}#{request.message_id}", f"{request.template}_{event}", at, data)
            )
        return entries

    def deliver(self, request: MessageRequest) -> Outcome:
        """Send the message unless it is done; raises ``MessageInFlight`` (retry later) while
        another invocation is sending it, and ``SendFailed`` when a channel failed (retried)."""
        recipient = self._recipient(request)
        record = self._messages.claim(
            message_id=request.message_id,
            template=request.template,
            recipient=recipient.key if recipient else (request.owner_id or DEPARTMENT_RECIPIENT),
            now=self._now(),
        )
        if record.claim is None or record.status in TERMINAL:
            logger.info("message already handled", message_id=request.message_id, status=record.status)
            return Outcome(request.message_id, "skipped", record.channels, record.note)
        try:
            return self._send(request, recipient, record)
        except BaseException as exc:
            # Record the failed attempt and release the lease so the queue's retry can take it.
            note = str(exc) if isinstance(exc, SendFailed) else f"failed: {type(exc).__name__}"
            self._messages.attempt_failed(request.message_id, note=note, claim=record.claim)
            raise

    def _send(self, request: MessageRequest, recipient: Recipient | None, record: MessageRecord) -> Outcome:
        assert record.claim is not None
        if request.while_issued and not self._still_issued(request.while_issued):
            return self._end_unsent(
                request, DROPPED, "its bill was withdrawn before it went", claim=record.claim
            )
        if request.while_unpaid and not self._still_owed(request.while_unpaid):
            return self._end_unsent(request, DROPPED, "its bill was paid before it went", claim=record.claim)
        if recipient is None:
            delivery = Delivery(channels=(), note="undeliverable: unknown recipient")
        else:
            delivery = choose_channels(
                request.channels,
                has_email=bool(recipient.email),
                has_phone=bool(recipient.phone),
                sms_consent=recipient.sms_consent,
                email_marked=recipient.email_marked,
                phone_marked=recipient.phone_marked,
            )
        if not delivery.channels:
            return self._end_unsent(request, UNDELIVERABLE, delivery.note, claim=record.claim)
        assert recipient is not None

        # A message held for quiet hours was admitted then (and counted): it only finishes now.
        admitted = record.held_until is not None
        counter = self._counter(request) if not admitted else None
        if counter is not None and self._counts.get(counter, 0) >= self._config.messaging.weekly_cap:
            # Not sent, and not deferred either: a nudge is about the moment (the next step of the
            # ladder, or the due date, brings its own), and one saved for next week would arrive
            # stale on top of that week's. The record says it was capped, for staff and the bill.
            return self._end_unsent(
                request,
                CAPPED,
                f"weekly cap of {self._config.messaging.weekly_cap} nudges reached",
                claim=record.claim,
            )

        done = list(record.channels)
        notes = [delivery.note] if delivery.note else []
        # E-mail first: the short link an SMS carries is stored with the e-mail's record.
        pending = sorted((c for c in delivery.channels if c not in done), key=lambda c: c != EMAIL)
        held_until = None if admitted else self._quiet_until(request, pending)
        if held_until is not None:
            pending.remove(SMS)
            notes.append("sms held for quiet hours")

        # The SMS's short link, drawn only when an SMS goes now (not for e-mail alone, nor for an
        # SMS held for quiet hours: it gets its link when it is released), and stored before the
        # SMS goes: with the e-mail's record when an e-mail went first, else on its own.
        links: list[Reserved] = []
        rendered = self._render(request, recipient, links if SMS in pending else None)
        last: tuple[str, str] | None = None  # the latest channel sent, recorded with the outcome
        failures: list[SendFailed] = []
        while pending:
            channel = pending.pop(0)
            stored = [link_item(link) for link in links] if channel == SMS else []
            if last is not None:
                # Record the one before at once, before trying another: a crash never resends it.
                if not self._messages.channel_sent(
                    request.message_id, channel=last[0], provider_id=last[1], links=stored
                ):
                    links.clear()  # a code was taken (odds 2**-65): drawn again, the SMS rendered again
                    rendered = self._render(request, recipient, links)
                    stored = [link_item(link) for link in links]
                else:
                    stored = []
                last = None
            if stored and not all(store_link(item) for item in stored):
                raise SendFailed.of(SMS, RuntimeError("short-link code taken"))  # retried, new code
            if channel == SMS:
                links.clear()  # stored: an SMS tried again (after a fallback) needs none more
            try:
                self._pacer.wait(channel)
                if channel == EMAIL:
                    provider_id = self._email.send(
                        to=recipient.email or "",
                        subject=rendered.subject,
                        text=rendered.text,
                        html=rendered.html,
                        tags={"owner": recipient.key, "template": request.template},
                    )
                else:
                    provider_id = self._sms.send(phone=recipient.phone or "", text=rendered.sms)
            except SmsNotPossible as exc:
                notes.append(f"sms refused by provider ({exc})")
                if (
                    EMAIL not in done
                    and EMAIL not in pending
                    and recipient.email
                    and not recipient.email_marked
                ):
                    notes.append("fallback to email")
                    pending.append(EMAIL)
                continue
            except Exception as exc:
                # Try the other channels first; the message then fails as a whole and is retried.
                failures.append(SendFailed.of(channel, exc))
                logger.warning(
                    "send failed, will retry",
                    message_id=request.message_id,
                    template=request.template,
                    channel=channel,
                    error=failures[-1].code,
                )
                continue
            last = (channel, provider_id)
            done.append(channel)
        if failures:
            if last is not None:
                self._messages.channel_sent(request.message_id, channel=last[0], provider_id=last[1])
            # Raised without its cause: a provider's error text may quote the recipient's address,
            # and failed records are logged with their traceback.
            raise SendFailed.combined(failures) from None

        note = "; ".join(notes) or None
        if held_until is not None:
            return self._end_held(
                request, done, note, held_until, last=last, counter=counter, claim=record.claim
            )
        if not done:
            return self._end_unsent(request, UNDELIVERABLE, note, claim=record.claim)
        data = {"template": request.template, "channels": done, "note": note or ""}
        self._end(
            request,
            Ending(SENT, note, self._entries(request, "sent", data), sent=last, counter=counter),
            claim=record.claim,
        )
        logger.info(
            "message sent", message_id=request.message_id, template=request.template, channels=done, note=note
        )
        return Outcome(request.message_id, SENT, tuple(done), note)

    def _counter(self, request: MessageRequest) -> str | None:
        """The owner's contact counter this week, for a nudge; None for an essential message."""
        if not request.owner_id or not is_nudge(request.template):
            return None
        counter = contact_counter(request.owner_id, self._week())
        if counter not in self._counts:  # outside a prepared batch
            self._counts[counter] = self._owners.get_with_counts((), (counter,))[1].get(counter, 0)
        return counter

    def _quiet_until(self, request: MessageRequest, pending: list[str]) -> datetime | None:
        """Quiet hours are the owners': a message to staff (a work order) is never held."""
        if SMS not in pending or not request.owner_id or not may_be_held(request.template):
            return None
        return quiet_until(
            self._now(), time_zone=self._config.time_zone, quiet=self._config.messaging.quiet_hours
        )

    def _end(self, request: MessageRequest, ending: Ending, *, claim: str) -> None:
        if not self._messages.end(request.message_id, ending, now=self._now(), claim=claim):
            # Our lease ran out and another invocation took the message over: it finishes it.
            logger.warning(
                "send lease lost before finishing", message_id=request.message_id, status=ending.status
            )
            return
        if ending.counter is not None:
            self._counts[ending.counter] = self._counts.get(ending.counter, 0) + 1

    def _end_held(
        self,
        request: MessageRequest,
        done: list[str],
        note: str | None,
        held_until: datetime,
        *,
        last: tuple[str, str] | None,
        counter: str | None,
        claim: str,
    ) -> Outcome:
        data = {"template": request.template, "channels": done, "until": held_until.isoformat()}
        self._end(
            request,
            Ending(
                HELD,
                note,
                self._entries(request, "held", data),
                sent=last,
                counter=counter,
                held_until=held_until,
                request=request.model_dump_json(),
            ),
            claim=claim,
        )
        logger.info(
            "sms held for quiet hours",
            message_id=request.message_id,
            template=request.template,
            channels=done,
            until=held_until.isoformat(),
        )
        return Outcome(request.message_id, HELD, tuple(done), note)

    def _bill(self, bill_id: str) -> Bill | None:
        """The bill as read with the batch (just before sending), or read now."""
        return self._batch_bills[bill_id] if bill_id in self._batch_bills else self._bills(bill_id)

    def _render(
        self, request: MessageRequest, recipient: Recipient, links: list[Reserved] | None
    ) -> Rendered:
        """The message's parts; its pay link shortened for the SMS when ``links`` collects the
        short links drawn (stored by the caller before the SMS goes)."""

        def shorten(url: str) -> str:
            short, reserved = ShortLinks().reserve(url)
            if reserved is not None and links is not None:
                links.append(reserved)
            return short

        return render(
            request.template,
            locale=recipient.locale,
            context=request.context,
            recipient_name=recipient.name,
            config=self._config,
            short_link=shorten if links is not None else None,
        )

    def _still_owed(self, bill_id: str) -> bool:
        """Read just before sending: the bill is open and owes something."""
        bill = self._bill(bill_id)
        return bill is not None and bill.is_open and bill.total_minor > bill.paid_minor

    def _still_issued(self, bill_id: str) -> bool:
        """Read just before sending: the bill stands (not voided), paid or not."""
        bill = self._bill(bill_id)
        return bill is not None and bill.status != STATUS_VOID

    def _end_unsent(self, request: MessageRequest, status: str, note: str | None, *, claim: str) -> Outcome:
        """Dropped (its bill paid), undeliverable (no usable contact) or capped: nothing goes out."""
        data = {"template": request.template, "note": note or ""}
        self._end(request, Ending(status, note, self._entries(request, status, data)), claim=claim)
        log = logger.warning if status == UNDELIVERABLE else logger.info
        log(_UNSENT_LOG[status], message_id=request.message_id, template=request.template, note=note)
        return Outcome(request.message_id, status, (), note)


def release_held(
    *,
    now: datetime,
    messages: MessageRepository | None = None,
    queue: Producer | None = None,
) -> int:
    """The end of quiet hours: queue again every held message whose time has come (one Query of
    the held-index). The messenger claims each (once: a copy queued twice is skipped), re-reads
    its bill and sends what is left (its SMS). Returns how many were queued."""
    due = (messages or MessageRepository()).held_due(now)
    if due:
        (queue or QueueProducer(MESSAGES_QUEUE)).send([json.loads(held.request) for held in due])
    logger.info("held messages released", count=len(due))
    return len(due)


__all__ = [
    "EMAIL",
    "SMS",
    "MessageInFlight",
    "Messenger",
    "Outcome",
    "Pacer",
    "Recipient",
    "SendFailed",
    "release_held",
]
